//! The Pipedrive client against the sandbox CRM served by the real app: every write the
//! outbox worker needs, the look-ups that follow an ambiguous failure, and the error class
//! of every fault the sandbox can inject.

use std::time::{Duration, Instant};

use crate::common::{TestApp, TestDb};
use crate::crm_support::{client, faults, journal};
use chrono::NaiveDate;
use concierge::crm::{
    Crm, CrmError, NewActivity, NewLeadOrDeal, NewNote, NewOrg, NewPerson, RateScope, Target,
};
use concierge::playbook::model::Money;
use serde_json::json;

const SLOW: Duration = Duration::from_secs(15);

fn lead(title: &str, person_id: i64, org_id: Option<i64>) -> NewLeadOrDeal {
    NewLeadOrDeal {
        title: title.into(),
        person_id: Some(person_id),
        org_id,
        owner_id: Some(1002),
        value: Some(Money {
            amount: 4800.0,
            currency: "EUR".into(),
        }),
        expected_close_date: NaiveDate::from_ymd_opt(2026, 9, 30),
        label: Some("hot".into()),
    }
}

fn person(name: &str, email: &str) -> NewPerson {
    NewPerson {
        name: name.into(),
        email: Some(email.into()),
        phone: Some("+372 5555 1234".into()),
        org_id: None,
        owner_id: Some(1002),
    }
}

async fn app() -> TestApp {
    TestApp::spawn(TestDb::sqlite()).await
}

#[tokio::test]
async fn a_qualified_lead_is_written_once_and_found_again() {
    let app = app().await;
    let crm = client(&app, SLOW).await;

    let me = crm.me().await.unwrap();
    assert_eq!(me.company_id, 1000);
    assert!(me.user.is_admin);
    let users = crm.users().await.unwrap();
    assert_eq!(users.len(), 4);
    assert_eq!(users.iter().filter(|u| u.is_admin).count(), 1);

    assert_eq!(crm.find_org_by_name("Acme Ltd").await.unwrap(), None);
    let org = crm
        .create_org(&NewOrg {
            name: "Acme Ltd".into(),
            address: Some("Narva mnt 5, Tallinn".into()),
            owner_id: None,
        })
        .await
        .unwrap();
    assert_eq!(crm.find_org_by_name("acme ltd").await.unwrap(), Some(org));

    assert_eq!(
        crm.find_person_by_email("ann@acme.test").await.unwrap(),
        None
    );
    let ann = crm
        .create_person(&NewPerson {
            org_id: Some(org),
            ..person("Ann Smith", "ann@acme.test")
        })
        .await
        .unwrap();
    // De-duplication finds her by e-mail (any case), and only her.
    assert_eq!(
        crm.find_person_by_email("ANN@acme.test").await.unwrap(),
        Some(ann)
    );
    assert_eq!(
        crm.find_person_by_email("an@acme.test").await.unwrap(),
        None
    );
    assert_eq!(
        crm.find_person_by_name("Ann Smith").await.unwrap(),
        Some(ann)
    );

    let l = lead("Website chat: Ann", ann, Some(org));
    let lead_id = crm.create_lead(&l).await.unwrap();
    assert!(uuid::Uuid::parse_str(&lead_id).is_ok(), "{lead_id}");
    assert_eq!(crm.find_lead(&l).await.unwrap(), Some(lead_id.clone()));
    let other = NewLeadOrDeal {
        title: "Another".into(),
        ..l.clone()
    };
    assert_eq!(crm.find_lead(&other).await.unwrap(), None);

    let activity = NewActivity {
        subject: "Call Ann back".into(),
        kind: "call".into(),
        due_date: NaiveDate::from_ymd_opt(2026, 6, 2).unwrap(),
        owner_id: Some(1002),
        target: Some(Target::Lead(lead_id.clone())),
        person_id: Some(ann),
        org_id: Some(org),
    };
    let act = crm.create_activity(&activity).await.unwrap();
    assert_eq!(crm.find_activity(&activity).await.unwrap(), Some(act));

    let note = NewNote {
        content: "<p>Transcript</p><p>&lt;b&gt;typed&lt;/b&gt;</p><!-- conv:42 -->".into(),
        target: Some(Target::Lead(lead_id.clone())),
        person_id: None,
        org_id: None,
    };
    let note_id = crm.create_note(&note).await.unwrap();
    let target = Target::Lead(lead_id.clone());
    assert_eq!(
        crm.find_note(&target, "conv:42").await.unwrap(),
        Some(note_id)
    );
    assert_eq!(crm.find_note(&target, "conv:43").await.unwrap(), None);

    // What the CRM holds, as its users would see it.
    let store = app.state.sandbox.as_ref().unwrap().snapshot();
    let hot = store.labels.iter().find(|x| x.name == "Hot").unwrap();
    let saved = &store.leads[0];
    assert_eq!(saved.label_ids, vec![hot.id.clone()]);
    assert_eq!(saved.value.as_ref().unwrap().amount, 4800.0);
    assert_eq!(saved.expected_close_date.as_deref(), Some("2026-09-30"));
    assert_eq!(saved.origin_id.as_deref(), Some("concierge-chatbot"));
    assert_eq!(store.persons[0].emails[0].value, "ann@acme.test");
    assert!(store.persons[0].emails[0].primary);
    assert_eq!(store.persons[0].org_id, Some(org));
    assert_eq!(
        store.orgs[0].address.as_deref(),
        Some("Narva mnt 5, Tallinn")
    );
    assert_eq!(store.activities[0].participants[0].person_id, ann);
    assert_eq!(
        store.activities[0].lead_id.as_deref(),
        Some(lead_id.as_str())
    );
    assert_eq!(store.notes[0].content, note.content);
}

#[tokio::test]
async fn deals_activities_and_notes_on_deals() {
    let app = app().await;
    let crm = client(&app, SLOW).await;
    let bo = crm.create_person(&person("Bo", "bo@x.test")).await.unwrap();
    let mut d = lead("Chat deal: Bo", bo, None);
    d.label = None;
    let deal = crm.create_deal(&d).await.unwrap();
    assert_eq!(crm.find_deal(&d).await.unwrap(), Some(deal));
    let a = NewActivity {
        subject: "Demo".into(),
        kind: "meeting".into(),
        due_date: NaiveDate::from_ymd_opt(2026, 6, 3).unwrap(),
        owner_id: None,
        target: Some(Target::Deal(deal)),
        person_id: Some(bo),
        org_id: None,
    };
    let act = crm.create_activity(&a).await.unwrap();
    assert_eq!(crm.find_activity(&a).await.unwrap(), Some(act));
    let n = crm
        .create_note(&NewNote {
            content: "<p>deal note m-1</p>".into(),
            target: Some(Target::Deal(deal)),
            person_id: Some(bo),
            org_id: None,
        })
        .await
        .unwrap();
    assert_eq!(
        crm.find_note(&Target::Deal(deal), "m-1").await.unwrap(),
        Some(n)
    );
    let store = app.state.sandbox.as_ref().unwrap().snapshot();
    assert_eq!(store.deals[0].value, 4800.0);
    assert_eq!(store.deals[0].currency, "EUR");
    assert_eq!(store.deals[0].owner_id, 1002);
}

#[tokio::test]
async fn refusals_carry_the_crm_message() {
    let app = app().await;
    let crm = client(&app, SLOW).await;
    let p = crm.create_person(&person("Cy", "cy@x.test")).await.unwrap();
    let mut l = lead("Chat: Cy", p, None);
    l.label = Some("No such label".into());
    match crm.create_lead(&l).await {
        Err(CrmError::Permanent { message, .. }) => assert!(message.contains("No such label")),
        other => panic!("{other:?}"),
    }
    // A rejected field: permanent, with the CRM's own words.
    faults(
        &app,
        json!({"reject": {"field": "title", "contains": "spam", "status": 422}}),
    )
    .await;
    l.label = None;
    l.title = "spam offer".into();
    match crm.create_lead(&l).await {
        Err(CrmError::Permanent { status, message }) => {
            assert_eq!(status, 422);
            assert!(message.contains("title"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // The CRM's validation: an activity with an unknown type.
    let a = NewActivity {
        subject: "x".into(),
        kind: "carrier-pigeon".into(),
        due_date: NaiveDate::from_ymd_opt(2026, 6, 3).unwrap(),
        owner_id: None,
        target: None,
        person_id: Some(p),
        org_id: None,
    };
    match crm.create_activity(&a).await {
        Err(CrmError::Permanent {
            status: 400,
            message,
        }) => {
            assert!(message.contains("carrier-pigeon"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn injected_status_faults_are_classified() {
    let app = app().await;
    let crm = client(&app, SLOW).await;
    let one =
        |kind: &str| json!({"rate": 1.0, "kinds": [kind], "max_faults": 1, "retry_after_secs": 3});

    for kind in ["server_error", "bad_gateway", "unavailable"] {
        faults(&app, one(kind)).await;
        match crm.find_person_by_email("a@b.test").await {
            Err(CrmError::Transient { .. }) => {}
            other => panic!("{kind}: {other:?}"),
        }
    }

    faults(&app, one("unauthorized")).await;
    assert_eq!(crm.users().await.unwrap_err(), CrmError::Unauthorized);
    assert!(crm.users().await.is_ok(), "the token stays valid");

    // A 429 naming a burst window of a second or two: the client waits it out and sends
    // the call again, as it waits for a spent window before sending.
    faults(&app, one("rate_limit")).await;
    let before = journal(&app).await.len();
    let started = Instant::now();
    assert!(crm.users().await.is_ok());
    assert!(started.elapsed() >= Duration::from_millis(900));
    let sent: Vec<_> = journal(&app).await[before..]
        .iter()
        .map(|e| e["status"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(sent, [429, 200]);

    // A longer wait is the caller's to schedule.
    faults(&app, one("rate_limit_retry_after")).await;
    assert_eq!(
        crm.users().await.unwrap_err(),
        CrmError::RateLimited {
            retry_after_secs: 3,
            scope: RateScope::Burst
        }
    );
    // Within those 3 seconds the client does not call at all.
    let before = journal(&app).await.len();
    assert!(matches!(
        crm.users().await,
        Err(CrmError::RateLimited { .. })
    ));
    assert_eq!(journal(&app).await.len(), before);
}

#[tokio::test]
async fn daily_budget_is_a_daily_rate_limit() {
    let app = app().await;
    let crm = client(&app, SLOW).await;
    faults(&app, json!({"daily_tokens_left": 5})).await;
    match crm.users().await {
        Err(CrmError::RateLimited {
            retry_after_secs,
            scope: RateScope::Daily,
        }) => assert!(retry_after_secs <= 86_400),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_answer_that_never_comes_is_ambiguous_and_the_object_is_found() {
    let app = app().await;
    let crm = client(&app, Duration::from_millis(700)).await;
    faults(
        &app,
        json!({"rate": 1.0, "kinds": ["slow"], "max_faults": 1, "slow_ms": 2000}),
    )
    .await;
    let p = person("Di Slow", "di@x.test");
    match crm.create_person(&p).await {
        Err(CrmError::Ambiguous { .. }) => {}
        other => panic!("{other:?}"),
    }
    let found = crm.find_person_by_email("di@x.test").await.unwrap();
    assert!(found.is_some(), "the write was applied before the answer");
    // A read that times out is simply transient.
    faults(
        &app,
        json!({"rate": 1.0, "kinds": ["slow"], "max_faults": 1, "slow_ms": 2000}),
    )
    .await;
    assert!(matches!(crm.users().await, Err(CrmError::Transient { .. })));
}

/// The CRM answers in well under a second: by default a call it stays silent on is cut
/// off after a few seconds, not after the whole call's 15 s; the write stays ambiguous.
#[tokio::test]
async fn a_silent_crm_is_cut_off_after_a_few_seconds() {
    let app = app().await;
    let crm = client(&app, SLOW).await;
    faults(
        &app,
        json!({"rate": 1.0, "kinds": ["slow"], "max_faults": 1, "slow_ms": 9000}),
    )
    .await;
    let started = Instant::now();
    match crm.create_person(&person("Flo Silent", "flo@x.test")).await {
        Err(CrmError::Ambiguous { .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
    assert!(
        crm.find_person_by_email("flo@x.test")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_dropped_connection_after_the_write_is_ambiguous_and_the_lead_is_found() {
    let app = app().await;
    let crm = client(&app, SLOW).await;
    let p = crm.create_person(&person("Ed", "ed@x.test")).await.unwrap();
    let l = lead("Chat: Ed", p, None);
    faults(
        &app,
        json!({"rate": 1.0, "kinds": ["drop_after_apply"], "max_faults": 1, "writes_only": true}),
    )
    .await;
    match crm.create_lead(&l).await {
        Err(CrmError::Ambiguous { .. }) => {}
        other => panic!("{other:?}"),
    }
    let found = crm.find_lead(&l).await.unwrap();
    let store = app.state.sandbox.as_ref().unwrap().snapshot();
    assert_eq!(store.leads.len(), 1);
    assert_eq!(found.as_deref(), Some(store.leads[0].id.as_str()));
}

#[tokio::test]
async fn refused_connections_and_expired_tokens() {
    let app = app().await;
    // Nothing listens on this port: transient, never ambiguous.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let tokens = json!({"api_domain": format!("http://{closed}"), "access_token": "x"});
    let nowhere = crate::crm_support::client_with(&tokens, SLOW);
    assert!(matches!(
        nowhere.create_person(&person("F", "f@x.test")).await,
        Err(CrmError::Transient { .. })
    ));

    let tokens = crate::crm_support::install(&app, 1002).await;
    let crm = crate::crm_support::client_with(&tokens, SLOW);
    assert!(crm.me().await.is_ok());
    let r = crate::crm_support::browser()
        .post(app.at("/sandbox/oauth/expire"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(crm.me().await.unwrap_err(), CrmError::Unauthorized);
    let (status, fresh) = crate::crm_support::token_call(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let crm = crate::crm_support::client_with(&fresh, SLOW);
    assert_eq!(crm.me().await.unwrap().user.id, 1002);
}

#[tokio::test]
async fn searches_never_burst_past_the_window() {
    let app = app().await;
    let crm = client(&app, SLOW).await;
    let started = Instant::now();
    for i in 0..14 {
        let found = crm
            .find_person_by_email(&format!("nobody{i}@x.test"))
            .await
            .unwrap();
        assert_eq!(found, None);
    }
    // 10 searches per 2 seconds: the client waited instead of being refused.
    assert!(started.elapsed() >= Duration::from_millis(1500));
    let refused = journal(&app)
        .await
        .iter()
        .filter(|e| e["status"] == 429)
        .count();
    assert_eq!(refused, 0);
}
