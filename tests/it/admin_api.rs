//! The admin API against the real server on both databases: every route, sessions with
//! CSRF and API keys, problems with the lines of the text as sent, 422 on publish, key
//! scoping and revocation, another company's ids answering 404 (R6), the audit log, the
//! `playbook push` command, and export → import leaving any accepted document unchanged.

use std::process::Command;

use concierge::crm::CrmUser;
use concierge::db::{self, api_keys, companies, crm_users, playbooks};
use concierge::web::auth::session;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestApp, TestDb};
use crate::widget_support::Widget;

/// A valid playbook started by a click, so that any page offers it.
pub(crate) const CLICK_PLAYBOOK: &str = r##"slug: admin-test
name: Admin test
language: en
priority: 50
trigger:
  on: click
  selector: "#admin-test"
start: hello
cards:
  - id: hello
    type: message
    text: "Hello from the admin API"
    next: ask
  - id: ask
    type: question
    text: "Your e-mail?"
    input: email
    save: person.email
    next: bye
  - id: bye
    type: end
    text: "Thanks!"
"##;

/// The same playbook with a dangling transition on line 13 (`next: nowhere`).
fn dangling() -> String {
    CLICK_PLAYBOOK.replace("    next: ask\n", "    next: nowhere\n")
}

#[derive(Clone)]
pub(crate) enum Auth {
    None,
    /// Cookie and CSRF token; `csrf: false` leaves the header out.
    Session {
        cookie: String,
        csrf: String,
        send_csrf: bool,
    },
    Key(String),
}

pub(crate) enum Body {
    None,
    Json(Value),
    Yaml(String),
    Text(&'static str, String),
}

pub(crate) struct Setup {
    pub(crate) app: TestApp,
    pub(crate) company: String,
    pub(crate) admin: Auth,
    pub(crate) rep: Auth,
    pub(crate) other_admin: Auth,
}

fn session_for(app: &TestApp, company: &str, user: i64) -> Auth {
    let data = session::start(company, user, 0, chrono::Utc::now().timestamp());
    let cookie = session::cookie(&app.state.crm.session_key, &data);
    Auth::Session {
        cookie: format!("{}={}", cookie.name(), cookie.value()),
        csrf: data.csrf,
        send_csrf: true,
    }
}

fn user(id: i64, name: &str, is_admin: bool) -> CrmUser {
    CrmUser {
        id,
        name: name.into(),
        email: format!("u{id}@example.com"),
        is_admin,
        active: true,
        icon_url: None,
    }
}

pub(crate) async fn setup(db: TestDb) -> Setup {
    let app = TestApp::spawn_with(db, |c| c.outbox.concurrency = 0).await;
    let mut conn = app.state.db.conn().unwrap();
    let company = companies::first(&mut conn).unwrap().expect("demo company");
    let other = companies::create(&mut conn, "Other Inc", Some(4242)).unwrap();
    let now = db::now_ms();
    crm_users::sync(
        &mut conn,
        &company.id,
        &[user(7, "Ada Admin", true), user(8, "Rex Rep", false)],
        now,
    )
    .unwrap();
    crm_users::sync(&mut conn, &other.id, &[user(9, "Otto Other", true)], now).unwrap();
    drop(conn);
    Setup {
        admin: session_for(&app, &company.id, 7),
        rep: session_for(&app, &company.id, 8),
        other_admin: session_for(&app, &other.id, 9),
        company: company.id,
        app,
    }
}

impl Setup {
    pub(crate) async fn call(
        &self,
        auth: &Auth,
        method: Method,
        path: &str,
        body: Body,
    ) -> (u16, Value) {
        let (status, text) = self.call_text(auth, method, path, body).await;
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn call_text(
        &self,
        auth: &Auth,
        method: Method,
        path: &str,
        body: Body,
    ) -> (u16, String) {
        let mut req = reqwest::Client::new().request(method, self.app.at(path));
        match auth {
            Auth::None => {}
            Auth::Session {
                cookie,
                csrf,
                send_csrf,
            } => {
                req = req.header("cookie", cookie);
                if *send_csrf {
                    req = req.header("x-csrf-token", csrf);
                }
            }
            Auth::Key(key) => req = req.bearer_auth(key),
        }
        req = match body {
            Body::None => req,
            Body::Json(v) => req.json(&v),
            Body::Yaml(text) => req.header("content-type", "application/yaml").body(text),
            Body::Text(content_type, text) => req.header("content-type", content_type).body(text),
        };
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }

    pub(crate) async fn get(&self, auth: &Auth, path: &str) -> (u16, Value) {
        self.call(auth, Method::GET, path, Body::None).await
    }

    /// Create the click playbook as `auth`; its id.
    pub(crate) async fn create(&self, auth: &Auth, yaml: &str) -> String {
        let (status, body) = self
            .call(
                auth,
                Method::POST,
                "/api/admin/playbooks",
                Body::Yaml(yaml.into()),
            )
            .await;
        assert_eq!(status, 201, "{body:#}");
        body["id"].as_str().unwrap().to_owned()
    }

    async fn new_key(&self, name: &str) -> (String, String) {
        let (status, body) = self
            .call(
                &self.admin,
                Method::POST,
                "/api/admin/api-keys",
                Body::Json(json!({ "name": name })),
            )
            .await;
        assert_eq!(status, 201, "{body:#}");
        (
            body["id"].as_str().unwrap().to_owned(),
            body["key"].as_str().unwrap().to_owned(),
        )
    }

    pub(crate) async fn audit_actions(&self) -> Vec<(String, String, Value)> {
        let (status, body) = self.get(&self.admin, "/api/admin/audit-log").await;
        assert_eq!(status, 200, "{body:#}");
        body["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["actor"].as_str().unwrap().to_owned(),
                    e["action"].as_str().unwrap().to_owned(),
                    e["detail"].clone(),
                )
            })
            .collect()
    }
}

pub(crate) fn problems(body: &Value) -> Vec<(Option<String>, Option<u64>, String)> {
    let list = body["problems"]
        .as_array()
        .or_else(|| body["error"]["problems"].as_array())
        .unwrap_or_else(|| panic!("no problems in {body:#}"));
    list.iter()
        .map(|p| {
            (
                p["card"].as_str().map(str::to_owned),
                p["line"].as_u64(),
                p["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_playbook_from_create_to_a_visitor_and_back_to_an_older_version() {
    for db in TestDb::all() {
        let s = setup(db).await;
        let id = s.create(&s.admin, CLICK_PLAYBOOK).await;

        // Listed, switched off and unpublished.
        let (status, list) = s.get(&s.admin, "/api/admin/playbooks").await;
        assert_eq!(status, 200);
        let item = list["playbooks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == json!(id))
            .expect("listed")
            .clone();
        assert_eq!(item["slug"], "admin-test");
        assert_eq!(item["enabled"], false);
        assert_eq!(item["published_version"], Value::Null);
        assert_eq!(item["has_unpublished_changes"], true);
        assert_eq!(item["trigger"], "click on #admin-test · every visitor");

        // The draft is kept as written.
        let (status, detail) = s.get(&s.admin, &format!("/api/admin/playbooks/{id}")).await;
        assert_eq!(status, 200);
        assert_eq!(detail["source"], CLICK_PLAYBOOK);
        assert_eq!(detail["problems"], json!([]));
        assert!(detail["paths"].as_str().unwrap().contains("1 path"));

        // A draft with a dangling transition is saved, with the problem on its card and
        // line; publishing it is refused with the same problem.
        let (status, saved) = s
            .call(
                &s.admin,
                Method::PUT,
                &format!("/api/admin/playbooks/{id}/draft"),
                Body::Yaml(dangling()),
            )
            .await;
        assert_eq!(status, 200, "{saved:#}");
        let found = problems(&saved);
        assert!(
            found
                .iter()
                .any(|(card, line, m)| card.as_deref() == Some("hello")
                    && *line == Some(13)
                    && m.contains("nowhere")),
            "{found:?}"
        );
        let (status, refused) = s
            .call(
                &s.admin,
                Method::POST,
                &format!("/api/admin/playbooks/{id}/publish"),
                Body::Json(json!({ "note": "broken" })),
            )
            .await;
        assert_eq!(status, 422, "{refused:#}");
        assert_eq!(refused["error"]["code"], "invalid_playbook");
        assert_eq!(problems(&refused), found);
        let (_, versions) = s
            .get(&s.admin, &format!("/api/admin/playbooks/{id}/versions"))
            .await;
        assert_eq!(versions["versions"], json!([]));

        // Fixed and published with a note: version 1, by Ada.
        let (status, saved) = s
            .call(
                &s.admin,
                Method::PUT,
                &format!("/api/admin/playbooks/{id}/draft"),
                Body::Yaml(CLICK_PLAYBOOK.into()),
            )
            .await;
        assert_eq!((status, saved["problems"].clone()), (200, json!([])));
        let (status, published) = s
            .call(
                &s.admin,
                Method::POST,
                &format!("/api/admin/playbooks/{id}/publish"),
                Body::Json(json!({ "note": "first cut" })),
            )
            .await;
        assert_eq!(status, 201, "{published:#}");
        assert_eq!(published["version"], 1);

        // Not offered until switched on; then a visitor gets it.
        let company = {
            let mut conn = s.app.state.db.conn().unwrap();
            companies::by_id(&mut conn, &s.company).unwrap().unwrap()
        };
        let mut widget = Widget::new(&s.app, &company);
        let session = widget.session().await;
        assert!(
            !session["triggers"].to_string().contains("admin-test"),
            "{session:#}"
        );
        let (status, on) = s
            .call(
                &s.admin,
                Method::POST,
                &format!("/api/admin/playbooks/{id}/enabled"),
                Body::Json(json!({ "enabled": true })),
            )
            .await;
        assert_eq!((status, on), (200, json!({ "enabled": true })));
        let session = widget.session().await;
        assert!(
            session["triggers"].to_string().contains("admin-test"),
            "{session:#}"
        );
        let started = widget.trigger("admin-test", "click").await;
        assert!(
            started.to_string().contains("Hello from the admin API"),
            "{started:#}"
        );

        // Version 2 with another text; restoring version 1 brings the old text back as
        // the draft, published like any other.
        let v2 = CLICK_PLAYBOOK.replace("Hello from the admin API", "Hello again");
        let (status, _) = s
            .call(
                &s.admin,
                Method::PUT,
                &format!("/api/admin/playbooks/{id}/draft"),
                Body::Yaml(v2),
            )
            .await;
        assert_eq!(status, 200);
        let (_, list) = s.get(&s.admin, "/api/admin/playbooks").await;
        let item = list["playbooks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == json!(id))
            .unwrap()
            .clone();
        assert_eq!(item["published_version"], 1);
        assert_eq!(item["has_unpublished_changes"], true);
        let (status, published) = s
            .call(
                &s.admin,
                Method::POST,
                &format!("/api/admin/playbooks/{id}/publish"),
                Body::Json(json!({ "note": "friendlier" })),
            )
            .await;
        assert_eq!((status, published["version"].clone()), (201, json!(2)));
        let (_, versions) = s
            .get(&s.admin, &format!("/api/admin/playbooks/{id}/versions"))
            .await;
        let versions = versions["versions"].as_array().unwrap().clone();
        assert_eq!(versions.len(), 2);
        assert_eq!(versions[0]["version"], 2);
        assert_eq!(versions[0]["note"], "friendlier");
        assert_eq!(versions[1]["note"], "first cut");
        assert_eq!(versions[1]["author"], "Ada Admin");
        assert!(versions[1]["published_at"].as_i64().unwrap() > 0);
        let (status, old) = s
            .get(&s.admin, &format!("/api/admin/playbooks/{id}/versions/1"))
            .await;
        assert_eq!(status, 200);
        assert!(
            old["yaml"]
                .as_str()
                .unwrap()
                .contains("Hello from the admin API")
        );
        let (status, _) = s
            .call(
                &s.admin,
                Method::POST,
                &format!("/api/admin/playbooks/{id}/versions/1/restore"),
                Body::None,
            )
            .await;
        assert_eq!(status, 200);
        let (_, detail) = s.get(&s.admin, &format!("/api/admin/playbooks/{id}")).await;
        assert!(
            detail["source"]
                .as_str()
                .unwrap()
                .contains("Hello from the admin API"),
            "{detail:#}"
        );
        let (status, published) = s
            .call(
                &s.admin,
                Method::POST,
                &format!("/api/admin/playbooks/{id}/publish"),
                Body::Json(json!({ "note": "back to v1" })),
            )
            .await;
        assert_eq!((status, published["version"].clone()), (201, json!(3)));

        // Export: the published version and the draft as YAML files.
        let (status, yaml) = s
            .call_text(
                &s.admin,
                Method::GET,
                &format!("/api/admin/playbooks/{id}/export?version=2"),
                Body::None,
            )
            .await;
        assert_eq!(status, 200);
        assert!(yaml.contains("Hello again") && yaml.contains("slug: admin-test"));

        // The audit log names who did what, newest first.
        let actions: Vec<String> = s.audit_actions().await.into_iter().map(|a| a.1).collect();
        assert_eq!(
            actions,
            [
                "playbook.publish",
                "playbook.restore",
                "playbook.publish",
                "playbook.draft",
                "playbook.switch_on",
                "playbook.publish",
                "playbook.draft",
                "playbook.draft",
                "playbook.create",
            ]
        );
        let log = s.audit_actions().await;
        assert_eq!(log[0].0, "Ada Admin");
        assert_eq!(log[0].2["version"], 3);

        // Deleted while a conversation runs on it: switched off instead (202); once the
        // conversation is over, deleted (204).
        let (status, gone) = s
            .call(
                &s.admin,
                Method::DELETE,
                &format!("/api/admin/playbooks/{id}"),
                Body::None,
            )
            .await;
        assert_eq!(status, 202, "{gone:#}");
        assert_eq!(gone["running_conversations"], 1);
        let (_, detail) = s.get(&s.admin, &format!("/api/admin/playbooks/{id}")).await;
        assert_eq!(detail["enabled"], false);
        let r = widget.post("close", json!({})).await;
        assert!(r.status.is_success(), "{}", r.body);
        let (status, _) = s
            .call(
                &s.admin,
                Method::DELETE,
                &format!("/api/admin/playbooks/{id}"),
                Body::None,
            )
            .await;
        assert_eq!(status, 204);
        let (status, _) = s.get(&s.admin, &format!("/api/admin/playbooks/{id}")).await;
        assert_eq!(status, 404);
    }
}

#[tokio::test]
async fn problems_name_the_card_and_the_line_of_the_text_as_sent() {
    for db in TestDb::all() {
        let s = setup(db).await;
        let before = s.get(&s.admin, "/api/admin/playbooks").await.1["playbooks"]
            .as_array()
            .unwrap()
            .len();
        // YAML: 422 with every problem.
        let broken = dangling().replace("    input: email\n", "    input: emial\n");
        let (status, body) = s
            .call(
                &s.admin,
                Method::POST,
                "/api/admin/playbooks",
                Body::Yaml(broken.clone()),
            )
            .await;
        assert_eq!(status, 422, "{body:#}");
        assert_eq!(body["error"]["code"], "invalid_playbook");
        let found = problems(&body);
        assert!(found.len() >= 2, "{found:?}");
        assert!(
            found
                .iter()
                .any(|(c, l, _)| c.as_deref() == Some("hello") && *l == Some(13)),
            "{found:?}"
        );
        assert!(
            found.iter().any(|(c, l, m)| c.as_deref() == Some("ask")
                && *l == Some(17)
                && m.contains("emial")),
            "{found:?}"
        );
        // The same through /validate, which stores nothing.
        let (status, checked) = s
            .call(
                &s.admin,
                Method::POST,
                "/api/admin/validate",
                Body::Yaml(broken),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(problems(&checked), found);
        // JSON: lines of the JSON text.
        let doc = json!({
            "slug": "json-one", "name": "J", "trigger": { "on": "page_load" }, "start": "a",
            "cards": [
                { "id": "a", "type": "message", "text": "hi", "next": "b" },
                { "id": "b", "type": "end", "text": "bye", "colour": "red" }
            ]
        });
        let text = serde_json::to_string_pretty(&doc).unwrap();
        let line_of =
            |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() as u64 + 1;
        let (status, body) = s
            .call(
                &s.admin,
                Method::POST,
                "/api/admin/validate",
                Body::Text("application/json", text.clone()),
            )
            .await;
        assert_eq!(status, 200);
        let found = problems(&body);
        assert!(
            found.iter().any(|(c, l, m)| c.as_deref() == Some("b")
                && *l == Some(line_of("colour"))
                && m.contains("colour")),
            "{found:?}\n{text}"
        );
        // A syntax error: the line where reading stopped.
        let (_, body) = s
            .call(
                &s.admin,
                Method::POST,
                "/api/admin/validate",
                Body::Yaml("slug: x\nname: [unclosed\n".into()),
            )
            .await;
        let found = problems(&body);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].1.is_some() && found[0].0.is_none(), "{found:?}");
        // A valid document: no problems, and its paths.
        let (_, body) = s
            .call(
                &s.admin,
                Method::POST,
                "/api/admin/validate",
                Body::Yaml(CLICK_PLAYBOOK.into()),
            )
            .await;
        assert_eq!(body["problems"], json!([]));
        assert!(body["paths"].as_str().unwrap().contains("hello"));
        // Other content types are refused; nothing was stored.
        let (status, _) = s
            .call(
                &s.admin,
                Method::POST,
                "/api/admin/validate",
                Body::Text("application/x-www-form-urlencoded", "a=b".into()),
            )
            .await;
        assert_eq!(status, 415);
        let after = s.get(&s.admin, "/api/admin/playbooks").await.1["playbooks"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(after, before);
        // A taken slug is 409; a draft may not change the slug.
        let id = s.create(&s.admin, CLICK_PLAYBOOK).await;
        let (status, body) = s
            .call(
                &s.admin,
                Method::POST,
                "/api/admin/playbooks",
                Body::Yaml(CLICK_PLAYBOOK.into()),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (409, json!("slug_taken"))
        );
        let (_, body) = s
            .call(
                &s.admin,
                Method::PUT,
                &format!("/api/admin/playbooks/{id}/draft"),
                Body::Yaml(CLICK_PLAYBOOK.replace("slug: admin-test", "slug: renamed")),
            )
            .await;
        let found = problems(&body);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].1, Some(1));
    }
}

#[tokio::test]
async fn another_companys_ids_answer_404() {
    for db in TestDb::all() {
        let s = setup(db).await;
        let id = s.create(&s.admin, CLICK_PLAYBOOK).await;
        let (status, _) = s
            .call(
                &s.admin,
                Method::POST,
                &format!("/api/admin/playbooks/{id}/publish"),
                Body::Json(json!({ "note": "v1" })),
            )
            .await;
        assert_eq!(status, 201);
        let (_, rule) = s
            .call(
                &s.admin,
                Method::POST,
                "/api/admin/answer-rules",
                Body::Json(json!({ "keywords": ["price"], "reply": "From 10 €." })),
            )
            .await;
        let rule = rule["id"].as_str().unwrap().to_owned();
        let (key_id, _) = s.new_key("ci").await;

        let other = &s.other_admin;
        let (_, list) = s.get(other, "/api/admin/playbooks").await;
        assert_eq!(list["playbooks"], json!([]));
        for (method, path, body) in [
            (
                Method::GET,
                format!("/api/admin/playbooks/{id}"),
                Body::None,
            ),
            (
                Method::PUT,
                format!("/api/admin/playbooks/{id}/draft"),
                Body::Yaml(CLICK_PLAYBOOK.into()),
            ),
            (
                Method::POST,
                format!("/api/admin/playbooks/{id}/publish"),
                Body::Json(json!({ "note": "mine now" })),
            ),
            (
                Method::GET,
                format!("/api/admin/playbooks/{id}/versions"),
                Body::None,
            ),
            (
                Method::GET,
                format!("/api/admin/playbooks/{id}/versions/1"),
                Body::None,
            ),
            (
                Method::POST,
                format!("/api/admin/playbooks/{id}/versions/1/restore"),
                Body::None,
            ),
            (
                Method::POST,
                format!("/api/admin/playbooks/{id}/enabled"),
                Body::Json(json!({ "enabled": true })),
            ),
            (
                Method::GET,
                format!("/api/admin/playbooks/{id}/export"),
                Body::None,
            ),
            (
                Method::DELETE,
                format!("/api/admin/playbooks/{id}"),
                Body::None,
            ),
            (
                Method::GET,
                format!("/api/admin/answer-rules/{rule}"),
                Body::None,
            ),
            (
                Method::PUT,
                format!("/api/admin/answer-rules/{rule}"),
                Body::Json(json!({ "keywords": ["x"], "reply": "y" })),
            ),
            (
                Method::DELETE,
                format!("/api/admin/answer-rules/{rule}"),
                Body::None,
            ),
            (
                Method::DELETE,
                format!("/api/admin/api-keys/{key_id}"),
                Body::None,
            ),
        ] {
            let (status, body) = s.call(other, method.clone(), &path, body).await;
            assert_eq!(status, 404, "{method} {path}: {body:#}");
        }
        // Nothing changed for the owner.
        let (_, detail) = s.get(&s.admin, &format!("/api/admin/playbooks/{id}")).await;
        assert_eq!(detail["enabled"], false);
        assert_eq!(detail["published_version"], 1);
        let (status, _) = s
            .get(&s.admin, &format!("/api/admin/answer-rules/{rule}"))
            .await;
        assert_eq!(status, 200);
        let (_, keys) = s.get(&s.admin, "/api/admin/api-keys").await;
        assert_eq!(keys["api_keys"][0]["revoked_at"], Value::Null);
        let (_, other_log) = s.get(other, "/api/admin/audit-log").await;
        assert_eq!(other_log["entries"], json!([]));
    }
}

#[tokio::test]
async fn api_keys_are_shown_once_scoped_to_the_company_and_die_when_revoked() {
    for db in TestDb::all() {
        let s = setup(db).await;
        let (key_id, key) = s.new_key("GitHub Actions").await;
        assert!(key.starts_with("ck_") && key.len() > 40, "{key}");
        // Stored as a hash only; listed without the key.
        {
            let mut conn = s.app.state.db.conn().unwrap();
            let rows = api_keys::list(&mut conn, &s.company).unwrap();
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].key_hash, api_keys::hash(&key));
            assert_ne!(rows[0].key_hash, key);
        }
        let (status, list) = s.get(&s.admin, "/api/admin/api-keys").await;
        assert_eq!(status, 200);
        assert_eq!(list["api_keys"][0]["name"], "GitHub Actions");
        assert_eq!(list["api_keys"][0]["created_by"], "Ada Admin");
        assert!(!list.to_string().contains(&key));
        assert!(key.starts_with(list["api_keys"][0]["prefix"].as_str().unwrap()));

        // The key works without a session or CSRF token, for its company only.
        let bearer = Auth::Key(key.clone());
        let id = s.create(&bearer, CLICK_PLAYBOOK).await;
        let (status, list) = s.get(&bearer, "/api/admin/playbooks").await;
        assert_eq!(status, 200);
        assert!(list.to_string().contains(&id));
        let (_, other_list) = s.get(&s.other_admin, "/api/admin/playbooks").await;
        assert!(!other_list.to_string().contains(&id));
        let (status, settings) = s.get(&bearer, "/api/admin/settings").await;
        assert_eq!(status, 200, "{settings:#}");
        // The generator's status takes keys too.
        let (status, gen_status) = s.get(&bearer, "/api/admin/playbooks/generate").await;
        assert_eq!(
            (status, gen_status["configured"].clone()),
            (200, json!(false))
        );
        // A key cannot make or revoke keys.
        let (status, _) = s
            .call(
                &bearer,
                Method::POST,
                "/api/admin/api-keys",
                Body::Json(json!({ "name": "more" })),
            )
            .await;
        assert_eq!(status, 403);
        let (status, _) = s
            .call(
                &bearer,
                Method::DELETE,
                &format!("/api/admin/api-keys/{key_id}"),
                Body::None,
            )
            .await;
        assert_eq!(status, 403);
        // The log names the key.
        let log = s.audit_actions().await;
        assert!(log.contains(&(
            "API key 'GitHub Actions'".to_owned(),
            "playbook.create".to_owned(),
            json!({ "name": "Admin test" })
        )));

        // Revoked: 401 from then on; revoking again changes nothing.
        let (status, _) = s
            .call(
                &s.admin,
                Method::DELETE,
                &format!("/api/admin/api-keys/{key_id}"),
                Body::None,
            )
            .await;
        assert_eq!(status, 204);
        let (status, body) = s.get(&bearer, "/api/admin/playbooks").await;
        assert_eq!(status, 401, "{body:#}");
        assert_eq!(body["error"]["code"], "unauthorized");
        let (status, _) = s
            .call(
                &s.admin,
                Method::DELETE,
                &format!("/api/admin/api-keys/{key_id}"),
                Body::None,
            )
            .await;
        assert_eq!(status, 204);
        let (_, list) = s.get(&s.admin, "/api/admin/api-keys").await;
        assert!(list["api_keys"][0]["revoked_at"].as_i64().is_some());
        let revocations = s
            .audit_actions()
            .await
            .into_iter()
            .filter(|a| a.1 == "api_key.revoke")
            .count();
        assert_eq!(revocations, 1);

        // Unknown and malformed keys.
        let (status, _) = s
            .get(
                &Auth::Key("ck_not-a-real-key".into()),
                "/api/admin/playbooks",
            )
            .await;
        assert_eq!(status, 401);
        let resp = reqwest::Client::new()
            .get(s.app.at("/api/admin/playbooks"))
            .header("authorization", format!("Basic {key}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        let (status, _) = s
            .call(
                &s.admin,
                Method::POST,
                "/api/admin/api-keys",
                Body::Json(json!({ "name": "  " })),
            )
            .await;
        assert_eq!(status, 400);
    }
}

#[tokio::test]
async fn only_admins_with_the_csrf_token_reach_the_api() {
    let s = setup(TestDb::sqlite()).await;
    let (status, _) = s.get(&Auth::None, "/api/admin/playbooks").await;
    assert_eq!(status, 401);
    // A rep: 403 with a message that says who may.
    for (method, path) in [
        (Method::GET, "/api/admin/playbooks"),
        (Method::GET, "/api/admin/settings"),
        (Method::POST, "/api/admin/api-keys"),
    ] {
        let (status, body) = s
            .call(&s.rep, method, path, Body::Json(json!({ "name": "x" })))
            .await;
        assert_eq!(status, 403, "{path}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("only admins"), "{message}");
    }
    // An admin's write without the CSRF token: 403; reads need none.
    let Auth::Session { cookie, csrf, .. } = s.admin.clone() else {
        unreachable!()
    };
    let no_csrf = Auth::Session {
        cookie,
        csrf,
        send_csrf: false,
    };
    let (status, _) = s.get(&no_csrf, "/api/admin/playbooks").await;
    assert_eq!(status, 200);
    let (status, _) = s
        .call(
            &no_csrf,
            Method::POST,
            "/api/admin/playbooks",
            Body::Yaml(CLICK_PLAYBOOK.into()),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = s
        .call(
            &no_csrf,
            Method::PUT,
            "/api/admin/settings",
            Body::Json(json!({ "color": "#000000" })),
        )
        .await;
    assert_eq!(status, 403);
    // A granted app admin is an admin.
    {
        let mut conn = s.app.state.db.conn().unwrap();
        crm_users::set_can_admin(&mut conn, &s.company, 8, true).unwrap();
    }
    let (status, _) = s.get(&s.rep, "/api/admin/playbooks").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn settings_change_field_by_field_with_before_and_after_in_the_log() {
    for db in TestDb::all() {
        let s = setup(db).await;
        let (status, settings) = s.get(&s.admin, "/api/admin/settings").await;
        assert_eq!(status, 200);
        assert_eq!(settings["live_chat"]["max_open_chats"], 5);
        assert_eq!(settings["live_chat"]["unanswered_minutes"], 3);
        assert_eq!(settings["live_chat"]["see_all_chats"], false);
        assert_eq!(settings["live_chat"]["auto_assign"], false);
        assert_eq!(settings["language"], "en");

        let (status, after) = s
            .call(
                &s.admin,
                Method::PUT,
                "/api/admin/settings",
                Body::Json(json!({
                    "color": "#112233",
                    "timezone": "Europe/Paris",
                    "business_hours": [["08:00-12:00", "13:00-18:00"], [], [], [], [], [], []],
                    "holidays": ["2026-12-25"],
                    "notification_emails": ["team@example.com"],
                    "live_chat": { "max_open_chats": 2, "auto_assign": true },
                })),
            )
            .await;
        assert_eq!(status, 200, "{after:#}");
        assert_eq!(after["color"], "#112233");
        assert_eq!(after["live_chat"]["max_open_chats"], 2);
        assert_eq!(after["live_chat"]["unanswered_minutes"], 3);
        assert_eq!(after["holidays"], json!(["2026-12-25"]));
        assert_eq!(after["bot_name"], settings["bot_name"]);
        let (_, again) = s.get(&s.admin, "/api/admin/settings").await;
        assert_eq!(again, after);
        // Stored where the widget reads it.
        {
            let mut conn = s.app.state.db.conn().unwrap();
            let company = companies::by_id(&mut conn, &s.company).unwrap().unwrap();
            assert_eq!(company.settings().timezone, "Europe/Paris");
            assert_eq!(company.settings().live_chat.max_open_chats, 2);
            assert_eq!(company.settings().holidays, ["2026-12-25"]);
        }
        let log = s.audit_actions().await;
        assert_eq!(log.len(), 1);
        let changes = &log[0].2["changes"];
        assert_eq!(
            changes["color"],
            json!({ "before": settings["color"], "after": "#112233" })
        );
        assert_eq!(
            changes["live_chat.max_open_chats"],
            json!({ "before": 5, "after": 2 })
        );
        assert!(changes.get("bot_name").is_none());

        // Every problem at once, nothing saved.
        let (status, body) = s
            .call(
                &s.admin,
                Method::PUT,
                "/api/admin/settings",
                Body::Json(json!({
                    "color": "blue",
                    "timezone": "Mars/Olympus",
                    "holidays": ["25/12/2026"],
                    "notification_emails": ["not-an-address"],
                    "live_chat": { "max_open_chats": 0 },
                })),
            )
            .await;
        assert_eq!(status, 422, "{body:#}");
        let fields: Vec<&str> = body["error"]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["field"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "color",
                "timezone",
                "holidays.0",
                "notification_emails.0",
                "live_chat.max_open_chats"
            ]
        );
        let (status, body) = s
            .call(
                &s.admin,
                Method::PUT,
                "/api/admin/settings",
                Body::Json(json!({ "live_chat": { "limit": 3 } })),
            )
            .await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["details"]["path"], "live_chat.limit");
        let (_, unchanged) = s.get(&s.admin, "/api/admin/settings").await;
        assert_eq!(unchanged, after);

        // The embed snippet and the identity secret, which rotates.
        let (status, embed) = s.get(&s.admin, "/api/admin/embed").await;
        assert_eq!(status, 200);
        let company = {
            let mut conn = s.app.state.db.conn().unwrap();
            companies::by_id(&mut conn, &s.company).unwrap().unwrap()
        };
        assert!(
            embed["snippet"]
                .as_str()
                .unwrap()
                .contains(&format!("data-key=\"{}\"", company.public_key))
        );
        assert_eq!(embed["identity_secret"], company.identity_secret.as_str());
        let (status, rotated) = s
            .call(
                &s.admin,
                Method::POST,
                "/api/admin/embed/identity-secret",
                Body::None,
            )
            .await;
        assert_eq!(status, 200);
        let secret = rotated["identity_secret"].as_str().unwrap();
        assert_ne!(secret, company.identity_secret);
        let (_, embed) = s.get(&s.admin, "/api/admin/embed").await;
        assert_eq!(embed["identity_secret"], secret);
        let log = s.audit_actions().await;
        assert_eq!(log[0].1, "identity_secret.rotate");
        assert!(!log[0].2.to_string().contains(secret));
    }
}

#[tokio::test]
async fn answer_rules_are_listed_made_changed_and_deleted() {
    for db in TestDb::all() {
        let s = setup(db).await;
        let (status, list) = s.get(&s.admin, "/api/admin/answer-rules").await;
        assert_eq!(status, 200);
        let seeded = list["answer_rules"].as_array().unwrap().len();
        let (status, rule) = s
            .call(
                &s.admin,
                Method::POST,
                "/api/admin/answer-rules",
                Body::Json(json!({ "keywords": ["refund", " refund ", "money back"], "reply": "Within 30 days." })),
            )
            .await;
        assert_eq!(status, 201, "{rule:#}");
        assert_eq!(rule["keywords"], json!(["refund", "money back"]));
        assert_eq!(rule["enabled"], true);
        let id = rule["id"].as_str().unwrap().to_owned();

        // The widget answers with it.
        let company = {
            let mut conn = s.app.state.db.conn().unwrap();
            companies::by_id(&mut conn, &s.company).unwrap().unwrap()
        };
        let mut widget = Widget::new(&s.app, &company);
        widget.page = "https://acme.test/nothing-here".into();
        widget.session().await;
        let reply = widget.say("can I get a refund?").await;
        assert!(reply.to_string().contains("Within 30 days."), "{reply:#}");

        let (status, changed) = s
            .call(
                &s.admin,
                Method::PUT,
                &format!("/api/admin/answer-rules/{id}"),
                Body::Json(
                    json!({ "keywords": ["refund"], "reply": "Within 60 days.", "enabled": false }),
                ),
            )
            .await;
        assert_eq!(status, 200, "{changed:#}");
        assert_eq!(changed["enabled"], false);
        assert_eq!(changed["position"], rule["position"]);
        let (_, one) = s
            .get(&s.admin, &format!("/api/admin/answer-rules/{id}"))
            .await;
        assert_eq!(one, changed);
        let (status, _) = s
            .call(
                &s.admin,
                Method::POST,
                "/api/admin/answer-rules",
                Body::Json(json!({ "keywords": [], "reply": "x" })),
            )
            .await;
        assert_eq!(status, 400);
        let (status, _) = s
            .call(
                &s.admin,
                Method::POST,
                "/api/admin/answer-rules",
                Body::Json(json!({ "keywords": ["x"], "reply": "y", "extra": 1 })),
            )
            .await;
        assert_eq!(status, 400);
        let (status, _) = s
            .call(
                &s.admin,
                Method::DELETE,
                &format!("/api/admin/answer-rules/{id}"),
                Body::None,
            )
            .await;
        assert_eq!(status, 204);
        let (status, _) = s
            .get(&s.admin, &format!("/api/admin/answer-rules/{id}"))
            .await;
        assert_eq!(status, 404);
        let (_, list) = s.get(&s.admin, "/api/admin/answer-rules").await;
        assert_eq!(list["answer_rules"].as_array().unwrap().len(), seeded);
        let actions: Vec<String> = s.audit_actions().await.into_iter().map(|a| a.1).collect();
        assert_eq!(
            actions,
            [
                "answer_rule.delete",
                "answer_rule.update",
                "answer_rule.create"
            ]
        );
    }
}

#[tokio::test]
async fn the_openapi_description_lists_the_admin_api() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let doc: Value = reqwest::get(app.at("/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, method) in [
        ("/api/admin/playbooks", "get"),
        ("/api/admin/playbooks", "post"),
        ("/api/admin/playbooks/{id}/draft", "put"),
        ("/api/admin/playbooks/{id}/publish", "post"),
        ("/api/admin/teams", "get"),
        ("/api/admin/teams", "post"),
        ("/api/admin/teams/{id}", "put"),
        ("/api/admin/teams/{id}", "delete"),
        ("/api/admin/playbooks/{id}/versions", "get"),
        ("/api/admin/playbooks/{id}/enabled", "post"),
        ("/api/admin/playbooks/{id}", "delete"),
        ("/api/admin/validate", "post"),
        ("/api/admin/settings", "get"),
        ("/api/admin/settings", "put"),
        ("/api/admin/answer-rules", "get"),
        ("/api/admin/answer-rules", "post"),
        ("/api/admin/answer-rules/{id}", "put"),
        ("/api/admin/answer-rules/{id}", "delete"),
        ("/api/admin/api-keys", "get"),
        ("/api/admin/api-keys", "post"),
        ("/api/admin/api-keys/{id}", "delete"),
        ("/api/admin/audit-log", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
    }
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    assert!(doc["components"]["schemas"]["ApiProblem"]["properties"]["line"].is_object());
}

#[tokio::test(flavor = "multi_thread")]
async fn playbook_push_checks_locally_then_creates_or_updates_and_publishes() {
    for db in TestDb::all() {
        let s = setup(db).await;
        let (_, key) = s.new_key("laptop").await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("admin-test.yaml");
        let push = |text: String, key: Option<String>, extra: &'static [&'static str]| {
            std::fs::write(&file, text).unwrap();
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_concierge"));
            cmd.args(["playbook", "push"])
                .arg(&file)
                .args(["--url", &s.app.url])
                .args(extra);
            match key {
                Some(k) => cmd.env("CONCIERGE_API_KEY", k),
                None => cmd.env_remove("CONCIERGE_API_KEY"),
            };
            cmd
        };
        let run = |mut cmd: Command| async move {
            tokio::task::spawn_blocking(move || cmd.output().unwrap())
                .await
                .unwrap()
        };
        // Invalid: refused locally, nothing sent.
        let out = run(push(dangling(), Some(key.clone()), &[])).await;
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("admin-test.yaml:13: card 'hello'"),
            "{stderr}"
        );
        // No key: a clear message.
        let out = run(push(CLICK_PLAYBOOK.into(), None, &[])).await;
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("CONCIERGE_API_KEY"));
        // New: created and published as version 1, switched on.
        let out = run(push(
            CLICK_PLAYBOOK.into(),
            Some(key.clone()),
            &["--enable"],
        ))
        .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("version 1"));
        // Known slug: the draft changes, version 2.
        let out = run(push(
            CLICK_PLAYBOOK.replace("Hello from the admin API", "Hello from CI"),
            Some(key.clone()),
            &["--note", "from CI"],
        ))
        .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut conn = s.app.state.db.conn().unwrap();
        let published = playbooks::published(&mut conn, &s.company).unwrap();
        let pb = published
            .iter()
            .find(|p| p.document.slug == "admin-test")
            .expect("published");
        assert_eq!(pb.version, 2);
        assert!(pb.enabled);
        drop(conn);
        let (_, versions) = s
            .get(
                &s.admin,
                &format!("/api/admin/playbooks/{}/versions", pb.playbook_id),
            )
            .await;
        assert_eq!(versions["versions"][0]["note"], "from CI");
        assert_eq!(versions["versions"][0]["author"], "API key 'laptop'");
        // A revoked key: the server's refusal, exit 1.
        let out = run(push(CLICK_PLAYBOOK.into(), Some("ck_wrong".into()), &[])).await;
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("refused the API key"));
    }
}

/// Any document the API accepts comes back unchanged from export → import.
#[test]
fn export_then_import_leaves_any_accepted_document_unchanged() {
    use proptest::test_runner::{Config, TestRunner};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let s = runtime.block_on(setup(TestDb::sqlite()));
    let id = runtime.block_on(s.create(&s.admin, CLICK_PLAYBOOK));
    let accepted = std::cell::Cell::new(0usize);
    // Each accepted document: export (YAML) → import as the draft → the same document.
    let round_trip = |doc: Value| -> Result<bool, String> {
        runtime.block_on(async {
            let (status, saved) = s
                .call(
                    &s.admin,
                    Method::PUT,
                    &format!("/api/admin/playbooks/{id}/draft"),
                    Body::Json(doc.clone()),
                )
                .await;
            if status != 200 {
                return Err(format!("{status} {saved}"));
            }
            if saved["problems"] != json!([]) {
                return Ok(false);
            }
            let (_, stored) = s.get(&s.admin, &format!("/api/admin/playbooks/{id}")).await;
            let (status, yaml) = s
                .call_text(
                    &s.admin,
                    Method::GET,
                    &format!("/api/admin/playbooks/{id}/export"),
                    Body::None,
                )
                .await;
            if status != 200 {
                return Err(format!("export: {status}"));
            }
            let (_, again) = s
                .call(
                    &s.admin,
                    Method::PUT,
                    &format!("/api/admin/playbooks/{id}/draft"),
                    Body::Yaml(yaml.clone()),
                )
                .await;
            if again["problems"] != json!([]) {
                return Err(format!("re-import refused: {again}\n{yaml}"));
            }
            let (_, reread) = s.get(&s.admin, &format!("/api/admin/playbooks/{id}")).await;
            if reread["document"] != stored["document"] {
                return Err(format!(
                    "changed:\n{}\n{}\n{yaml}",
                    stored["document"], reread["document"]
                ));
            }
            Ok(true)
        })
    };
    for file in [
        "lead-qualification",
        "appointment-booking",
        "support-triage",
        "satisfaction-survey",
        "product-recommendation",
        "order-status",
        "contact-greeting",
    ] {
        let text = std::fs::read_to_string(format!(
            "{}/playbooks/{file}.yaml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let mut doc: Value = serde_json::to_value(
            concierge::playbook::check::check_document(
                &text,
                concierge::playbook::load::Format::Yaml,
            )
            .unwrap(),
        )
        .unwrap();
        doc["slug"] = json!("admin-test");
        assert_eq!(round_trip(doc), Ok(true), "{file}");
    }
    let mut runner = TestRunner::new(Config::with_cases(64));
    runner
        .run(&valid_playbook(), |doc| {
            match round_trip(doc) {
                Ok(true) => accepted.set(accepted.get() + 1),
                Ok(false) => {}
                Err(e) => return Err(proptest::test_runner::TestCaseError::fail(e)),
            }
            Ok(())
        })
        .unwrap();
    // The generator makes valid documents; nearly all must have been accepted.
    assert!(accepted.get() >= 48, "only {} accepted", accepted.get());
}

/// Text that YAML could read as something else, or that needs quoting or escaping.
fn tricky_text() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        prop::sample::select(
            &[
                "yes",
                "no",
                "on",
                "null",
                "~",
                "3.0",
                "0x1F",
                "- item",
                "a: b # not a comment",
                "[not, a, list]",
                "line one\nline two",
                "trailing newline\n",
                "  leading spaces",
                "quote \" and ' both",
                "Hi {{ person.name | \"there\" }}!",
                "ünïcödé ✓ 日本",
                "<script>alert(1)</script>",
                "tab\there",
                "back\\slash",
                "**bold** and _italic_",
            ][..],
        )
        .prop_map(str::to_owned),
        "[ -z]{1,40}".prop_filter("not blank", |s| !s.trim().is_empty()),
    ]
}

/// Valid playbooks: a chain of message, question, buttons and set cards to an end card,
/// every trigger kind, with tricky text everywhere text goes.
fn valid_playbook() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    const INPUTS: [&str; 7] = [
        "text",
        "long_text",
        "email",
        "phone",
        "number",
        "date",
        "url",
    ];
    let card = prop_oneof![
        tricky_text().prop_map(|t| json!({ "type": "message", "text": t })),
        (tricky_text(), prop::sample::select(&INPUTS[..]), prop::option::of(tricky_text()))
            .prop_map(|(t, input, retry)| {
                let mut c = json!({ "type": "question", "text": t, "input": input });
                if let Some(r) = retry {
                    c["retry_text"] = json!(r);
                }
                c
            }),
        (tricky_text(), prop::collection::vec((tricky_text(), -50i64..50), 1..4)).prop_map(
            |(t, options)| {
                let options: Vec<Value> = options
                    .into_iter()
                    .enumerate()
                    .map(|(i, (label, score))| {
                        json!({ "label": format!("{i}. {label}"), "value": format!("v{i}"), "score": score })
                    })
                    .collect();
                json!({ "type": "buttons", "text": t, "options": options })
            }
        ),
        (-20i64..20, prop::collection::vec("[a-z]{1,8}", 0..3))
            .prop_map(|(score, tags)| json!({ "type": "set", "add_score": score, "add_tags": tags })),
    ];
    let trigger = prop_oneof![
        Just(json!({ "on": "page_load" })),
        (1u32..600).prop_map(|s| json!({ "on": "time_on_page", "delay_seconds": s })),
        Just(json!({ "on": "click", "selector": "#book-demo, .cta > a" })),
        prop::collection::vec("[a-z]{2,10}", 1..4)
            .prop_map(|k| json!({ "on": "keyword", "keywords": k })),
    ];
    (
        prop::collection::vec(card, 0..6),
        trigger,
        prop::sample::select(&["en", "fr", "pt", "de", "es"][..]),
        -100i64..100,
        tricky_text(),
        prop::option::of(tricky_text()),
        prop::collection::vec("/[a-z]{1,8}\\*?", 0..3),
    )
        .prop_map(
            |(cards, mut trigger, language, priority, name, end_text, include)| {
                let count = cards.len();
                let mut list: Vec<Value> = cards
                    .into_iter()
                    .enumerate()
                    .map(|(i, mut card)| {
                        let next = if i + 1 < count {
                            format!("c{}", i + 1)
                        } else {
                            "done".into()
                        };
                        card["id"] = json!(format!("c{i}"));
                        if card["type"] == "buttons" {
                            for option in card["options"].as_array_mut().unwrap() {
                                option["next"] = json!(next);
                            }
                        } else {
                            card["next"] = json!(next);
                        }
                        if card["type"] == "question" {
                            card["save"] = json!(format!("vars.q{i}"));
                        }
                        card
                    })
                    .collect();
                let mut end = json!({ "id": "done", "type": "end" });
                if let Some(t) = end_text {
                    end["text"] = json!(t);
                }
                list.push(end);
                trigger["urls"] = json!({ "include": include, "exclude": [] });
                json!({
                    "slug": "admin-test",
                    "name": name,
                    "language": language,
                    "priority": priority,
                    "trigger": trigger,
                    "start": if count > 0 { "c0" } else { "done" },
                    "cards": list,
                })
            },
        )
}

#[tokio::test]
async fn the_settings_page_carries_the_sections_and_a_script_that_writes_no_html() {
    let s = setup(TestDb::sqlite()).await;
    let Auth::Session { cookie, .. } = &s.admin else {
        unreachable!()
    };
    let page = reqwest::Client::new()
        .get(s.app.at("/settings"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for id in [
        "playbooks",
        "editor",
        "answer-rules",
        "teams",
        "company",
        "embed",
        "api-keys",
        "audit",
        "connection",
        "users",
        "sync-log",
    ] {
        assert!(html.contains(&format!("<section id=\"{id}\"")), "{id}");
        assert!(
            id == "editor" || html.contains(&format!("href=\"#{id}\"")),
            "{id} not in the side navigation"
        );
    }
    assert!(html.contains("/assets/settings.js"));
    assert!(html.contains("<meta name=\"csrf-token\""));
    // A rep gets the 403 page.
    let Auth::Session { cookie, .. } = &s.rep else {
        unreachable!()
    };
    let page = reqwest::Client::new()
        .get(s.app.at("/settings"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 403);
    // R8: the scripts build everything with createElement and textContent.
    for asset in [
        "settings.js",
        "editor.js",
        "describe.js",
        "teams.js",
        "preview.js",
    ] {
        assert!(html.contains(&format!("/assets/{asset}")), "{asset}");
        let script = reqwest::get(s.app.at(&format!("/assets/{asset}")))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!script.contains(sink), "{asset}: {sink}");
        }
    }
    // The templates it offers are valid playbooks, a blank one first.
    let (status, body) = s.get(&s.admin, "/api/admin/templates").await;
    assert_eq!(status, 200);
    let templates = body["templates"].as_array().unwrap();
    assert_eq!(templates[0]["slug"], "new-playbook");
    assert!(templates.len() >= 7, "{body:#}");
    for t in templates {
        let (_, checked) = s
            .call(
                &s.admin,
                Method::POST,
                "/api/admin/validate",
                Body::Yaml(t["yaml"].as_str().unwrap().to_owned()),
            )
            .await;
        assert_eq!(checked["problems"], json!([]), "{}", t["slug"]);
    }
}

/// A stored draft that cannot be read is an error logged naming the playbook: never an
/// empty draft, a list without it, or a trigger left undescribed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_stored_draft_is_an_error_naming_the_playbook() {
    use crate::storage::plant;
    assert!(crate::server_log::capture(), "the log is captured");
    for db in TestDb::all() {
        let backend = db.backend;
        let s = setup(db).await;
        let id = s.create(&s.admin, CLICK_PLAYBOOK).await;
        let began = std::time::Instant::now();
        let refused = |what: String| {
            let s = &s;
            async move {
                let (status, body) = if what.ends_with("/publish") {
                    let note = Body::Json(json!({ "note": "again" }));
                    s.call(&s.admin, Method::POST, &what, note).await
                } else {
                    s.get(&s.admin, &what).await
                };
                assert_eq!(status, 500, "{backend:?} {what}: {body:#}");
            }
        };
        // The document broken, the text as the admin sent it kept.
        {
            let mut conn = s.app.state.db.conn().unwrap();
            plant(
                &mut conn,
                r#"UPDATE playbooks SET draft = '{"slug": ' WHERE id = '$id'"#,
                &id,
            );
        }
        refused("/api/admin/playbooks".into()).await;
        refused(format!("/api/admin/playbooks/{id}")).await;
        assert!(
            crate::server_log::logged_since(began, &id),
            "{backend:?}: the error names the playbook"
        );
        // Without the text as sent (as the shipped playbooks are stored), every reader of
        // the draft refuses it.
        {
            let mut conn = s.app.state.db.conn().unwrap();
            plant(
                &mut conn,
                "UPDATE playbooks SET draft_source = NULL WHERE id = '$id'",
                &id,
            );
        }
        refused(format!("/api/admin/playbooks/{id}")).await;
        refused(format!("/api/admin/playbooks/{id}/export")).await;
        refused(format!("/api/admin/playbooks/{id}/publish")).await;
    }
}
