//! Findings of the hardening review about installs (SECURITY.md): each test here failed
//! before its fix.

use crate::common::{TestApp, TestDb};
use concierge::crm::install::company_for;
use concierge::crm::{CrmUser, Me};
use concierge::db::companies;

fn outsider(company_id: i64) -> Me {
    Me {
        user: CrmUser {
            id: 9,
            name: "Outsider".into(),
            email: "outsider@example.com".into(),
            is_admin: true,
            active: true,
            icon_url: None,
        },
        company_id,
        company_name: "Outsider Ltd".into(),
        company_domain: None,
    }
}

/// On a deployment talking to the real CRM, the first company to install gets a company of
/// its own: the seeded demo company (and its data) is claimed only by the sandbox's install.
#[tokio::test]
async fn only_the_sandbox_install_claims_the_demo_company() {
    for db in TestDb::all() {
        let backend = db.backend;
        let app = TestApp::spawn(db).await;
        let mut conn = app.state.db.conn().unwrap();
        let demo = companies::first(&mut conn)
            .unwrap()
            .expect("the demo company");
        assert_eq!(demo.crm_company_id, None);

        let domain = "https://outsider.pipedrive.com";
        let real = company_for(&mut conn, &outsider(777), domain, false).unwrap();
        assert_ne!(
            real.id, demo.id,
            "{backend:?}: a real CRM company took the demo"
        );
        assert_eq!(real.crm_company_id, Some(777));
        let demo_after = companies::by_id(&mut conn, &demo.id).unwrap().unwrap();
        assert_eq!(demo_after.crm_company_id, None, "{backend:?}");
        // The same account installing again finds its own company.
        let again = company_for(&mut conn, &outsider(777), domain, false).unwrap();
        assert_eq!(again.id, real.id);
        drop(conn);

        // The sandbox CRM's install (the app's own routes) takes the demo company.
        crate::crm_support::install_app(&app, 1001).await;
        let mut conn = app.state.db.conn().unwrap();
        let linked = companies::by_crm_id(&mut conn, concierge::crm::sandbox::COMPANY_ID)
            .unwrap()
            .expect("the sandbox company is linked");
        assert_eq!(linked.id, demo.id, "{backend:?}");
    }
}

/// A signed launch of `page` by the sandbox's CRM for `user`: the session cookie pair.
async fn launch(app: &TestApp, page: &str, user: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    let company = concierge::crm::sandbox::COMPANY_ID;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &serde_json::json!({"userId": user, "companyId": company, "iat": now, "exp": now + 300}),
        &jsonwebtoken::EncodingKey::from_secret(
            secrecy::ExposeSecret::expose_secret(&crate::crm_support::creds(app).jwt_secret)
                .as_bytes(),
        ),
    )
    .unwrap();
    let resp = crate::crm_support::browser()
        .get(app.at(&format!(
            "{page}?userId={user}&companyId={company}&token={token}&id=rt"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{page}");
    resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

async fn open_with_cookie(app: &TestApp, page: &str, cookie: &str) -> u16 {
    crate::crm_support::browser()
        .get(app.at(page))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn stored(app: &TestApp, company_id: &str) -> (i64, i64) {
    use concierge::db::schema::{conversations, visitors};
    use diesel::prelude::*;
    let mut conn = app.state.db.conn().unwrap();
    let v: i64 = visitors::table
        .filter(visitors::company_id.eq(company_id))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    let c: i64 = conversations::table
        .filter(conversations::company_id.eq(company_id))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    (v, c)
}

/// The sandbox's uninstall button calls the app as the CRM does; afterwards no session of
/// the company opens anything, and its widget answers "not available" and stores nothing.
/// A re-install brings the widget back; the old sessions stay ended.
#[tokio::test]
async fn uninstall_ends_every_session_and_closes_the_widget_until_a_reinstall() {
    use crate::widget_support::Widget;
    for db in TestDb::all() {
        let backend = db.backend;
        let app = TestApp::spawn(db).await;
        let company_id = crate::crm_support::install_app(&app, 1001).await;
        let company = {
            let mut conn = app.state.db.conn().unwrap();
            companies::by_id(&mut conn, &company_id).unwrap().unwrap()
        };
        let admin = launch(&app, "/settings", 1001).await;
        let rep = launch(&app, "/inbox", 1002).await;
        assert_eq!(open_with_cookie(&app, "/inbox", &rep).await, 200);
        assert_eq!(open_with_cookie(&app, "/settings", &admin).await, 200);
        let mut w = Widget::new(&app, &company);
        w.session().await;
        w.say("hello before the uninstall").await;

        let resp = crate::crm_support::browser()
            .post(app.at("/sandbox/uninstall"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303, "{backend:?}: {:?}", resp.text().await);

        for (page, cookie) in [("/inbox", &rep), ("/settings", &admin), ("/inbox", &admin)] {
            assert_eq!(
                open_with_cookie(&app, page, cookie).await,
                401,
                "{backend:?}: {page} still opens after the uninstall"
            );
        }
        // The old visitor token and a new visitor: nothing is stored.
        let r = w
            .post("messages", serde_json::json!({ "text": "after" }))
            .await;
        assert_eq!(r.status, 401, "{backend:?}: {}", r.body);
        let mut fresh = Widget::new(&app, &company);
        let r = fresh
            .post(
                "session",
                serde_json::json!({ "key": fresh.key, "page": fresh.page() }),
            )
            .await;
        assert_eq!(r.status, 403, "{backend:?}: {}", r.body);
        assert_eq!(r.body["error"]["code"], "not_available");
        assert_eq!(stored(&app, &company_id), (0, 0), "{backend:?}");
        // A launch from the CRM finds the app not installed.
        let page = crate::crm_support::browser()
            .get(app.at("/inbox"))
            .send()
            .await
            .unwrap();
        assert_ne!(page.status(), 200);

        // Re-install: the same company, the widget back, the old sessions still ended.
        let again = crate::crm_support::install_app(&app, 1001).await;
        assert_eq!(again, company_id);
        fresh.session().await;
        fresh.say("hello again").await;
        assert_eq!(stored(&app, &company_id).0, 1, "{backend:?}");
        assert_eq!(open_with_cookie(&app, "/inbox", &rep).await, 401);
        let rep_again = launch(&app, "/inbox", 1002).await;
        assert_eq!(open_with_cookie(&app, "/inbox", &rep_again).await, 200);
    }
}
