//! Findings of the hardening review (SECURITY.md): each test here failed before its fix.

use crate::common::{TestApp, TestDb};
use crate::widget_support::*;
use serde_json::{Value, json};

fn identity_hash(secret: &str, email: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(email.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A NUL character in any text of a JSON body is a 400 naming the field, on both backends
/// (PostgreSQL cannot store it and answered 500; SQLite stored it).
#[tokio::test]
async fn text_with_nul_is_refused_naming_the_field_on_both_backends() {
    for db in TestDb::all() {
        let backend = db.backend;
        let app = TestApp::spawn(db).await;
        let company = company_with(&app, &[QUALIFY]).await;
        let mut w = Widget::new(&app, &company);

        // The session key: no authentication needed.
        let r = w
            .post("session", json!({ "key": "pk_\u{0}x", "page": w.page() }))
            .await;
        assert_eq!(r.status, 400, "{backend:?}: {}", r.body);
        assert_eq!(r.body["error"]["code"], "invalid_text");
        assert_eq!(r.body["error"]["details"]["path"], "key");
        let mut page = w.page();
        page["title"] = json!("Pricing\u{0}");
        let r = w
            .post("session", json!({ "key": w.key, "page": page }))
            .await;
        assert_eq!(r.status, 400, "{backend:?}: {}", r.body);
        assert_eq!(r.body["error"]["details"]["path"], "page.title");

        w.session().await;
        // Message text (free text and answers to questions alike).
        let r = w.post("messages", json!({ "text": "hello\u{0}" })).await;
        assert_eq!(r.status, 400, "{backend:?}: {}", r.body);
        assert_eq!(r.body["error"]["details"]["path"], "text");
        let started = w.trigger("qualify", "click").await;
        assert!(started["messages"].is_array(), "{started}");
        let r = w
            .post("messages", json!({ "text": "ann\u{0}@acme.test" }))
            .await;
        assert_eq!(r.status, 400, "{backend:?}: {}", r.body);

        // The identify name, with a valid signature.
        let email = "ann@acme.test";
        let hash = identity_hash(&company.identity_secret, email);
        let r = w
            .post(
                "identify",
                json!({ "email": email, "name": "Ann\u{0}", "hash": hash }),
            )
            .await;
        assert_eq!(r.status, 400, "{backend:?}: {}", r.body);
        assert_eq!(r.body["error"]["details"]["path"], "name");
        let r = w
            .post(
                "identify",
                json!({ "email": email, "name": "Ann", "hash": hash }),
            )
            .await;
        assert_eq!(r.status, 200, "{backend:?}: {}", r.body);

        // Nothing with NUL was stored; ordinary control characters are still text.
        let r = w.post("messages", json!({ "text": "tab\there" })).await;
        assert_eq!(r.status, 200, "{backend:?}: {}", r.body);
        let history = w.history(0).await;
        assert!(
            history.iter().all(|m| !m.to_string().contains("\\u0000")),
            "{history:?}"
        );
    }
}

async fn raw(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = reqwest::Client::new().request(method, app.at(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.body(body.to_owned()).send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

fn error_code(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    v["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code: {body}"))
        .to_owned()
}

/// Errors of the JSON API have its one shape and the right status.
#[tokio::test]
async fn api_errors_have_the_right_status_and_one_shape() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let company = company_with(&app, &[QUALIFY]).await;
    let mut w = Widget::new(&app, &company);
    w.session().await;
    let token = w.token.clone().unwrap();
    let json = Some("application/json");
    let post = reqwest::Method::POST;

    // Trailing data after the document.
    let (status, _, body) = raw(
        &app,
        post.clone(),
        "/api/widget/messages",
        Some(&token),
        json,
        r#"{"text":"a"}xyz"#,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "invalid_json");
    // Trailing whitespace is fine.
    let (status, _, body) = raw(
        &app,
        post.clone(),
        "/api/widget/messages",
        Some(&token),
        json,
        "{\"text\":\"a\"}\n",
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // A wrong content type: 415 in the JSON shape.
    let (status, _, body) = raw(
        &app,
        post.clone(),
        "/api/widget/messages",
        Some(&token),
        Some("text/plain"),
        r#"{"text":"a"}"#,
    )
    .await;
    assert_eq!(status, 415, "{body}");
    assert_eq!(error_code(&body), "unsupported_media_type");

    // A bad query parameter: 400 in the JSON shape.
    let (status, _, body) = raw(
        &app,
        reqwest::Method::GET,
        "/api/widget/messages?after=soon",
        Some(&token),
        None,
        "",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "invalid_query");

    // Unknown paths are 404 whatever the method; only preflights of known paths are 204.
    for method in ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let (status, headers, body) =
            raw(&app, m, "/api/widget/nothing-here", None, None, "").await;
        assert_eq!(status, 404, "{method}: {body}");
        assert_eq!(error_code(&body), "not_found");
        assert_eq!(headers["access-control-allow-origin"], "*");
    }
    for (method, path) in [
        ("PUT", "/api/widget/messages"),
        ("DELETE", "/api/widget/session"),
        ("GET", "/api/widget/identify"),
        ("PATCH", "/api/widget/close"),
    ] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let (status, headers, body) = raw(&app, m, path, Some(&token), None, "").await;
        assert_eq!(status, 405, "{method} {path}: {body}");
        assert_eq!(error_code(&body), "method_not_allowed");
        assert!(headers.contains_key("allow"), "{method} {path}");
    }
    let (status, headers, _) = raw(
        &app,
        reqwest::Method::OPTIONS,
        "/api/widget/identify",
        None,
        None,
        "",
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(headers["access-control-allow-origin"], "*");
}

/// A made-up authorization code (no state, as a marketplace install sends) is the
/// caller's error: 400 with a page that says what to do, not 502.
#[tokio::test]
async fn a_refused_oauth_code_is_a_400_page() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let resp = reqwest::get(app.at("/oauth/callback?code=made-up"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body = resp.text().await.unwrap();
    assert!(body.contains("Start the install again"), "{body}");
    assert!(body.contains("/oauth/install"), "{body}");
}
