//! Sign-in inside the CRM (R7) and company isolation of the signed-in pages (R6).

use crate::common::{TestApp, TestDb};
use base64::Engine as _;
use concierge::config::Config;
use concierge::crm::CrmUser;
use concierge::crm::secrets::{TokenCipher, token_owner};
use concierge::db::{self, companies, crm_users, installs, outbox};
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::SecretString;
use serde_json::{Value, json};

const JWT_SECRET: &str = "test-jwt-secret";

fn configure(c: &mut Config) {
    c.pipedrive.client_id = Some("test-app".into());
    c.pipedrive.client_secret = Some(SecretString::from("test-client-secret"));
    c.pipedrive.jwt_secret = Some(SecretString::from(JWT_SECRET));
    c.outbox.concurrency = 0;
}

struct Tenant {
    company_id: String,
    crm_company_id: i64,
    admin: i64,
    rep: i64,
    row_id: String,
}

/// A company with an install, an admin, a rep and one failed capture.
fn tenant(app: &TestApp, crm_company_id: i64, name: &str) -> Tenant {
    let mut conn = app.state.db.conn().unwrap();
    let company = companies::create(&mut conn, name, Some(crm_company_id)).unwrap();
    let (admin, rep) = (crm_company_id * 100 + 1, crm_company_id * 100 + 2);
    let users = vec![
        CrmUser {
            id: admin,
            name: format!("{name} Admin"),
            email: format!("admin@{crm_company_id}.example"),
            is_admin: true,
            active: true,
            icon_url: None,
        },
        CrmUser {
            id: rep,
            name: format!("{name} Rep"),
            email: format!("rep@{crm_company_id}.example"),
            is_admin: false,
            active: true,
            icon_url: None,
        },
    ];
    crm_users::sync(&mut conn, &company.id, &users, db::now_ms()).unwrap();
    let cipher = TokenCipher::new(&app.state.config.secret_key);
    let owner = token_owner(&company.id, admin);
    let grant = installs::SealedGrant {
        access_token: cipher.seal("access", &owner),
        refresh_token: cipher.seal("refresh", &owner),
        expires_at: db::now_ms() + 3_600_000,
        scope: "leads:full".into(),
        api_domain: format!("https://{crm_company_id}.crm.example"),
    };
    installs::save(&mut conn, &company.id, admin, &grant, db::now_ms()).unwrap();
    let row = outbox::enqueue(
        &mut conn,
        &company.id,
        None,
        outbox::Kind::Capture,
        &json!({
            "card": "c", "create": "lead", "title": format!("{name} secret lead"),
            "person": {"name": "V"}, "owner": "rep", "note": "none"
        }),
        db::now_ms(),
    )
    .unwrap();
    // The CRM refused it for good.
    use diesel::prelude::*;
    diesel::update(concierge::db::schema::outbox::table.find(&row.id))
        .set((
            concierge::db::schema::outbox::status.eq("failed"),
            concierge::db::schema::outbox::last_error.eq(format!("lead: {name} CRM says no")),
        ))
        .execute(&mut *conn)
        .unwrap();
    Tenant {
        company_id: company.id,
        crm_company_id,
        admin,
        rep,
        row_id: row.id,
    }
}

fn sign(claims: &Value, alg: Algorithm, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn exp(offset: i64) -> i64 {
    chrono::Utc::now().timestamp() + offset
}

fn launch_url(app: &TestApp, page: &str, user: i64, company: i64, token: &str) -> String {
    app.at(&format!(
        "{page}?userId={user}&companyId={company}&token={token}&id=runtime-42"
    ))
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Open `page` as (user, company) with a valid token; returns the session cookie pair.
async fn sign_in(app: &TestApp, page: &str, user: i64, company: i64) -> (String, String) {
    let token = sign(
        &json!({"userId": user, "companyId": company, "exp": exp(300)}),
        Algorithm::HS256,
        JWT_SECRET,
    );
    let resp = client()
        .get(launch_url(app, page, user, company, &token))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{page}");
    let set = resp
        .headers()
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .to_owned();
    let body = resp.text().await.unwrap();
    let pair = set.split(';').next().unwrap().to_owned();
    (pair, body)
}

fn csrf_of(body: &str) -> String {
    let at = body.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    body[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn forged_launch_tokens_get_401() {
    let app = TestApp::spawn_with(TestDb::sqlite(), configure).await;
    let a = tenant(&app, 11, "Acme");
    let (u, c) = (a.admin, a.crm_company_id);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none_token = format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(json!({"userId": u, "companyId": c}).to_string())
    );
    // Algorithm confusion: an RS256 header over an HMAC signature made with the secret.
    let confused = {
        let signing_input = format!(
            "{}.{}",
            b64.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
            b64.encode(json!({"userId": u, "companyId": c, "exp": exp(300)}).to_string())
        );
        let mut mac =
            <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(JWT_SECRET.as_bytes()).unwrap();
        mac.update(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            b64.encode(mac.finalize().into_bytes())
        )
    };
    let good = json!({"userId": u, "companyId": c, "exp": exp(300)});
    let cases: Vec<(&str, String, i64, i64)> = vec![
        ("alg none", none_token, u, c),
        ("wrong secret", sign(&good, Algorithm::HS256, "guess"), u, c),
        (
            "expired",
            sign(
                &json!({"userId": u, "companyId": c, "exp": exp(-600)}),
                Algorithm::HS256,
                JWT_SECRET,
            ),
            u,
            c,
        ),
        ("HS512", sign(&good, Algorithm::HS512, JWT_SECRET), u, c),
        ("RS256 confusion", confused, u, c),
        (
            "no userId",
            sign(
                &json!({"companyId": c, "exp": exp(300)}),
                Algorithm::HS256,
                JWT_SECRET,
            ),
            u,
            c,
        ),
        (
            "no companyId",
            sign(
                &json!({"userId": u, "exp": exp(300)}),
                Algorithm::HS256,
                JWT_SECRET,
            ),
            u,
            c,
        ),
        (
            "other userId",
            sign(&good, Algorithm::HS256, JWT_SECRET),
            a.rep,
            c,
        ),
        (
            "other companyId",
            sign(&good, Algorithm::HS256, JWT_SECRET),
            u,
            99,
        ),
        ("garbage", "not.a.jwt".into(), u, c),
    ];
    for page in ["/settings", "/inbox"] {
        for (name, token, user, company) in &cases {
            let resp = client()
                .get(launch_url(&app, page, *user, *company, token))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 401, "{page}: {name}");
            assert!(resp.headers().get("set-cookie").is_none(), "{page}: {name}");
        }
        // No token and no session.
        let resp = client().get(app.at(page)).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{page} without anything");
    }
}

#[tokio::test]
async fn a_valid_launch_starts_an_iframe_session_and_loads_the_sdk() {
    let app = TestApp::spawn_with(TestDb::sqlite(), configure).await;
    let a = tenant(&app, 11, "Acme");
    let token = sign(
        &json!({"userId": a.admin, "companyId": a.crm_company_id, "exp": exp(300)}),
        Algorithm::HS256,
        JWT_SECRET,
    );
    let resp = client()
        .get(launch_url(
            &app,
            "/settings",
            a.admin,
            a.crm_company_id,
            &token,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("concierge_session="), "{cookie}");
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=None"), "{cookie}");
    let body = resp.text().await.unwrap();
    assert!(body.contains("src=\"/assets/app-extensions-sdk.js\""));
    assert!(body.contains("data-sdk-id=\"runtime-42\""));
    assert!(body.contains("Acme secret lead"));
    assert!(body.contains("Acme CRM says no"));
    assert!(body.contains("Acme Rep"));
    // The SDK is served by the app itself.
    let sdk = client()
        .get(app.at("/assets/app-extensions-sdk.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(sdk.status(), 200);
    assert!(sdk.text().await.unwrap().contains("AppExtensionsSDK"));
    // A token without exp, or living longer than an hour, is refused with a plain message.
    for claims in [
        json!({"userId": a.admin, "companyId": a.crm_company_id}),
        json!({"userId": a.admin, "companyId": a.crm_company_id, "exp": exp(7200)}),
    ] {
        let token = sign(&claims, Algorithm::HS256, JWT_SECRET);
        let resp = client()
            .get(launch_url(
                &app,
                "/inbox",
                a.admin,
                a.crm_company_id,
                &token,
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{claims}");
        let body = resp.text().await.unwrap();
        assert!(body.contains("invalid token"), "{body}");
    }
}

#[tokio::test]
async fn writes_need_the_session_and_its_csrf_token() {
    let app = TestApp::spawn_with(TestDb::sqlite(), configure).await;
    let a = tenant(&app, 11, "Acme");
    let (cookie, body) = sign_in(&app, "/settings", a.admin, a.crm_company_id).await;
    let csrf = csrf_of(&body);
    let retry = app.at(&format!("/settings/sync-log/{}/retry", a.row_id));
    // No session at all.
    let resp = client()
        .post(&retry)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // Session but no or wrong CSRF token.
    for form in [vec![], vec![("csrf", "forged")]] {
        let resp = client()
            .post(&retry)
            .header("cookie", &cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
    }
    let status = |app: &TestApp| {
        let mut conn = app.state.db.conn().unwrap();
        concierge::db::outbox::store::get(&mut conn, &a.company_id, &a.row_id)
            .unwrap()
            .unwrap()
            .status
    };
    assert_eq!(status(&app), "failed");
    // With both: the failed row is due again.
    let resp = client()
        .post(&retry)
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("sdk_id", "runtime-42")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let location = resp.headers().get("location").unwrap().to_str().unwrap();
    assert!(
        location.starts_with("/settings?id=runtime-42"),
        "{location}"
    );
    assert_eq!(status(&app), "pending");
}

#[tokio::test]
async fn admin_rights_come_from_the_crm_or_a_grant() {
    let app = TestApp::spawn_with(TestDb::sqlite(), configure).await;
    let a = tenant(&app, 11, "Acme");
    let token = sign(
        &json!({"userId": a.rep, "companyId": a.crm_company_id, "exp": exp(300)}),
        Algorithm::HS256,
        JWT_SECRET,
    );
    let rep_settings = launch_url(&app, "/settings", a.rep, a.crm_company_id, &token);
    let resp = client().get(&rep_settings).send().await.unwrap();
    assert_eq!(resp.status(), 403, "a rep is not an admin");
    // The rep can still open the inbox.
    let (_, _) = sign_in(&app, "/inbox", a.rep, a.crm_company_id).await;
    // An admin grants the rep admin rights.
    let (cookie, body) = sign_in(&app, "/settings", a.admin, a.crm_company_id).await;
    let resp = client()
        .post(app.at(&format!("/settings/users/{}/admin", a.rep)))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf_of(&body).as_str()), ("grant", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let resp = client().get(&rep_settings).send().await.unwrap();
    assert_eq!(resp.status(), 200, "granted");
}

#[tokio::test]
async fn one_company_never_sees_another() {
    for t in TestDb::all() {
        let app = TestApp::spawn_with(t, configure).await;
        let a = tenant(&app, 11, "Acme");
        let b = tenant(&app, 22, "Globex");
        let (cookie, body) = sign_in(&app, "/settings", a.admin, a.crm_company_id).await;
        assert!(body.contains("Acme secret lead"));
        assert!(!body.contains("Globex"), "B's data on A's page");
        let csrf = csrf_of(&body);
        // A's session with B's ids in the address.
        let resp = client()
            .get(app.at(&format!(
                "/settings?userId={}&companyId={}",
                b.admin, b.crm_company_id
            )))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
        assert!(!resp.text().await.unwrap().contains("Globex"));
        // A's session acting on B's row and B's user.
        let resp = client()
            .post(app.at(&format!("/settings/sync-log/{}/retry", b.row_id)))
            .header("cookie", &cookie)
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404);
        let resp = client()
            .post(app.at(&format!("/settings/users/{}/admin", b.rep)))
            .header("cookie", &cookie)
            .form(&[("csrf", csrf.as_str()), ("grant", "true")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404);
        {
            let mut conn = app.state.db.conn().unwrap();
            let row = concierge::db::outbox::store::get(&mut conn, &b.company_id, &b.row_id)
                .unwrap()
                .unwrap();
            assert_eq!(row.status, "failed");
            let rep = crm_users::by_crm_id(&mut conn, &b.company_id, b.rep)
                .unwrap()
                .unwrap();
            assert!(!rep.can_admin);
            // A's repository calls with B's row id find nothing.
            assert!(
                concierge::db::outbox::store::get(&mut conn, &a.company_id, &b.row_id)
                    .unwrap()
                    .is_none()
            );
            assert!(
                installs::by_id(&mut conn, &a.company_id, "x")
                    .unwrap()
                    .is_none()
            );
        }
        // A valid token of B's admin cannot be replayed for A's company.
        let token = sign(
            &json!({"userId": b.admin, "companyId": b.crm_company_id, "exp": exp(300)}),
            Algorithm::HS256,
            JWT_SECRET,
        );
        let resp = client()
            .get(launch_url(
                &app,
                "/settings",
                b.admin,
                a.crm_company_id,
                &token,
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
}

#[tokio::test]
async fn every_signed_in_page_carries_the_csrf_token_in_a_meta_tag() {
    let app = TestApp::spawn_with(TestDb::sqlite(), configure).await;
    let a = tenant(&app, 11, "Acme");
    let (_, settings) = sign_in(&app, "/settings", a.admin, a.crm_company_id).await;
    let csrf = csrf_of(&settings);
    assert!(
        settings.contains(&format!("<meta name=\"csrf-token\" content=\"{csrf}\">")),
        "the settings page"
    );
    let (_, inbox) = sign_in(&app, "/inbox", a.rep, a.crm_company_id).await;
    let at = inbox
        .find("<meta name=\"csrf-token\" content=\"")
        .expect("the inbox's meta")
        + 34;
    let token = inbox[at..].split('"').next().unwrap();
    assert!(token.len() >= 20, "{token}");
    // The inbox is a shell its own script fills from the rep API.
    assert!(inbox.contains("<script src=\"/assets/inbox.js\" defer></script>"));
    for id in [
        "online-toggle",
        "chat-list",
        "transcript",
        "composer",
        "panel",
    ] {
        assert!(inbox.contains(&format!("id=\"{id}\"")), "{id}");
    }
    let script = client()
        .get(app.at("/assets/inbox.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    let script = script.text().await.unwrap();
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!script.contains(sink), "the inbox script uses {sink}");
    }
    assert!(
        !script.contains("://"),
        "the inbox script names no other host"
    );
}
