//! The client and the sandbox CRM against Pipedrive's official OpenAPI description:
//! every request the client can send (bodies and query parameters) and every answer the
//! sandbox gives to them match the operation's schemas, and the client reads every example
//! and error envelope found in the spec for the operations it uses.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::{TestApp, TestDb};
use crate::openapi_support::{errors, operation};
use chrono::{NaiveDate, Utc};
use concierge::crm::pipedrive::wire::{
    ActivityItem, DealItem, IntId, LeadItem, LeadLabel, NoteItem, SearchData, User, UuidId,
    WebhookBody,
};
use concierge::crm::pipedrive::{classify_failure, parse_success};
use concierge::crm::{
    Crm, CrmError, NewActivity, NewLeadOrDeal, NewNote, NewOrg, NewPerson, Target,
};
use concierge::playbook::model::Money;
use serde_json::{Value, json};

/// Every client method, with every optional part present and absent.
async fn exercise_every_call(app: &TestApp) {
    let crm = crate::crm_support::client(app, Duration::from_secs(15)).await;
    crm.me().await.unwrap();
    crm.users().await.unwrap();
    let org = crm
        .create_org(&NewOrg {
            name: "Full Org".into(),
            address: Some("Main St 1".into()),
            owner_id: Some(1002),
        })
        .await
        .unwrap();
    let bare_org = crm
        .create_org(&NewOrg {
            name: "Bare Org".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    crm.find_org_by_name("Full Org").await.unwrap();
    let full = crm
        .create_person(&NewPerson {
            name: "Full Person".into(),
            email: Some("full@x.test".into()),
            phone: Some("+3725551234".into()),
            org_id: Some(org),
            owner_id: Some(1002),
        })
        .await
        .unwrap();
    let bare = crm
        .create_person(&NewPerson {
            name: "Bare Person".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    crm.find_person_by_email("full@x.test").await.unwrap();
    crm.find_person_by_name("Bare Person").await.unwrap();

    let rich = NewLeadOrDeal {
        title: "Rich".into(),
        person_id: Some(full),
        org_id: Some(org),
        owner_id: Some(1002),
        value: Some(Money {
            amount: 99.5,
            currency: "EUR".into(),
        }),
        expected_close_date: NaiveDate::from_ymd_opt(2026, 12, 1),
        label: Some("Warm".into()),
    };
    let plain = NewLeadOrDeal {
        title: "Plain".into(),
        person_id: None,
        org_id: Some(bare_org),
        owner_id: None,
        value: None,
        expected_close_date: None,
        label: None,
    };
    let lead = crm.create_lead(&rich).await.unwrap();
    crm.create_lead(&plain).await.unwrap();
    crm.find_lead(&rich).await.unwrap();
    crm.find_lead(&plain).await.unwrap();
    let deal = crm.create_deal(&rich).await.unwrap();
    crm.create_deal(&plain).await.unwrap();
    crm.find_deal(&rich).await.unwrap();
    crm.find_deal(&plain).await.unwrap();

    let due = Utc::now().date_naive();
    for (target, person_id, org_id, owner_id) in [
        (
            Some(Target::Lead(lead.clone())),
            Some(full),
            Some(org),
            Some(1002),
        ),
        (Some(Target::Deal(deal)), Some(full), None, None),
        (None, Some(bare), None, None),
        (None, None, Some(bare_org), None),
    ] {
        let a = NewActivity {
            subject: "Follow up".into(),
            kind: "call".into(),
            due_date: due,
            owner_id,
            target,
            person_id,
            org_id,
        };
        crm.create_activity(&a).await.unwrap();
        crm.find_activity(&a).await.unwrap();
    }
    for (target, person_id, org_id) in [
        (Some(Target::Lead(lead.clone())), None, None),
        (Some(Target::Deal(deal)), Some(full), Some(org)),
        (None, Some(bare), None),
        (None, None, Some(bare_org)),
    ] {
        crm.create_note(&NewNote {
            content: "<p>note m-7</p>".into(),
            target: target.clone(),
            person_id,
            org_id,
        })
        .await
        .unwrap();
        if let Some(t) = target {
            crm.find_note(&t, "m-7").await.unwrap();
        }
    }
    let hook = crm
        .create_webhook(&WebhookBody {
            subscription_url: "https://app.example.com/webhooks/crm".into(),
            event_action: "*".into(),
            event_object: "deal".into(),
            name: "Deal outcomes".into(),
            http_auth_user: "company".into(),
            http_auth_password: "secret".into(),
            version: "2.0".into(),
        })
        .await
        .unwrap();
    crm.delete_webhook(hook).await.unwrap();
    // Gone already: still removed.
    crm.delete_webhook(hook).await.unwrap();
}

#[tokio::test]
async fn every_request_and_answer_matches_the_spec() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    exercise_every_call(&app).await;
    let exchanges = crate::crm_support::journal(&app).await;
    assert!(exchanges.len() > 30, "{} exchanges", exchanges.len());
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    let mut responses_checked = 0;
    for x in &exchanges {
        let method = x["method"].as_str().unwrap();
        let path = x["path"].as_str().unwrap();
        let Some(op) = operation(method, path) else {
            problems.push(format!("{method} {path}: no such operation in the spec"));
            continue;
        };
        let name = format!("{method} {} ({})", op.template, &path[..7]);
        seen.insert(name.clone());
        let query: Vec<(String, String)> =
            url::form_urlencoded::parse(x["query"].as_str().unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        for e in op.query_errors(&query) {
            problems.push(format!("{name}: {e}"));
        }
        if let Some(body) = x.get("request").filter(|b| !b.is_null()) {
            match op.request_schema() {
                Some(schema) => {
                    for e in errors(&schema, body) {
                        problems.push(format!("{name} request {body}: {e}"));
                    }
                }
                None => problems.push(format!("{name}: a body the operation does not take")),
            }
        }
        let status = x["status"].as_u64().unwrap() as u16;
        // The second removal of the same webhook is meant to find it gone.
        let gone_again = method == "DELETE" && status == 404;
        assert!(
            (200..300).contains(&status) || gone_again,
            "{name} answered {status}: {}",
            x["response"]
        );
        match op.response_schema(status) {
            Some(schema) => {
                responses_checked += 1;
                for e in errors(&schema, &x["response"]) {
                    problems.push(format!("{name} response {status}: {e}"));
                }
            }
            None => problems.push(format!("{name}: status {status} not in the spec")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for expected in [
        "POST /persons (/api/v2)",
        "GET /persons/search (/api/v2)",
        "POST /organizations (/api/v2)",
        "GET /organizations/search (/api/v2)",
        "POST /deals (/api/v2)",
        "GET /deals (/api/v2)",
        "POST /activities (/api/v2)",
        "GET /activities (/api/v2)",
        "POST /leads (/api/v1)",
        "GET /leads (/api/v1)",
        "GET /leadLabels (/api/v1)",
        "POST /notes (/api/v1)",
        "GET /notes (/api/v1)",
        "GET /users (/api/v1)",
        "GET /users/me (/api/v1)",
        "POST /webhooks (/api/v1)",
        "DELETE /webhooks/{id} (/api/v1)",
    ] {
        assert!(
            seen.contains(expected),
            "{expected} not exercised: {seen:?}"
        );
    }
    assert_eq!(responses_checked, exchanges.len());
}

#[test]
fn the_strict_request_check_catches_wrong_shapes() {
    let schema = |m: &str, p: &str| operation(m, p).unwrap().request_schema().unwrap();
    let deal = schema("POST", "/api/v2/deals");
    assert!(errors(&deal, &json!({"title": "t", "owner_id": 1})).is_empty());
    assert!(!errors(&deal, &json!({"title": "t", "user_id": 1})).is_empty());
    let person = schema("POST", "/api/v2/persons");
    assert!(!errors(&person, &json!({"name": "n", "email": "a@b"})).is_empty());
    assert!(
        !errors(
            &person,
            &json!({"name": "n", "emails": [{"value": "a@b", "primary": "yes"}]})
        )
        .is_empty()
    );
    let lead = schema("POST", "/api/v1/leads");
    assert!(!errors(&lead, &json!({"title": "t", "value": 5})).is_empty());
    assert!(!errors(&lead, &json!({"title": "t", "expected_close_date": "soon"})).is_empty());
    assert!(!errors(&lead, &json!({"title": "t", "label_ids": ["not-a-uuid"]})).is_empty());
    assert!(
        !errors(&lead, &json!({"person_id": 1})).is_empty(),
        "title is required"
    );
    let activity = schema("POST", "/api/v2/activities");
    assert!(!errors(&activity, &json!({"participants": [{"person_id": "1"}]})).is_empty());
    let search = operation("GET", "/api/v2/persons/search").unwrap();
    assert!(
        !search
            .query_errors(&[("fields".into(), "email".into())])
            .is_empty()
    );
    assert!(
        !search
            .query_errors(&[("term".into(), "x".into()), ("exact".into(), "1".into())])
            .is_empty()
    );
}

/// `parse` reads a 2xx example with the client's own types.
fn read_example(method: &str, path: &str, example: &Value) -> Result<(), String> {
    let body = serde_json::to_vec(example).unwrap();
    let write = method != "GET";
    let check = |r: Result<(), CrmError>| r.map_err(|e| format!("{e}"));
    macro_rules! data {
        ($t:ty) => {
            check(parse_success::<$t>(200, &body, write).and_then(|env| {
                env.data.map(|_| ()).ok_or(CrmError::Ambiguous {
                    message: "no data".into(),
                })
            }))
        };
    }
    match (method, path) {
        ("POST", "/api/v2/persons" | "/api/v2/organizations" | "/api/v2/deals")
        | ("POST", "/api/v2/activities" | "/api/v1/notes") => data!(IntId),
        ("POST", "/api/v1/leads") => data!(UuidId),
        ("POST", "/api/v1/webhooks") => data!(IntId),
        ("DELETE", "/api/v1/webhooks/1") => {
            check(parse_success::<Value>(200, &body, true).map(|_| ()))
        }
        ("GET", "/api/v2/persons/search" | "/api/v2/organizations/search") => data!(SearchData),
        ("GET", "/api/v2/deals") => data!(Vec<DealItem>),
        ("GET", "/api/v2/activities") => data!(Vec<ActivityItem>),
        ("GET", "/api/v1/leads") => data!(Vec<LeadItem>),
        ("GET", "/api/v1/notes") => data!(Vec<NoteItem>),
        ("GET", "/api/v1/leadLabels") => data!(Vec<LeadLabel>),
        ("GET", "/api/v1/users") => data!(Vec<User>),
        ("GET", "/api/v1/users/me") => {
            let env = parse_success::<User>(200, &body, false).map_err(|e| e.to_string())?;
            env.data
                .and_then(|u| u.to_me())
                .map(|_| ())
                .ok_or_else(|| "no company in /users/me".into())
        }
        _ => Err(format!("no reader for {method} {path}")),
    }
}

const USED: &[(&str, &str)] = &[
    ("POST", "/api/v2/persons"),
    ("GET", "/api/v2/persons/search"),
    ("POST", "/api/v2/organizations"),
    ("GET", "/api/v2/organizations/search"),
    ("POST", "/api/v2/deals"),
    ("GET", "/api/v2/deals"),
    ("POST", "/api/v2/activities"),
    ("GET", "/api/v2/activities"),
    ("POST", "/api/v1/leads"),
    ("GET", "/api/v1/leads"),
    ("GET", "/api/v1/leadLabels"),
    ("POST", "/api/v1/notes"),
    ("GET", "/api/v1/notes"),
    ("GET", "/api/v1/users"),
    ("GET", "/api/v1/users/me"),
    ("POST", "/api/v1/webhooks"),
    ("DELETE", "/api/v1/webhooks/1"),
];

#[test]
fn the_client_reads_every_example_of_the_operations_it_uses() {
    let mut read = 0;
    for (method, path) in USED {
        let op = operation(method, path).unwrap_or_else(|| panic!("{method} {path}"));
        for (status, example) in op.examples() {
            if (200..300).contains(&status) {
                read_example(method, path, &example)
                    .unwrap_or_else(|e| panic!("{method} {path} example {status}: {e}"));
                read += 1;
            }
        }
    }
    assert!(read >= USED.len(), "only {read} examples");
}

#[test]
fn the_client_classifies_every_error_envelope_in_the_spec() {
    let mut seen = 0;
    for spec in crate::openapi_support::specs()
        .v1
        .iter()
        .chain(&crate::openapi_support::specs().v2)
        .take(4)
    {
        if !spec.name.contains("subset") {
            continue;
        }
        let paths = spec.doc["paths"].as_object().unwrap();
        for item in paths.values() {
            for op in item.as_object().unwrap().values() {
                let Some(responses) = op.get("responses").and_then(Value::as_object) else {
                    continue;
                };
                for (code, r) in responses {
                    let Ok(status) = code.parse::<u16>() else {
                        continue;
                    };
                    let Some(ex) = r.pointer("/content/application~1json/example") else {
                        continue;
                    };
                    if status < 400 {
                        continue;
                    }
                    seen += 1;
                    let body = serde_json::to_vec(ex).unwrap();
                    let class = classify_failure(status, &Default::default(), &body, Utc::now());
                    match (status, class) {
                        (401, CrmError::Unauthorized) => {}
                        (s, CrmError::Permanent { status, message }) if s < 500 && s != 429 => {
                            assert_eq!(status, s);
                            let expected = ex
                                .get("error")
                                .or_else(|| ex.get("message"))
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                                .unwrap_or_else(|| {
                                    ex["errors"]
                                        .as_object()
                                        .unwrap()
                                        .keys()
                                        .next()
                                        .unwrap()
                                        .clone()
                                });
                            assert!(message.contains(&expected), "{message} lacks {expected}");
                        }
                        (s, other) => panic!("{s}: {other:?} for {ex}"),
                    }
                }
            }
        }
    }
    assert!(seen >= 5, "only {seen} error examples");
}

#[tokio::test]
async fn the_sandbox_error_answers_match_the_spec() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let http = crate::crm_support::browser();
    let check = |method: &str, path: &str, status: u16, body: &Value| {
        let op = operation(method, path).unwrap();
        let schema = op
            .response_schema(status)
            .unwrap_or_else(|| panic!("{method} {path}: no {status} in the spec"));
        let problems = errors(&schema, body);
        assert!(
            problems.is_empty(),
            "{method} {path} {status}: {problems:?}"
        );
    };
    let anon = http
        .get(app.at("/sandbox/api/v1/users/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    check("GET", "/api/v1/users/me", 401, &anon.json().await.unwrap());

    let tokens = crate::crm_support::install(&app, 1001).await;
    let missing = format!("/api/v1/leads/{}", uuid::Uuid::new_v4());
    let resp = http
        .get(app.at(&format!("/sandbox{missing}")))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["success"], false);
    check("GET", &missing, 404, &body);
}
