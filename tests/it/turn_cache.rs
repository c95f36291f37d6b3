//! What turns keep of a company (its settings, published playbooks, answer rules) is read
//! anew after an admin changes it: at the next turn on the node that made the change, and
//! on every other node once the hub has carried the change there.

use std::time::Duration;

use concierge::db::companies;
use reqwest::Method;
use serde_json::{Value, json};

use crate::admin_api::{Body, setup};
use crate::common::{TestApp, TestDb};
use crate::wait::eventually_for;
use crate::widget_support::Widget;

/// The bot's reply to `text` from a new visitor of the company on `app`.
async fn reply_to(app: &TestApp, key: &str, text: &str) -> String {
    let company = companies::by_public_key(&mut app.state.db.conn().unwrap(), key)
        .unwrap()
        .expect("company");
    let mut w = Widget::new(app, &company);
    w.session().await;
    let said: Value = w.say(text).await;
    said["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["text"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settings_and_answer_rules_an_admin_changes_reach_the_next_turn_on_every_node() {
    for db in TestDb::all() {
        let backend = db.backend;
        let s = setup(db).await;
        // A second node on the same PostgreSQL database; SQLite has one node.
        let other = match backend {
            concierge::db::Backend::Postgres => Some(TestApp::spawn(s.app.db.share()).await),
            concierge::db::Backend::Sqlite => None,
        };
        let key = companies::by_id(&mut s.app.state.db.conn().unwrap(), &s.company)
            .unwrap()
            .expect("company")
            .public_key;
        let nodes: Vec<&TestApp> = std::iter::once(&s.app).chain(other.as_ref()).collect();
        // Every node keeps the company's rules and settings from a first turn.
        for node in &nodes {
            let first = reply_to(node, &key, "zebra crossing?").await;
            assert!(!first.contains("Stripes"), "{backend:?}: {first}");
        }

        let (status, body) = s
            .call(
                &s.admin,
                Method::POST,
                "/api/admin/answer-rules",
                Body::Json(json!({ "keywords": ["zebra"], "reply": "Stripes." })),
            )
            .await;
        assert_eq!(status, 201, "{body:#}");
        let (status, body) = s
            .call(
                &s.admin,
                Method::PUT,
                "/api/admin/settings",
                Body::Json(json!({ "fallback_reply": "Nobody knows that one." })),
            )
            .await;
        assert_eq!(status, 200, "{body:#}");

        // The node that made the change: at once.
        assert_eq!(reply_to(&s.app, &key, "zebra crossing?").await, "Stripes.");
        assert_eq!(
            reply_to(&s.app, &key, "unicorn").await,
            "Nobody knows that one."
        );
        // The other node: once the hub delivered the change.
        if let Some(other) = &other {
            eventually_for(
                "the rule on the other node",
                Duration::from_secs(5),
                || async {
                    (reply_to(other, &key, "zebra crossing?").await == "Stripes.").then_some(())
                },
            )
            .await;
            assert_eq!(
                reply_to(other, &key, "unicorn").await,
                "Nobody knows that one."
            );
        }
    }
}
