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
    // As the widget's script on a customer's page calls it: from another origin.
    let mut req = reqwest::Client::new()
        .request(method, app.at(path))
        .header("origin", "https://customer.example");
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
        let exposed = headers["access-control-expose-headers"].to_str().unwrap();
        assert!(exposed.eq_ignore_ascii_case("retry-after"), "{exposed}");
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
    // A browser's preflight: any origin may send JSON with a bearer token.
    let resp = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, app.at("/api/widget/identify"))
        .header("origin", "https://customer.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    let methods = h["access-control-allow-methods"].to_str().unwrap();
    assert!(
        methods.contains("POST") && methods.contains("GET"),
        "{methods}"
    );
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"));
    assert_eq!(h["access-control-max-age"], "86400");
    // Cookies are never asked for.
    assert!(!h.contains_key("access-control-allow-credentials"));
    // A plain OPTIONS (no preflight) is answered from the route table.
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
    assert!(headers["allow"].to_str().unwrap().contains("POST"));
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

/// `/settings` and `/inbox` may be framed only by the CRM (and by the sandbox CRM, which
/// the app serves itself); the widget's script and API stay embeddable anywhere.
#[tokio::test]
async fn crm_pages_may_be_framed_only_by_the_crm() {
    use secrecy::SecretString;
    let sandbox = TestApp::spawn(TestDb::sqlite()).await;
    let real = TestApp::spawn_with(TestDb::sqlite(), |c| {
        c.pipedrive.client_id = Some("test-app".into());
        c.pipedrive.client_secret = Some(SecretString::from("test-client-secret"));
        c.pipedrive.jwt_secret = Some(SecretString::from("jwt"));
        c.outbox.concurrency = 0;
    })
    .await;
    for (app, own) in [(&sandbox, true), (&real, false)] {
        for path in ["/settings", "/inbox"] {
            let resp = reqwest::get(app.at(path)).await.unwrap();
            let h = resp.headers();
            let csp = h
                .get("content-security-policy")
                .unwrap_or_else(|| panic!("{path}: no CSP"))
                .to_str()
                .unwrap();
            let ancestors = csp
                .split(';')
                .map(str::trim)
                .find_map(|d| d.strip_prefix("frame-ancestors "))
                .unwrap_or_else(|| panic!("{path}: no frame-ancestors in {csp}"));
            let mut allowed: Vec<&str> = ancestors.split(' ').collect();
            allowed.sort();
            let mut expected = vec!["https://*.pipedrive.com"];
            if own {
                expected.push(app.url.as_str());
                expected.sort();
            }
            assert_eq!(allowed, expected, "{path}");
            assert!(csp.contains("script-src 'self'"), "{csp}");
            assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
            assert!(h.contains_key("referrer-policy"), "{path}");
        }
    }
    // The widget's script and API: no framing or script policy of the CRM pages.
    let company = company_with(&sandbox, &[QUALIFY]).await;
    let widget_js = reqwest::get(sandbox.at("/widget.js")).await.unwrap();
    assert_eq!(widget_js.status(), 200);
    assert!(!widget_js.headers().contains_key("content-security-policy"));
    let mut w = Widget::new(&sandbox, &company);
    w.session().await;
    let resp = reqwest::Client::new()
        .get(sandbox.at("/api/widget/messages"))
        .bearer_auth(w.token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(!resp.headers().contains_key("content-security-policy"));
}

/// The sandbox CRM keeps a write on disk before it answers: a `kill -9` right after an
/// install step loses nothing.
#[tokio::test]
async fn the_sandbox_saves_before_answering() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let file = concierge::crm::sandbox::store::file_in(&app.state.config.data_dir);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for round in 0..5 {
        let resp = client
            .post(app.at("/sandbox/oauth/authorize"))
            .form(&[
                ("client_id", concierge::crm::sandbox::CLIENT_ID),
                ("redirect_uri", &app.at("/oauth/callback")),
                ("state", ""),
                ("user_id", "1001"),
                ("decision", "allow"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 302);
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        let code = url::Url::parse(&location)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("a code");
        // Read at once, as a restarted process would (the snapshot and its journal).
        let kept = concierge::crm::sandbox::store::load(&file)
            .unwrap()
            .expect("a kept store");
        assert!(
            kept.codes.iter().any(|c| c.code == code),
            "round {round}: the code is not on disk yet"
        );
    }
}

/// The same across a real `kill -9`: an install through the app, then writes through the
/// CRM's API, each followed at once by a `kill -9` of the `concierge serve` process; after
/// each restart the sandbox still has every answered write (its snapshot and journal).
#[tokio::test]
async fn the_sandbox_keeps_every_answered_write_across_kill_9() {
    use concierge::crm::sandbox::store;
    let db = TestDb::sqlite();
    let mut node = crate::node_process::NodeProcess::start(&db.url, &[]).await;
    crate::sandbox_install::install(&node.url).await;
    node.kill();
    let file = store::file_in(node.data_dir());
    let grant = store::load(&file)
        .unwrap()
        .expect("a kept store")
        .grants
        .pop()
        .expect("the install's grant survived the kill");
    assert_eq!(grant.user_id, 1001);
    let b = crate::crm_support::browser();
    for round in 0..3 {
        node.restart().await;
        let name = format!("Kept {round} Ltd");
        let made = b
            .post(format!("{}/sandbox/api/v2/organizations", node.url))
            .bearer_auth(&grant.access_token)
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            made.status(),
            200,
            "round {round}: the grant is still known"
        );
        let id = made.json::<serde_json::Value>().await.unwrap()["data"]["id"].clone();
        node.kill();
        node.restart().await;
        let got = b
            .get(format!("{}/sandbox/api/v2/organizations/{id}", node.url))
            .bearer_auth(&grant.access_token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            got.status(),
            200,
            "round {round}: the organization survived the kill"
        );
        let got: serde_json::Value = got.json().await.unwrap();
        assert_eq!(got["data"]["name"], name.as_str());
        node.kill();
    }
}
