//! The playbook list's order is the priority order targeting uses: `PUT
//! /api/admin/playbooks/order` on both databases, publishing leaving it alone, the audit
//! log, and refusals (an incomplete order, another company's ids, a rep).

use concierge::db::companies;
use reqwest::Method;
use serde_json::{Value, json};

use crate::admin_api::{Body, Setup, setup};
use crate::common::TestDb;
use crate::widget_support::Widget;

/// A page-load playbook on `/order-test*` with this slug and priority.
fn page_load(slug: &str, priority: i64) -> String {
    format!(
        r#"slug: {slug}
name: Order {slug}
priority: {priority}
trigger:
  on: page_load
  urls: {{ include: ["/order-test*"] }}
start: hello
cards:
  - id: hello
    type: end
    text: "Hello from {slug}"
"#
    )
}

async fn publish_and_switch_on(s: &Setup, id: &str) {
    let (status, body) = s
        .call(
            &s.admin,
            Method::POST,
            &format!("/api/admin/playbooks/{id}/publish"),
            Body::Json(json!({ "note": "" })),
        )
        .await;
    assert_eq!(status, 201, "{body:#}");
    let (status, body) = s
        .call(
            &s.admin,
            Method::POST,
            &format!("/api/admin/playbooks/{id}/enabled"),
            Body::Json(json!({ "enabled": true })),
        )
        .await;
    assert_eq!(status, 200, "{body:#}");
}

/// The ids of the list, in its order.
async fn listed(s: &Setup) -> Vec<String> {
    let (status, list) = s.get(&s.admin, "/api/admin/playbooks").await;
    assert_eq!(status, 200, "{list:#}");
    list["playbooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The slugs a visitor on the test page is offered, in order.
async fn offered(s: &Setup) -> Vec<String> {
    let company = {
        let mut conn = s.app.state.db.conn().unwrap();
        companies::by_id(&mut conn, &s.company).unwrap().unwrap()
    };
    let mut widget = Widget::new(&s.app, &company);
    widget.page = "https://acme.test/order-test".into();
    let session = widget.session().await;
    session["triggers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap().to_owned())
        .filter(|slug| slug.starts_with("ord-"))
        .collect()
}

async fn put_order(s: &Setup, ids: &[String]) -> (u16, Value) {
    s.call(
        &s.admin,
        Method::PUT,
        "/api/admin/playbooks/order",
        Body::Json(json!({ "ids": ids })),
    )
    .await
}

#[tokio::test]
async fn the_lists_order_decides_which_playbook_a_visitor_gets() {
    for db in TestDb::all() {
        let s = setup(db).await;
        let a = s.create(&s.admin, &page_load("ord-a", 5)).await;
        let b = s.create(&s.admin, &page_load("ord-b", 1)).await;
        publish_and_switch_on(&s, &a).await;
        publish_and_switch_on(&s, &b).await;
        assert_eq!(
            offered(&s).await,
            ["ord-a", "ord-b"],
            "the documents' priorities"
        );

        // b moved to the top of the list: visitors get b first.
        let mut ids = listed(&s).await;
        ids.retain(|id| *id != b);
        ids.insert(0, b.clone());
        let (status, body) = put_order(&s, &ids).await;
        assert_eq!(status, 200, "{body:#}");
        let answered: Vec<_> = body["playbooks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(answered, ids);
        assert_eq!(listed(&s).await, ids);
        assert_eq!(offered(&s).await, ["ord-b", "ord-a"]);

        // Publishing a with a higher priority in its document does not move it.
        let raised = page_load("ord-a", 1000);
        let (status, _) = s
            .call(
                &s.admin,
                Method::PUT,
                &format!("/api/admin/playbooks/{a}/draft"),
                Body::Yaml(raised),
            )
            .await;
        assert_eq!(status, 200);
        publish_and_switch_on(&s, &a).await;
        assert_eq!(listed(&s).await, ids);
        assert_eq!(offered(&s).await, ["ord-b", "ord-a"]);

        // The change is in the audit log, by slug, before and after.
        let log = s.audit_actions().await;
        let (actor, _, detail) = log
            .iter()
            .find(|(_, action, _)| action == "playbook.reorder")
            .expect("a reorder entry");
        assert_eq!(actor, "Ada Admin");
        assert_eq!(detail["after"][0], "ord-b");
        assert_ne!(detail["before"], detail["after"]);
    }
}

#[tokio::test]
async fn an_order_must_name_every_playbook_of_the_company_once() {
    let s = setup(TestDb::sqlite()).await;
    let a = s.create(&s.admin, &page_load("ord-a", 5)).await;
    let other = s.create(&s.other_admin, &page_load("ord-x", 5)).await;
    let ids = listed(&s).await;
    assert!(ids.contains(&a));

    let missing: Vec<String> = ids.iter().filter(|id| **id != a).cloned().collect();
    let twice: Vec<String> = ids.iter().chain([&a]).cloned().collect();
    let foreign: Vec<String> = missing.iter().chain([&other]).cloned().collect();
    for wrong in [missing, twice, foreign] {
        let (status, body) = put_order(&s, &wrong).await;
        assert_eq!(status, 422, "{body:#}");
        assert_eq!(body["error"]["code"], "order_mismatch");
    }
    assert_eq!(listed(&s).await, ids, "nothing changed");

    let (status, _) = s
        .call(
            &s.rep,
            Method::PUT,
            "/api/admin/playbooks/order",
            Body::Json(json!({ "ids": ids })),
        )
        .await;
    assert_eq!(status, 403);
}
