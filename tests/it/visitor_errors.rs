//! Bad input on the widget API (PRODUCT §9): 400 with the field path, 401, 404, 409,
//! 413, 429 with `Retry-After` — and nobody else is affected.

use crate::common::{TestApp, TestDb};
use crate::widget_support::*;
use concierge::chat::visitor::TokenKeys;
use concierge::config::{Rate, RateLimits};
use concierge::db::visitors;
use serde_json::json;

#[tokio::test]
async fn malformed_bodies_name_the_field() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let company = company_with(&app, &[QUALIFY]).await;
    let mut w = Widget::new(&app, &company);
    w.session().await;

    let r = w.post("messages", json!({ "text": 42 })).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["code"], "invalid_json");
    assert_eq!(r.body["error"]["details"]["path"], "text");

    let r = w
        .post(
            "messages",
            json!({ "choice": { "message_id": "m", "index": -1 } }),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["details"]["path"], "choice.index");

    let r = w.post("messages", json!({ "txt": "hi" })).await;
    assert_eq!(r.status, 400, "unknown fields are refused: {}", r.body);

    let r = w.post("messages", json!({})).await;
    assert_eq!(r.status, 400);
    let r = w
        .post(
            "messages",
            json!({ "text": "a", "choice": { "message_id": "m", "index": 0 } }),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = w.post("messages", json!({ "text": "   " })).await;
    assert_eq!(r.status, 400);

    let r = w
        .post(
            "session",
            json!({ "key": "x", "page": { "url": ["not", "text"] } }),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["details"]["path"], "page.url");

    let r = w
        .post(
            "trigger",
            json!({ "slug": "qualify", "reason": "whenever" }),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["details"]["path"], "reason");

    let raw = reqwest::Client::new()
        .post(app.at("/api/widget/messages"))
        .bearer_auth(w.token.as_deref().unwrap())
        .header("content-type", "application/json")
        .body("{\"text\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let body: serde_json::Value = raw.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("malformed JSON")
    );
}

#[tokio::test]
async fn oversized_bodies_and_messages_are_413() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let company = company_with(&app, &[]).await;
    let mut w = Widget::new(&app, &company);
    w.session().await;
    let long = "x".repeat(4001);
    let r = w.post("messages", json!({ "text": long })).await;
    assert_eq!(r.status, 413);
    let huge = "x".repeat(70 * 1024);
    let r = w.post("messages", json!({ "text": huge })).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.body["error"]["code"], "too_large");
    // Nothing was stored.
    assert!(w.history(0).await.is_empty());
    // Exactly at the limit is fine.
    let r = w
        .post("messages", json!({ "text": "y".repeat(4000) }))
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn forged_expired_and_missing_tokens_are_401() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let company = company_with(&app, &[]).await;
    let mut w = Widget::new(&app, &company);
    w.session().await;
    let good = w.token.clone().unwrap();

    // Signed with another secret.
    let visitor = app
        .state
        .db
        .run({
            let (cid, token) = (company.id.clone(), good.clone());
            let keys = app.state.tokens.clone();
            move |conn| {
                let claims = keys.verify(&token).unwrap();
                visitors::get(conn, &cid, &claims.sub)
            }
        })
        .await
        .unwrap()
        .unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let forged = TokenKeys::new(&secrecy::SecretString::from("not the key"))
        .issue(&visitor, now)
        .unwrap();
    let expired = app
        .state
        .tokens
        .issue_until(&visitor, now, now / 1000 - 3600)
        .unwrap();
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    for (token, why) in [
        (Some(forged), "forged"),
        (Some(expired), "expired"),
        (Some(tampered), "tampered"),
        (Some("abc".to_string()), "garbage"),
        (None, "missing"),
    ] {
        w.token = token;
        for path in ["messages", "trigger", "identify", "close"] {
            let r = w.post(path, json!({ "text": "hi" })).await;
            assert_eq!(r.status, 401, "{why} token on {path}: {}", r.body);
            assert_eq!(r.body["error"]["code"], "unauthorized");
        }
        let r = w.send(reqwest::Method::GET, "messages", None).await;
        assert_eq!(r.status, 401, "{why} token on history");
    }
    let r = reqwest::Client::new()
        .get(app.at("/api/widget/events?token=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn another_visitors_or_companys_data_is_404() {
    for db in TestDb::all() {
        let app = TestApp::spawn(db).await;
        let acme = company_with(&app, &[QUALIFY]).await;
        let other = company_with(&app, &[QUALIFY]).await;
        let mut ann = Widget::new(&app, &acme);
        ann.session().await;
        let started = ann.trigger("qualify", "click").await;
        let ann_question = started["messages"][1]["id"].as_str().unwrap().to_owned();

        // Bob (same company) cannot answer Ann's question nor read her messages.
        let mut bob = Widget::new(&app, &acme);
        bob.session().await;
        bob.trigger("qualify", "click").await;
        let r = bob
            .post(
                "messages",
                json!({ "choice": { "message_id": ann_question, "index": 0 } }),
            )
            .await;
        assert_eq!(r.status, 404);
        assert!(
            bob.history(0)
                .await
                .iter()
                .all(|m| m["id"] != ann_question.as_str())
        );

        // Ann's token with the other company's key: a new visitor of that company, who
        // sees none of Ann's conversation.
        let mut stranger = Widget::new(&app, &other);
        stranger.token = ann.token.clone();
        let s = stranger.session().await;
        assert_ne!(s["visitor"]["id"], ann.session().await["visitor"]["id"]);
        assert!(s["conversation"].is_null());
        assert!(stranger.history(0).await.is_empty());
        // A playbook slug that exists only for another company is 404 ...
        company_with(&app, &[SUPPORT]).await;
        let r = stranger
            .post("trigger", json!({ "slug": "support", "reason": "sdk" }))
            .await;
        assert_eq!(r.status, 404);
        // ... and so is a choice with no open conversation.
        let r = stranger
            .post(
                "messages",
                json!({ "choice": { "message_id": ann_question, "index": 0 } }),
            )
            .await;
        assert_eq!(r.status, 404);
    }
}

#[tokio::test]
async fn choices_must_name_a_button_of_the_current_question() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let company = company_with(&app, &[QUALIFY]).await;
    let mut w = Widget::new(&app, &company);
    w.session().await;
    let started = w.trigger("qualify", "click").await;
    let question = started["messages"][1]["id"].as_str().unwrap().to_owned();
    let hello = started["messages"][0]["id"].as_str().unwrap().to_owned();
    let r = w
        .post(
            "messages",
            json!({ "choice": { "message_id": question, "index": 7 } }),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["code"], "invalid_choice");
    let r = w
        .post(
            "messages",
            json!({ "choice": { "message_id": hello, "index": 0 } }),
        )
        .await;
    assert_eq!(r.status, 400, "a message without buttons");
    w.choose(&question, 0).await;
    // The same question again (a double click): already answered.
    let r = w
        .post(
            "messages",
            json!({ "choice": { "message_id": question, "index": 1 } }),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["error"]["code"], "stale_choice");
    assert_eq!(
        w.history(0).await.len(),
        4,
        "nothing stored for refused choices"
    );
}

#[tokio::test]
async fn a_flooding_visitor_gets_429_and_others_are_unaffected() {
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| {
        c.rate_limits = RateLimits {
            per_visitor: Rate {
                per_second: 1,
                burst: 5,
            },
            per_address: Rate {
                per_second: 1000,
                burst: 1000,
            },
        };
    })
    .await;
    let company = company_with(&app, &[]).await;
    let mut flood = Widget::new(&app, &company);
    flood.session().await;
    let mut calm = Widget::new(&app, &company);
    calm.session().await;
    let mut refused = None;
    for _ in 0..10 {
        let r = flood.post("messages", json!({ "text": "spam" })).await;
        if r.status == 429 {
            refused = Some(r);
            break;
        }
        assert_eq!(r.status, 200);
    }
    let refused = refused.expect("the flood is refused");
    assert_eq!(refused.body["error"]["code"], "rate_limited");
    let secs: u64 = refused.retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=2).contains(&secs), "{secs}");
    // Another visitor is served as usual.
    let r = calm.post("messages", json!({ "text": "hello" })).await;
    assert_eq!(r.status, 200);
    // After waiting as told, the flooder may write again.
    tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
    let r = flood.post("messages", json!({ "text": "sorry" })).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn a_flooding_address_gets_429() {
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| {
        c.rate_limits.per_address = Rate {
            per_second: 1,
            burst: 3,
        };
    })
    .await;
    let company = company_with(&app, &[]).await;
    let w = Widget::new(&app, &company);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = w
            .post(
                "session",
                json!({ "key": company.public_key, "page": w.page() }),
            )
            .await;
        statuses.push(r.status.as_u16());
        if r.status == 429 {
            assert!(r.retry_after.is_some());
        }
    }
    assert_eq!(&statuses[..3], &[200, 200, 200]);
    assert!(statuses[3..].contains(&429), "{statuses:?}");
}

#[tokio::test]
async fn preflight_and_cross_origin_headers() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let client = reqwest::Client::new();
    let r = client
        .request(reqwest::Method::OPTIONS, app.at("/api/widget/messages"))
        .header("Origin", "https://customer.test")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert!(
        r.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("authorization")
    );
    // A page's script always sends its Origin; its errors carry CORS headers too.
    let r = client
        .post(app.at("/api/widget/messages"))
        .header("Origin", "https://customer.test")
        .json(&json!({ "text": "hi" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn the_openapi_description_lists_the_widget_api() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let doc = get_json(&app, "/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/widget/session",
        "/api/widget/trigger",
        "/api/widget/messages",
        "/api/widget/events",
        "/api/widget/identify",
        "/api/widget/close",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["Message"]["properties"]["seq"].is_object());
    assert!(schemas["SendRequest"].is_object());
}

#[tokio::test]
async fn the_openapi_description_lists_every_error_code() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let doc = get_json(&app, "/openapi.json").await;
    let codes: Vec<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("ErrorCode is listed as an enum")
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for code in [
        "invalid_json",
        "not_found",
        "unauthorized",
        "rate_limited",
        "invalid_playbook",
    ] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    // The error body refers to the list.
    let detail = &doc["components"]["schemas"]["ErrorDetail"]["properties"]["code"];
    assert!(detail.to_string().contains("ErrorCode"), "{detail}");
    // An answer's code is one of them.
    let answer = get_json(&app, "/api/widget/no-such-thing").await;
    let code = answer["error"]["code"].as_str().unwrap();
    assert!(codes.contains(&code), "{code}");
}

async fn get_json(app: &TestApp, path: &str) -> serde_json::Value {
    reqwest::get(app.at(path))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
