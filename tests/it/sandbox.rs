//! The sandbox CRM as the app and a person see it: OAuth pages and token endpoint, the
//! API's envelopes and headers, the CRM shell's signed iframe launch, the data page, fault
//! controls, persistence, and its absence when a real Pipedrive app is configured.

use std::time::Duration;

use crate::common::{TestApp, TestDb};
use crate::crm_support::{authorize, browser, client, install, token_call};
use concierge::crm::Crm;
use concierge::crm::sandbox;
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};

async fn app() -> TestApp {
    TestApp::spawn(TestDb::sqlite()).await
}

#[tokio::test]
async fn consent_page_lists_demo_users_and_checks_the_client() {
    let app = app().await;
    let url = |redirect: &str| {
        let mut u = url::Url::parse(&app.at("/sandbox/oauth/authorize")).unwrap();
        u.query_pairs_mut()
            .append_pair("client_id", sandbox::CLIENT_ID)
            .append_pair("redirect_uri", redirect)
            .append_pair("state", "s<1>");
        u.to_string()
    };
    let page = browser()
        .get(url(&app.at("/oauth/callback")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for name in ["Ada Admin", "Ben Rep", "Allow and install", "leads:full"] {
        assert!(html.contains(name), "{name} missing");
    }
    // The state is echoed escaped, never raw.
    assert!(html.contains("s&#60;1&#62;") || html.contains("s&lt;1&gt;"));
    let evil = browser()
        .get(url("https://evil.test/cb"))
        .send()
        .await
        .unwrap();
    assert_eq!(evil.status(), 400);
}

#[tokio::test]
async fn denying_redirects_with_user_denied_and_the_state() {
    let app = app().await;
    let resp = browser()
        .post(app.at("/sandbox/oauth/authorize"))
        .form(&[
            ("client_id", sandbox::CLIENT_ID),
            ("redirect_uri", &app.at("/oauth/callback")),
            ("state", "xyz"),
            ("user_id", "1001"),
            ("decision", "deny"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let loc = resp.headers()["location"].to_str().unwrap();
    assert_eq!(
        loc,
        format!("{}?error=user_denied&state=xyz", app.at("/oauth/callback"))
    );
}

#[tokio::test]
async fn token_endpoint_exchanges_codes_once_and_refreshes() {
    let app = app().await;
    let code = authorize(&app, 1003, "abc").await;
    let redirect = app.at("/oauth/callback");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect.as_str()),
    ];
    // Wrong client secret.
    let wrong = browser()
        .post(app.at("/sandbox/oauth/token"))
        .basic_auth(sandbox::CLIENT_ID, Some("nope"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let (status, tokens) = token_call(&app, &form).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["api_domain"], app.at("/sandbox"));
    assert!(tokens["expires_in"].as_i64().unwrap() > 3000);
    assert!(tokens["scope"].as_str().unwrap().contains("users:read"));
    // A code works once.
    let (again, body) = token_call(&app, &form).await;
    assert_eq!(again, 400);
    assert_eq!(body["error"], "invalid_grant");

    let crm = crate::crm_support::client_with(&tokens, Duration::from_secs(10));
    assert_eq!(crm.me().await.unwrap().user.id, 1003);
    let (status, fresh) = token_call(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_ne!(fresh["access_token"], tokens["access_token"]);
    assert_eq!(fresh["refresh_token"], tokens["refresh_token"]);
    // The old access token is replaced.
    assert!(crm.me().await.is_err());
    let crm = crate::crm_support::client_with(&fresh, Duration::from_secs(10));
    assert!(crm.me().await.is_ok());
}

#[tokio::test]
async fn api_speaks_pipedrive_envelopes_and_headers() {
    let app = app().await;
    let http = browser();
    let anon = http
        .get(app.at("/sandbox/api/v1/users/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    let body: Value = anon.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(body["error"], "unauthorized access");

    let tokens = install(&app, 1001).await;
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    let person = http
        .post(app.at("/sandbox/api/v2/persons"))
        .header("authorization", &bearer)
        .json(&json!({"name": "Gil", "emails": [{"value": "gil@x.test", "primary": true, "label": "work"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(person.status(), 200);
    for h in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        assert!(person.headers().contains_key(h), "{h}");
    }
    let person: Value = person.json().await.unwrap();
    let pid = person["data"]["id"].as_i64().expect("integer id");

    let lead = http
        .post(app.at("/sandbox/api/v1/leads"))
        .header("authorization", &bearer)
        .json(&json!({"title": "Gil's lead", "person_id": pid}))
        .send()
        .await
        .unwrap();
    assert_eq!(lead.status(), 201);
    let lead: Value = lead.json().await.unwrap();
    assert!(uuid::Uuid::parse_str(lead["data"]["id"].as_str().unwrap()).is_ok());
    assert_eq!(lead["data"]["source_name"], "API");

    // The classic mistakes are refused with a message that names the field.
    let wrong = http
        .post(app.at("/sandbox/api/v2/activities"))
        .header("authorization", &bearer)
        .json(&json!({"subject": "x", "type": "call", "person_id": pid}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    let wrong: Value = wrong.json().await.unwrap();
    assert!(wrong["error"].as_str().unwrap().contains("participants"));
    let unknown = http
        .get(app.at("/sandbox/api/v2/nothing"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn the_shell_opens_the_app_with_a_token_signed_for_the_chosen_user() {
    let app = app().await;
    let html = browser()
        .get(app.at("/sandbox/app?user=1002&surface=inbox"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = html.find("data-src=\"").expect("iframe data-src") + 10;
    let src = html[start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    let src = url::Url::parse(&src).unwrap();
    assert_eq!(src.path(), "/inbox");
    assert!(src.as_str().starts_with(&app.url));
    let q: std::collections::HashMap<String, String> = src.query_pairs().into_owned().collect();
    assert_eq!(q["userId"], "1002");
    assert_eq!(q["companyId"], "1000");
    assert!(!q["id"].is_empty());
    assert!(html.contains(&format!("data-runtime-id=\"{}\"", q["id"])));

    let secret = concierge::crm::oauth::sandbox_credentials(&app.state.config).jwt_secret;
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    v.required_spec_claims = ["exp".to_string()].into_iter().collect();
    let data = jsonwebtoken::decode::<Value>(
        &q["token"],
        &jsonwebtoken::DecodingKey::from_secret(secret.expose_secret().as_bytes()),
        &v,
    )
    .expect("token verifies with the sandbox secret");
    assert_eq!(data.claims["userId"], 1002);
    assert_eq!(data.claims["companyId"], 1000);
    let now = chrono::Utc::now().timestamp();
    let exp = data.claims["exp"].as_i64().unwrap();
    assert!(exp > now && exp <= now + 600);
    // Another secret does not verify it.
    assert!(
        jsonwebtoken::decode::<Value>(
            &q["token"],
            &jsonwebtoken::DecodingKey::from_secret(b"other"),
            &v
        )
        .is_err()
    );
    // The host script answers GET_SIGNED_TOKEN from this endpoint.
    let fresh: Value = browser()
        .get(app.at("/sandbox/app/token?user=1002"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(fresh["token"].as_str().unwrap().split('.').count() == 3);
    let js = browser()
        .get(app.at("/sandbox/static/host.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for command in ["initialize", "get_signed_token", "resize", "show_snackbar"] {
        assert!(js.contains(command), "{command}");
    }
}

#[tokio::test]
async fn the_data_page_escapes_names_and_sanitises_notes() {
    let app = app().await;
    let crm = client(&app, Duration::from_secs(10)).await;
    let p = crm
        .create_person(&concierge::crm::NewPerson {
            name: "<script>alert(1)</script>".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    crm.create_note(&concierge::crm::NewNote {
        content: "<p>kept</p><script>alert(2)</script><img src=x onerror=alert(3)><a href=\"javascript:alert(4)\">l</a>".into(),
        target: None,
        person_id: Some(p),
        org_id: None,
    })
    .await
    .unwrap();
    let html = browser()
        .get(app.at("/sandbox/data"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("<script>alert"), "raw script on the page");
    assert!(!html.contains("onerror"));
    assert!(!html.contains("javascript:"));
    assert!(html.contains("&lt;script&gt;alert(1)") || html.contains("&#60;script&#62;alert(1)"));
    assert!(html.contains("<p>kept</p>"));
}

#[tokio::test]
async fn fault_controls_validate_and_report() {
    let app = app().await;
    let http = browser();
    let bad = http
        .post(app.at("/sandbox/faults"))
        .json(&json!({"rate": 0.5}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    crate::crm_support::faults(
        &app,
        json!({"rate": 1.0, "kinds": ["server_error"], "seed": 3}),
    )
    .await;
    let crm = client(&app, Duration::from_secs(10)).await;
    assert!(crm.users().await.is_err());
    let shown: Value = http
        .get(app.at("/sandbox/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["plan"]["kinds"], json!(["server_error"]));
    assert_eq!(shown["injected"], 1);
    let cleared = http.delete(app.at("/sandbox/faults")).send().await.unwrap();
    assert_eq!(cleared.status(), 204);
    assert!(crm.users().await.is_ok());
}

#[tokio::test]
async fn the_store_survives_a_restart() {
    let app = app().await;
    let crm = client(&app, Duration::from_secs(10)).await;
    crm.create_org(&concierge::crm::NewOrg {
        name: "Kept Ltd".into(),
        address: None,
        owner_id: None,
    })
    .await
    .unwrap();
    let sb = app.state.sandbox.as_ref().unwrap();
    sb.save_now().await.unwrap();
    let reopened = sandbox::Sandbox::open(&app.state.config).unwrap();
    let store = reopened.snapshot();
    assert_eq!(store.orgs.len(), 1);
    assert_eq!(store.orgs[0].name, "Kept Ltd");
    // The installation's token still works with the reopened data.
    assert_eq!(store.grants.len(), 1);
    assert_eq!(store.labels[0].id, sb.snapshot().labels[0].id);
}

/// Every kind of write the sandbox takes is on disk (snapshot and journal) when it is
/// answered, and what is on disk loads to exactly the store in memory; reopening folds
/// the journal into a new snapshot.
#[tokio::test]
async fn every_write_is_kept_before_its_answer_and_loads_to_the_same_store() {
    use concierge::crm::sandbox::store;
    let app = app().await;
    let sb = app.state.sandbox.clone().unwrap();
    let file = store::file_in(&app.state.config.data_dir);
    let journal = store::journal::beside(&file);
    let same = |step: &str| {
        let kept = store::load(&file).unwrap().expect("a kept store");
        assert_eq!(
            serde_json::to_value(&kept).unwrap(),
            serde_json::to_value(sb.snapshot()).unwrap(),
            "after {step}, the files load to another store than the one in memory"
        );
    };
    let tokens = install(&app, 1001).await;
    same("an install (code, then grant)");
    let http = browser();
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    let post = async |path: &str, body: Value| -> Value {
        let resp = http
            .post(app.at(path))
            .header("authorization", &bearer)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        let answer: Value = resp.json().await.unwrap();
        same(path);
        answer["data"].clone()
    };
    let org = post("/sandbox/api/v2/organizations", json!({"name": "Kept Ltd"})).await;
    let person = post(
        "/sandbox/api/v2/persons",
        json!({"name": "Kim", "org_id": org["id"], "emails": [{"value": "kim@x.test"}]}),
    )
    .await;
    let lead = post(
        "/sandbox/api/v1/leads",
        json!({"title": "Kim's lead", "person_id": person["id"]}),
    )
    .await;
    let deal = post(
        "/sandbox/api/v2/deals",
        json!({"title": "Kim's deal", "person_id": person["id"]}),
    )
    .await;
    post(
        "/sandbox/api/v2/activities",
        json!({"subject": "Call", "type": "call", "lead_id": lead["id"]}),
    )
    .await;
    post(
        "/sandbox/api/v1/notes",
        json!({"content": "<p>hi</p>", "lead_id": lead["id"]}),
    )
    .await;
    let hook = json!({"name": "hook", "subscription_url": app.at("/nowhere"), "event_action": "*", "event_object": "deal"});
    post("/sandbox/api/v1/webhooks", hook.clone()).await;
    let second = post("/sandbox/api/v1/webhooks", hook).await;
    let gone = http
        .delete(app.at(&format!("/sandbox/api/v1/webhooks/{}", second["id"])))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 200);
    same("a webhook's removal");
    // The data page's moves: a deal won, a lead converted (its note and activity move).
    let moved = http
        .post(app.at(&format!("/sandbox/deals/{}/status", deal["id"])))
        .form(&[("status", "won")])
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 303);
    same("a deal won");
    let lead_id = lead["id"].as_str().unwrap();
    let converted = http
        .post(app.at(&format!("/sandbox/leads/{lead_id}/convert")))
        .send()
        .await
        .unwrap();
    assert_eq!(converted.status(), 303);
    same("a lead converted");
    let (status, _) = token_call(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 200);
    same("a token refresh");
    let expired = http
        .post(app.at("/sandbox/oauth/expire"))
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 200);
    same("expiring the tokens");
    let store_now = sb.snapshot();
    assert!(store_now.leads.is_empty() && store_now.deals.len() == 2);
    assert!(store_now.notes[0].deal_id.is_some() && store_now.activities[0].deal_id.is_some());
    assert_eq!(store_now.webhooks.len(), 1);
    // The writes went to the journal; reopening folds it into the snapshot.
    assert!(std::fs::metadata(&journal).unwrap().len() > 0);
    let reopened = sandbox::Sandbox::open(&app.state.config).unwrap();
    assert_eq!(
        serde_json::to_value(reopened.snapshot()).unwrap(),
        serde_json::to_value(&store_now).unwrap()
    );
    assert_eq!(std::fs::metadata(&journal).unwrap().len(), 0);
}

#[tokio::test]
async fn no_sandbox_when_a_pipedrive_app_is_configured() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::common::test_config(&db, dir.path().to_owned());
    config.pipedrive.client_id = Some("real-app".into());
    config.pipedrive.client_secret = Some(secrecy::SecretString::from("real-secret"));
    let server = concierge::web::build(config).await.unwrap();
    let url = server.url.clone();
    let handle = server.handle();
    tokio::spawn(server.run());
    assert!(!dir.path().join("sandbox.json").exists());
    let resp = browser()
        .get(format!("{url}/sandbox/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    handle.stop(false).await;
}

#[tokio::test]
async fn chat_with_yourself_shows_the_demo_site_beside_a_reps_inbox() {
    let app = app().await;
    let html = browser()
        .get(app.at("/sandbox/chat?user=1003&theme=dark&width=floating"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!(
        "id=\"demo-frame\" title=\"Demo website (visitor)\" src=\"{}/demo/pricing\"",
        app.url
    )));
    assert!(html.contains("class=\"side-by-side floating\""));
    assert!(html.contains("<body class=\"dark\">"));
    let at = html.find("id=\"app-frame\"").unwrap();
    let start = html[at..].find("data-src=\"").unwrap() + at + 10;
    let src = html[start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    let src = url::Url::parse(&src).unwrap();
    assert_eq!(src.path(), "/inbox");
    let q: std::collections::HashMap<String, String> = src.query_pairs().into_owned().collect();
    assert_eq!(q["userId"], "1003");
    assert_eq!(q["theme"], "dark");
    // Without a user, a rep (not the admin) is chosen; every user can be picked.
    let html = browser()
        .get(app.at("/sandbox/chat"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<strong>Ben Rep</strong>"));
    for user in [1001, 1003, 1004] {
        assert!(
            html.contains(&format!("/sandbox/chat?user={user}&amp;theme=light")),
            "{user}"
        );
    }
}
