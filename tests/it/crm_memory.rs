//! P6: a returning person costs no search. The outbox worker remembers, per company, the
//! CRM ids of the persons (by e-mail) and organizations (by name) its captures created or
//! found, reads a remembered object by id (one token) instead of searching (twenty), and
//! forgets an id the CRM says is gone, searching as before.

use std::time::Duration;

use crate::common::{TestApp, TestDb};
use crate::crm_support::{browser, install_app, journal};
use chrono::NaiveDate;
use concierge::crm::outbox::{Worker, WorkerConfig};
use concierge::db::crm_identities::{self, Kind};
use concierge::db::{self, outbox};
use concierge::playbook::effect::{ActivityData, CrmWrite, OrgData, PersonData};
use concierge::playbook::model::{CaptureTarget, NoteMode, Owner};

const EMAIL: &str = "ada@example.com";
const ORG: &str = "Analytical Engines";

fn capture(title: &str) -> CrmWrite {
    CrmWrite {
        card: "capture".into(),
        create: CaptureTarget::Lead,
        title: title.into(),
        person: PersonData {
            name: Some("Ada Lovelace".into()),
            email: Some(EMAIL.into()),
            phone: None,
        },
        org: Some(OrgData {
            name: ORG.into(),
            address: None,
        }),
        value: None,
        expected_close_date: None,
        owner: Owner::Playbook,
        label: None,
        activity: Some(ActivityData {
            subject: "Call back".into(),
            kind: "call".into(),
            due_date: NaiveDate::from_ymd_opt(2030, 1, 2).unwrap(),
        }),
        note: NoteMode::Transcript,
        answers: vec![("Team size".into(), "11-50".into())],
    }
}

/// Deliver one capture with a worker of its own; the journal of the CRM calls it made
/// (method and path) and the person id its lead names.
async fn deliver(app: &TestApp, company_id: &str, title: &str) -> (Vec<String>, i64) {
    browser()
        .delete(app.at("/sandbox/journal"))
        .send()
        .await
        .unwrap();
    let payload = serde_json::to_value(capture(title)).unwrap();
    let company = company_id.to_owned();
    app.state
        .db
        .run(move |conn| {
            outbox::enqueue(
                conn,
                &company,
                None,
                outbox::Kind::Capture,
                &payload,
                db::now_ms(),
            )
        })
        .await
        .unwrap();
    let worker = Worker::new(
        app.state.db.clone(),
        app.state.crm.access.clone(),
        WorkerConfig {
            poll_interval: Duration::from_millis(10),
            ..WorkerConfig::default()
        },
    );
    assert_eq!(worker.run_once().await.unwrap(), 1, "one row delivered");
    let calls = journal(app).await;
    let paths = calls
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["method"].as_str().unwrap_or(""),
                c["path"].as_str().unwrap_or("")
            )
        })
        .collect();
    let store = app.state.sandbox.as_ref().unwrap().snapshot();
    let lead = store
        .leads
        .iter()
        .find(|l| l.title == title)
        .unwrap_or_else(|| panic!("the lead {title:?} was created"));
    (paths, lead.person_id.expect("the lead names its person"))
}

/// Persons in the CRM with the e-mail address: (id, deleted).
fn persons(app: &TestApp) -> Vec<(i64, bool)> {
    let store = app.state.sandbox.as_ref().unwrap().snapshot();
    store
        .persons
        .iter()
        .filter(|p| p.emails.iter().any(|e| e.value == EMAIL))
        .map(|p| (p.id, p.deleted))
        .collect()
}

fn searches(calls: &[String]) -> Vec<&String> {
    calls.iter().filter(|c| c.ends_with("/search")).collect()
}

#[tokio::test]
async fn a_returning_person_costs_no_search() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with(db, |c| c.outbox.concurrency = 0).await;
        let company_id = install_app(&app, 1001).await;

        let (first, person) = deliver(&app, &company_id, "First chat").await;
        assert_eq!(
            searches(&first).len(),
            2,
            "a new person and organization are searched for first: {first:?}"
        );

        let (again, same) = deliver(&app, &company_id, "Second chat").await;
        assert!(
            searches(&again).is_empty(),
            "no search for a returning person: {again:?}"
        );
        assert_eq!(same, person, "the second lead names the same person");
        assert!(
            again.contains(&format!("GET /api/v2/persons/{person}")),
            "the remembered person is read by id: {again:?}"
        );
        assert!(
            !again
                .iter()
                .any(|c| c == "POST /api/v2/persons" || c == "POST /api/v2/organizations"),
            "nothing is created again: {again:?}"
        );
        assert_eq!(
            persons(&app),
            vec![(person, false)],
            "one person in the CRM"
        );
    }
}

#[tokio::test]
async fn a_person_gone_from_the_crm_is_searched_again_and_not_duplicated() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with(db, |c| c.outbox.concurrency = 0).await;
        let company_id = install_app(&app, 1001).await;
        let (_, first) = deliver(&app, &company_id, "First chat").await;

        // A CRM user deletes the person: the remembered id is read, found deleted,
        // forgotten, and the search finds nobody, so the person is created once more.
        let resp = browser()
            .post(app.at(&format!("/sandbox/persons/{first}/delete")))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success() || resp.status().is_redirection());
        let (calls, second) = deliver(&app, &company_id, "Second chat").await;
        assert_ne!(second, first, "the deleted person is not used");
        assert_eq!(
            searches(&calls),
            vec!["GET /api/v2/persons/search"],
            "the person is searched for again, the organization is not: {calls:?}"
        );
        assert_eq!(persons(&app), vec![(first, true), (second, false)]);

        // The new person is remembered in turn: no search the next time.
        let (calls, third) = deliver(&app, &company_id, "Third chat").await;
        assert_eq!(third, second);
        assert!(searches(&calls).is_empty(), "{calls:?}");

        // An id the CRM does not know at all (404) is forgotten too, and the search finds
        // the person that exists: nothing is duplicated.
        let company = company_id.clone();
        app.state
            .db
            .run(move |conn| {
                crm_identities::remember(conn, &company, Kind::Person, EMAIL, 999_999, 0)
            })
            .await
            .unwrap();
        let (calls, fourth) = deliver(&app, &company_id, "Fourth chat").await;
        assert_eq!(fourth, second, "found again by search");
        assert_eq!(
            searches(&calls),
            vec!["GET /api/v2/persons/search"],
            "{calls:?}"
        );
        assert_eq!(
            persons(&app),
            vec![(first, true), (second, false)],
            "no person was created"
        );
        let company = company_id.clone();
        let remembered = app
            .state
            .db
            .run(move |conn| crm_identities::remembered(conn, &company, Kind::Person, EMAIL))
            .await
            .unwrap();
        assert_eq!(remembered, Some(second), "the found id is remembered");
    }
}

#[tokio::test]
async fn an_uninstall_forgets_the_remembered_ids() {
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| c.outbox.concurrency = 0).await;
    let company_id = install_app(&app, 1001).await;
    deliver(&app, &company_id, "First chat").await;
    let company = company_id.clone();
    let (person, org) = app
        .state
        .db
        .run(move |conn| {
            Ok::<_, db::DbError>((
                crm_identities::remembered(conn, &company, Kind::Person, " ADA@example.com ")?,
                crm_identities::remembered(conn, &company, Kind::Org, ORG)?,
            ))
        })
        .await
        .unwrap();
    assert!(person.is_some() && org.is_some(), "both are remembered");
    let company = company_id.clone();
    app.state
        .db
        .run(move |conn| db::purge::uninstall(conn, &company, db::now_ms()))
        .await
        .unwrap();
    let company = company_id.clone();
    let person = app
        .state
        .db
        .run(move |conn| crm_identities::remembered(conn, &company, Kind::Person, EMAIL))
        .await
        .unwrap();
    assert_eq!(person, None, "e-mail addresses go with the uninstall");
}
