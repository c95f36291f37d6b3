//! Test support for the CRM client and the sandbox CRM: install the app into the sandbox
//! through its OAuth pages, make clients, set faults.
#![allow(dead_code)]

use std::time::Duration;

use base64::Engine as _;
use concierge::crm::pipedrive::{ClientOptions, PipedriveClient, SharedState, http_client};
use concierge::crm::sandbox;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;

use crate::common::TestApp;

/// A browser-like HTTP client that does not follow redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // No kept-alive connections: on a loaded machine the server may close an idle one
        // just as the next request goes out on it.
        .pool_max_idle_per_host(0)
        .build()
        .expect("http client")
}

pub fn creds(app: &TestApp) -> concierge::crm::oauth::SandboxCredentials {
    concierge::crm::oauth::sandbox_credentials(&app.state.config)
}

pub fn basic(app: &TestApp) -> String {
    let c = creds(app);
    let raw = format!("{}:{}", c.client_id, c.client_secret.expose_secret());
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// Approve the consent page as `user_id`; the authorization code.
pub async fn authorize(app: &TestApp, user_id: i64, state: &str) -> String {
    let resp = browser()
        .post(app.at("/sandbox/oauth/authorize"))
        .form(&[
            ("client_id", sandbox::CLIENT_ID),
            ("redirect_uri", &app.at("/oauth/callback")),
            ("state", state),
            ("user_id", &user_id.to_string()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .expect("consent answer");
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let url = url::Url::parse(&location).unwrap();
    assert!(
        location.starts_with(&app.at("/oauth/callback")),
        "{location}"
    );
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code")
}

/// The token endpoint's answer for a form.
pub async fn token_call(app: &TestApp, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = browser()
        .post(app.at("/sandbox/oauth/token"))
        .header("authorization", basic(app))
        .form(form)
        .send()
        .await
        .expect("token answer");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json"))
}

/// Install the app as `user_id`: the token answer.
pub async fn install(app: &TestApp, user_id: i64) -> Value {
    let code = authorize(app, user_id, "st").await;
    let redirect = app.at("/oauth/callback");
    let (status, body) = token_call(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A client for the sandbox with the installing user's token.
pub async fn client(app: &TestApp, timeout: Duration) -> PipedriveClient {
    let tokens = install(app, 1001).await;
    client_with(&tokens, timeout)
}

pub fn client_with(tokens: &Value, timeout: Duration) -> PipedriveClient {
    let http = http_client(ClientOptions {
        timeout,
        ..ClientOptions::default()
    })
    .expect("http client");
    PipedriveClient::new(
        http,
        tokens["api_domain"].as_str().expect("api_domain"),
        SecretString::from(tokens["access_token"].as_str().expect("access_token")),
        SharedState::new(),
    )
}

/// Set a fault plan.
pub async fn faults(app: &TestApp, plan: Value) {
    let resp = browser()
        .post(app.at("/sandbox/faults"))
        .json(&plan)
        .send()
        .await
        .expect("faults answer");
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
}

/// The sandbox's API journal.
pub async fn journal(app: &TestApp) -> Vec<Value> {
    let v: Value = browser()
        .get(app.at("/sandbox/journal"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["exchanges"].as_array().cloned().unwrap_or_default()
}

/// Install the app into the sandbox through the app's own routes (`/oauth/install`, the
/// consent page, `/oauth/callback`) as `user_id`; the app's company id.
pub async fn install_app(app: &TestApp, user_id: i64) -> String {
    let resp = browser()
        .get(app.at("/oauth/install"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let state = location
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("a state");
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let code = authorize(app, user_id, &state).await;
    let callback = format!(
        "{}?code={code}&state={}",
        app.at("/oauth/callback"),
        url::form_urlencoded::byte_serialize(state.as_bytes()).collect::<String>()
    );
    let resp = browser()
        .get(callback)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    // On the blocking pool: tests run many installs side by side on one runtime.
    app.state
        .db
        .run(|conn| concierge::db::companies::by_crm_id(conn, sandbox::COMPANY_ID))
        .await
        .unwrap()
        .expect("installed")
        .id
}

/// The app installed by CRM user `user_id` (the sandbox's company), with the playbook
/// `yaml` published in it.
pub async fn installed_with(
    app: &TestApp,
    user_id: i64,
    yaml: &str,
) -> concierge::db::companies::Company {
    use concierge::db::{companies, playbooks};
    let company_id = install_app(app, user_id).await;
    let doc =
        concierge::playbook::check::check_document(yaml, concierge::playbook::load::Format::Yaml)
            .unwrap();
    app.state
        .db
        .run(move |conn| {
            playbooks::save_and_publish(conn, &company_id, &doc)?;
            companies::by_id(conn, &company_id).map(Option::unwrap)
        })
        .await
        .unwrap()
}
