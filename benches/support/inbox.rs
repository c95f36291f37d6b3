//! A rep signed in to the inbox as the CRM's iframe does it: a launch token signed with
//! the app's JWT secret, `GET /inbox`, then the session cookie and its CSRF token.
#![allow(dead_code)]

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

/// A signed-in rep: the session cookie (`name=value`) and the CSRF token POSTs echo.
#[derive(Debug, Clone)]
pub struct RepSession {
    pub cookie: String,
    pub csrf: String,
}

/// Sign CRM user `rep` of CRM company `crm_company` in at `base`.
pub async fn sign_in(
    client: &reqwest::Client,
    base: &str,
    jwt_secret: &str,
    crm_company: i64,
    rep: i64,
) -> RepSession {
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"userId": rep, "companyId": crm_company, "exp": chrono::Utc::now().timestamp() + 3600}),
        &EncodingKey::from_secret(jwt_secret.as_bytes()),
    )
    .expect("launch token");
    let page = client
        .get(format!(
            "{base}/inbox?userId={rep}&companyId={crm_company}&token={token}"
        ))
        .send()
        .await
        .expect("inbox");
    let cookie = page.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("cookie")
        .to_owned();
    let html = page.text().await.expect("page");
    let at = html.find("name=\"csrf-token\" content=\"").expect("csrf") + 27;
    let csrf = html[at..].split('"').next().expect("csrf").to_owned();
    RepSession { cookie, csrf }
}

/// Switch the signed-in rep online.
pub async fn go_online(client: &reqwest::Client, base: &str, rep: &RepSession) {
    let online: serde_json::Value = client
        .post(format!("{base}/api/inbox/presence"))
        .header("cookie", &rep.cookie)
        .header("x-csrf-token", &rep.csrf)
        .json(&json!({"online": true}))
        .send()
        .await
        .expect("presence")
        .json()
        .await
        .expect("presence");
    assert_eq!(online["online"], true, "the rep is online");
}
