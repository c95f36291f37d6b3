//! Install, refresh and uninstall against the sandbox CRM, through the app's own routes.

use crate::common::{TestApp, TestDb};
use crate::wait::eventually_for;
use concierge::crm::Crm;
use concierge::crm::oauth::StateSigner;
use concierge::crm::sandbox;
use concierge::db::{self, Backend, companies, crm_users, installs, outbox, schema};
use diesel::prelude::*;
use secrecy::ExposeSecret as _;
use serde_json::json;

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// `/oauth/install`: the authorize URL's `state` and the browser's nonce cookie.
async fn start(app: &TestApp) -> (String, String) {
    let resp = browser()
        .get(app.at("/oauth/install"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let location = header(&resp, "location");
    assert!(
        location.starts_with(&app.at("/sandbox/oauth/authorize?")),
        "{location}"
    );
    let url = url::Url::parse(&location).unwrap();
    let q = |k: &str| {
        url.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(q("client_id").as_deref(), Some(sandbox::CLIENT_ID));
    assert_eq!(q("redirect_uri"), Some(app.at("/oauth/callback")));
    let cookie = header(&resp, "set-cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    (
        q("state").expect("a state"),
        cookie.split(';').next().unwrap().to_owned(),
    )
}

/// The sandbox's consent page approves as `user`: the callback URL it redirects to.
async fn consent(app: &TestApp, user: i64, state: &str, allow: bool) -> String {
    let resp = browser()
        .post(app.at("/sandbox/oauth/authorize"))
        .form(&[
            ("client_id", sandbox::CLIENT_ID),
            ("redirect_uri", &app.at("/oauth/callback")),
            ("state", state),
            ("user_id", &user.to_string()),
            ("decision", if allow { "allow" } else { "deny" }),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    header(&resp, "location")
}

async fn callback(callback_url: &str, cookie: Option<&str>) -> (u16, String) {
    let mut req = browser().get(callback_url);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// A full install as the sandbox's admin; the company id.
async fn install(app: &TestApp) -> String {
    let (state, cookie) = start(app).await;
    let back = consent(app, 1001, &state, true).await;
    let (status, body) = callback(&back, Some(&cookie)).await;
    assert_eq!(status, 200, "{body}");
    let mut conn = app.state.db.conn().unwrap();
    companies::by_crm_id(&mut conn, sandbox::COMPANY_ID)
        .unwrap()
        .expect("the company is linked")
        .id
}

fn grants(app: &TestApp) -> Vec<(String, String)> {
    app.state
        .sandbox
        .as_ref()
        .unwrap()
        .snapshot()
        .grants
        .into_iter()
        .map(|g| (g.access_token, g.refresh_token))
        .collect()
}

#[tokio::test]
async fn install_stores_sealed_tokens_and_syncs_users() {
    for t in TestDb::all() {
        let backend = t.backend;
        let db_file = t.url.clone();
        let app = TestApp::spawn(t).await;
        let company_id = install(&app).await;
        let mut conn = app.state.db.conn().unwrap();
        let company = companies::by_id(&mut conn, &company_id).unwrap().unwrap();
        assert_eq!(company.api_domain, Some(app.at("/sandbox")));
        let stored = installs::for_company(&mut conn, &company_id).unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].crm_user_id, 1001);
        let users = crm_users::list(&mut conn, &company_id).unwrap();
        assert_eq!(users.len(), 4, "the sandbox's users");
        assert!(users.iter().any(|u| u.crm_user_id == 1001 && u.is_admin));
        assert!(users.iter().any(|u| u.crm_user_id == 1002 && !u.is_admin));
        // The tokens are sealed: not in the row, and (SQLite) not in the file.
        let (access, refresh) = grants(&app).pop().unwrap();
        for token in [&access, &refresh] {
            for sealed in [&stored[0].access_token, &stored[0].refresh_token] {
                assert!(!sealed.windows(token.len()).any(|w| w == token.as_bytes()));
            }
        }
        if backend == Backend::Sqlite {
            drop(conn);
            // Checkpoint the WAL so the file holds everything.
            let mut conn = app.state.db.conn().unwrap();
            diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut *conn)
                .unwrap();
            let mut bytes = std::fs::read(&db_file).unwrap();
            bytes.extend(std::fs::read(format!("{db_file}-wal")).unwrap_or_default());
            assert!(
                bytes.windows(20).any(|w| w == b"sandbox-demo.example"),
                "the user list is in the file"
            );
            for token in [&access, &refresh] {
                assert!(
                    !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
                    "a token is readable in the database file"
                );
            }
        }
        // The app's client works with the stored tokens.
        let connected = app.state.crm.access.connect(&company_id).await.unwrap();
        assert_eq!(
            connected.client.me().await.unwrap().company_id,
            sandbox::COMPANY_ID
        );
    }
}

#[tokio::test]
async fn state_is_checked_whenever_present() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (state, cookie) = start(&app).await;
    // Tampered: another nonce with the same MAC.
    let tampered = format!("x{state}");
    let back = consent(&app, 1001, &tampered, true).await;
    assert_eq!(callback(&back, Some(&cookie)).await.0, 403);
    // Another browser: no cookie, or another install's cookie.
    let back = consent(&app, 1001, &state, true).await;
    assert_eq!(callback(&back, None).await.0, 403);
    let (_, other_cookie) = start(&app).await;
    assert_eq!(callback(&back, Some(&other_cookie)).await.0, 403);
    // Expired: signed with the app's key eleven minutes ago.
    let signer = StateSigner::new(&app.state.config.secret_key);
    let (old_state, old_nonce) = signer.issue(chrono::Utc::now().timestamp() - 660);
    let back = consent(&app, 1001, &old_state, true).await;
    let old_cookie = format!("concierge_oauth_nonce={old_nonce}");
    let (status, body) = callback(&back, Some(&old_cookie)).await;
    assert_eq!(status, 403);
    assert!(body.contains("expired"), "{body}");
    // The user said no.
    let back = consent(&app, 1001, &state, false).await;
    assert_eq!(callback(&back, Some(&cookie)).await.0, 400);
    {
        let mut conn = app.state.db.conn().unwrap();
        assert!(
            companies::by_crm_id(&mut conn, sandbox::COMPANY_ID)
                .unwrap()
                .is_none()
        );
    }
    // A marketplace install comes without state: accepted.
    let back = consent(&app, 1001, "", true).await;
    assert!(!back.contains("state="));
    assert_eq!(callback(&back, None).await.0, 200);
}

#[tokio::test]
async fn tokens_refresh_before_expiry_and_once_on_401() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let company_id = install(&app).await;
    let access = &app.state.crm.access;
    let first = access.connect(&company_id).await.unwrap();
    // The CRM expires every token: the next call is refused, one refresh fixes it.
    browser()
        .post(app.at("/sandbox/oauth/expire"))
        .send()
        .await
        .unwrap();
    assert!(matches!(
        first.client.users().await,
        Err(concierge::crm::CrmError::Unauthorized)
    ));
    let second = access.reconnect(&company_id, first.version).await.unwrap();
    assert_ne!(second.version, first.version);
    assert_eq!(second.client.users().await.unwrap().len(), 4);
    // A client made before the refresh (a delivery still in flight) sends the new token.
    assert_eq!(first.client.users().await.unwrap().len(), 4);
    // A second caller with the same stale version reuses that refresh.
    let again = access.reconnect(&company_id, first.version).await.unwrap();
    assert_eq!(again.version, second.version);
    // A token about to expire is refreshed before it is used.
    {
        let mut conn = app.state.db.conn().unwrap();
        diesel::update(schema::installs::table)
            .set(schema::installs::expires_at.eq(db::now_ms() + 60_000))
            .execute(&mut *conn)
            .unwrap();
    }
    let third = access.connect(&company_id).await.unwrap();
    assert_ne!(third.version, second.version);
    assert_eq!(third.client.users().await.unwrap().len(), 4);
    let mut conn = app.state.db.conn().unwrap();
    let install = installs::current(&mut conn, &company_id).unwrap().unwrap();
    assert!(install.expires_at > db::now_ms() + 3_000_000);
}

fn seed_personal_data(app: &TestApp, company_id: &str) {
    let mut conn = app.state.db.conn().unwrap();
    let now = db::now_ms();
    diesel::insert_into(schema::visitors::table)
        .values((
            schema::visitors::id.eq("v1"),
            schema::visitors::company_id.eq(company_id),
            schema::visitors::email.eq("visitor@example.com"),
            schema::visitors::name.eq("Vera Visitor"),
            schema::visitors::first_seen_at.eq(now),
            schema::visitors::last_seen_at.eq(now),
        ))
        .execute(&mut *conn)
        .unwrap();
    diesel::insert_into(schema::conversations::table)
        .values((
            schema::conversations::id.eq("c1"),
            schema::conversations::company_id.eq(company_id),
            schema::conversations::visitor_id.eq("v1"),
            schema::conversations::status.eq("bot"),
            schema::conversations::created_at.eq(now),
            schema::conversations::updated_at.eq(now),
        ))
        .execute(&mut *conn)
        .unwrap();
    diesel::insert_into(schema::timers::table)
        .values((
            schema::timers::id.eq("t1"),
            schema::timers::company_id.eq(company_id),
            schema::timers::conversation_id.eq("c1"),
            schema::timers::kind.eq("live_chat_wait"),
            schema::timers::card.eq("wait"),
            schema::timers::due_at.eq(now + 60_000),
            schema::timers::status.eq("armed"),
            schema::timers::created_at.eq(now),
        ))
        .execute(&mut *conn)
        .unwrap();
    outbox::enqueue(
        &mut conn,
        company_id,
        None,
        outbox::Kind::Capture,
        &json!({"person": {"email": "visitor@example.com"}}),
        now + 3_600_000,
    )
    .unwrap();
}

#[tokio::test]
async fn uninstall_forgets_the_company_and_stops_its_work() {
    for t in TestDb::all() {
        let app = TestApp::spawn(t).await;
        let company_id = install(&app).await;
        seed_personal_data(&app, &company_id);
        let body = json!({
            "client_id": sandbox::CLIENT_ID,
            "company_id": sandbox::COMPANY_ID,
            "user_id": 1001,
            "timestamp": "2026-11-21T10:00:00Z"
        });
        let creds = concierge::crm::oauth::sandbox_credentials(&app.state.config);
        let good = concierge::crm::oauth::basic_auth_value(
            &creds.client_id,
            creds.client_secret.expose_secret(),
        );
        let bad = concierge::crm::oauth::basic_auth_value(&creds.client_id, "guess");
        for auth in [None, Some(bad.as_str()), Some("Bearer x")] {
            let mut req = browser().delete(app.at("/oauth/callback")).json(&body);
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            assert_eq!(req.send().await.unwrap().status(), 401, "{auth:?}");
        }
        {
            let mut conn = app.state.db.conn().unwrap();
            assert_eq!(
                installs::for_company(&mut conn, &company_id).unwrap().len(),
                1
            );
        }
        let resp = browser()
            .delete(app.at("/oauth/callback"))
            .header("authorization", &good)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let mut conn = app.state.db.conn().unwrap();
        assert!(
            installs::for_company(&mut conn, &company_id)
                .unwrap()
                .is_empty()
        );
        assert!(crm_users::list(&mut conn, &company_id).unwrap().is_empty());
        let visitors: i64 = schema::visitors::table
            .filter(schema::visitors::company_id.eq(&company_id))
            .count()
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(visitors, 0);
        let armed: i64 = schema::timers::table
            .filter(schema::timers::company_id.eq(&company_id))
            .filter(schema::timers::status.eq("armed"))
            .count()
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(armed, 0);
        let rows = outbox::for_company(&mut conn, &company_id, 10).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].status, "cancelled");
        assert!(!rows[0].payload.contains("visitor@example.com"));
        assert!(app.state.crm.access.connect(&company_id).await.is_err());
    }
}

/// A capture made before the CRM was connected goes as soon as the install finishes, not
/// after the worker's wait for a disconnected company (ten minutes).
#[tokio::test]
async fn finishing_an_install_sends_the_captures_that_waited() {
    use concierge::playbook::effect::{CrmWrite, PersonData};
    use concierge::playbook::model::{CaptureTarget, NoteMode, Owner};
    for t in TestDb::all() {
        let app = TestApp::spawn_with(t, |c| c.outbox.poll_ms = 20).await;
        let company_id = {
            let mut conn = app.state.db.conn().unwrap();
            companies::first(&mut conn)
                .unwrap()
                .expect("demo company")
                .id
        };
        let write = CrmWrite {
            card: "capture".into(),
            create: CaptureTarget::Lead,
            title: "Chat lead before install".into(),
            person: PersonData {
                name: Some("Early Visitor".into()),
                email: Some("early@example.com".into()),
                phone: None,
            },
            org: None,
            value: None,
            expected_close_date: None,
            owner: Owner::Rep,
            label: None,
            activity: None,
            note: NoteMode::default(),
            answers: Vec::new(),
        };
        let row_id = {
            let mut conn = app.state.db.conn().unwrap();
            let payload = serde_json::to_value(&write).unwrap();
            outbox::enqueue(
                &mut conn,
                &company_id,
                None,
                outbox::Kind::Capture,
                &payload,
                db::now_ms(),
            )
            .unwrap()
            .id
        };
        let row = || {
            let mut conn = app.state.db.conn().unwrap();
            outbox::for_company(&mut conn, &company_id, 10)
                .unwrap()
                .into_iter()
                .find(|r| r.id == row_id)
                .expect("the row")
        };
        // The worker tried, found no CRM connected and put the row aside.
        let ten_seconds = std::time::Duration::from_secs(10);
        eventually_for(
            "the worker to try and put the row aside",
            ten_seconds,
            || async { (row().next_attempt_at >= db::now_ms() + 60_000).then_some(()) },
        )
        .await;
        crate::crm_support::install_app(&app, 1001).await;
        eventually_for(
            "the row delivered after the install",
            ten_seconds,
            || async { (row().status == "done").then_some(()) },
        )
        .await;
    }
}
