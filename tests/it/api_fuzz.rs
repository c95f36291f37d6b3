//! The widget API against its own OpenAPI description: schemathesis (installed by
//! `scripts/test`) generates requests from `/openapi.json` — valid ones, invalid ones and
//! sequences — and checks every answer with all of its checks. Any finding fails the test.

use std::process::Command;

use concierge::config::{Rate, RateLimits};
use concierge::db::companies;
use serde_json::{Value, json};

use crate::common::{TestApp, TestDb};
use crate::widget_support::*;

/// Test cases schemathesis must run at least, over all operations.
const MIN_CASES: u64 = 1_000;

/// Generated cases per operation and phase.
const EXAMPLES_PER_OPERATION: &str = "150";

#[tokio::test(flavor = "multi_thread")]
async fn the_widget_api_answers_as_its_openapi_description_says() {
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| {
        // The flood limits would answer most generated requests with 429.
        let unlimited = Rate {
            per_second: 0,
            burst: 0,
        };
        c.rate_limits = RateLimits {
            per_visitor: unlimited,
            per_address: unlimited,
        };
    })
    .await;
    let key = app
        .state
        .db
        .run(companies::first)
        .await
        .unwrap()
        .expect("the seeded demo company")
        .public_key;
    let resp = reqwest::Client::new()
        .post(app.at("/api/widget/session"))
        .json(&json!({ "key": key, "page": { "url": "https://acme.test/demo/pricing" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let token = resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/schemathesis.toml");
    let args = vec![
        "--config-file".to_owned(),
        config.into(),
        "run".into(),
        app.at("/openapi.json"),
        "--url".into(),
        app.url.clone(),
        "--checks".into(),
        "all".into(),
        "--include-tag".into(),
        "widget".into(),
        // An open conversation's event stream never ends; `event_stream_matches_its_description`
        // checks it instead.
        "--exclude-path".into(),
        "/api/widget/events".into(),
        "--max-examples".into(),
        EXAMPLES_PER_OPERATION.into(),
        "--seed".into(),
        "20261130".into(),
        "--workers".into(),
        "2".into(),
        "--request-timeout".into(),
        "10".into(),
        "--header".into(),
        format!("Authorization: Bearer {token}"),
        // No example database in the working tree.
        "--generation-database".into(),
        "none".into(),
        "--no-color".into(),
    ];
    // Its crash cache goes to the working directory: a temporary one.
    let work = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("schemathesis")
            .args(&args)
            .current_dir(work.path())
            .output()
            .expect("schemathesis runs (scripts/test installs it)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{stdout}\n{stderr}"
    );
    let cases = cases_in(&stdout);
    assert!(
        cases >= MIN_CASES,
        "schemathesis ran {cases} cases, fewer than {MIN_CASES}:\n{stdout}"
    );
}

/// The number of test cases of schemathesis's summary ("Test cases: N generated, …").
fn cases_in(summary: &str) -> u64 {
    summary
        .lines()
        .skip_while(|l| l.trim() != "Test cases:")
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The events of the widget's stream as the description's `itemSchema` says: each event
/// matches its branch, and its `data` the branch's `contentSchema`.
#[tokio::test]
async fn the_widget_event_stream_matches_its_description() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let doc: Value = reqwest::get(app.at("/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.2.0");
    let content = &doc["paths"]["/api/widget/events"]["get"]["responses"]["200"]["content"];
    assert_eq!(
        content["text/event-stream"]["itemSchema"]["$ref"],
        "#/components/schemas/WidgetEvent"
    );
    let branches = doc["components"]["schemas"]["WidgetEvent"]["oneOf"]
        .as_array()
        .unwrap()
        .clone();
    let check = |e: &Sse| {
        let matching: Vec<&Value> = branches
            .iter()
            .filter(|b| b["properties"]["event"]["const"] == e.event.as_str())
            .collect();
        assert_eq!(matching.len(), 1, "one branch for event {:?}", e.event);
        let branch = matching[0];
        let mut item = json!({ "event": e.event, "data": e.data.to_string() });
        if let Some(id) = e.id {
            item["id"] = json!(id.to_string());
        }
        let mut content_schema = branch["properties"]["data"]["contentSchema"].clone();
        content_schema["components"] = doc["components"].clone();
        for (schema, value) in [(branch.clone(), item), (content_schema, e.data.clone())] {
            let validator = jsonschema::validator_for(&schema).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{value}: {errors:?}");
        }
    };

    let company = company_with(&app, &[QUALIFY]).await;
    let mut w = Widget::new(&app, &company);
    w.session().await;
    let started = w.trigger("qualify", "click").await;
    let mut stream = SseReader::new(w.events(None).await);
    let mut seen = Vec::new();
    let buttons = stream
        .until(|e| e.data["buttons"].as_array().is_some_and(|b| !b.is_empty()))
        .await;
    assert!(started["messages"].is_array());
    w.choose(buttons.data["id"].as_str().unwrap(), 1).await;
    w.say("ann@acme.test").await;
    // The flow runs on to its redirect: typing, messages, status changes on the way.
    loop {
        let e = stream.next().await;
        check(&e);
        seen.push(e.event.clone());
        if e.event == "redirect" {
            break;
        }
    }
    check(&buttons);
    assert!(seen.contains(&"message".to_owned()), "{seen:?}");
}
