//! Live chat through the rep API (`/api/inbox/*`) and the widget API, on both databases:
//! presence, folders, assignment and its races (R4), the 409s, messages and typing both
//! ways over the two event streams, close, the side panel's lead reaching the sandbox CRM
//! once with one transcript note, chats handed back when a rep goes away, the queue, a
//! missed chat, and 404 for another company's or another rep's chat (R6).

use concierge::config::Rate;
use concierge::crm::sandbox;
use concierge::db::companies::{self, Company};
use concierge::db::schema::{conversations, crm_users, messages};
use concierge::db::{self, crm_users as users, playbooks};
use concierge::playbook::Event;
use concierge::playbook::check::check_document;
use concierge::playbook::load::Format;
use diesel::prelude::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, TestDb};
use crate::crm_support::install_app;
use crate::wait::eventually;
use crate::widget_support::{QUALIFY, SseReader, Widget};
use secrecy::ExposeSecret as _;

/// The sandbox company's users: Ada is its admin, Ben and Chloé are reps.
pub(crate) const ADA: i64 = 1001;
pub(crate) const BEN: i64 = 1002;
pub(crate) const CHLOE: i64 = 1003;

/// A signed-in CRM user talking to the rep API like the inbox page does.
pub(crate) struct Rep {
    pub(crate) client: reqwest::Client,
    pub(crate) base: String,
    pub(crate) cookie: String,
    pub(crate) csrf: String,
}

impl Rep {
    /// Open `/inbox` from the CRM (a launch token of `crm_company`) as `user`.
    pub(crate) async fn sign_in(app: &TestApp, crm_company: i64, user: i64) -> Rep {
        let secret = app.state.crm.jwt_secret.expose_secret().to_owned();
        Rep::sign_in_at(&app.url, &secret, crm_company, user).await
    }

    /// As [`Rep::sign_in`], on the server at `base` whose launch tokens `jwt_secret` signs.
    pub(crate) async fn sign_in_at(
        base: &str,
        jwt_secret: &str,
        crm_company: i64,
        user: i64,
    ) -> Rep {
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &json!({"userId": user, "companyId": crm_company, "exp": chrono::Utc::now().timestamp() + 600}),
            &EncodingKey::from_secret(jwt_secret.as_bytes()),
        )
        .unwrap();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let resp = client
            .get(format!(
                "{base}/inbox?userId={user}&companyId={crm_company}&token={token}"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let cookie = resp.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let page = resp.text().await.unwrap();
        let at = page
            .find("name=\"csrf-token\" content=\"")
            .expect("the CSRF meta")
            + 27;
        let csrf = page[at..].split('"').next().unwrap().to_owned();
        Rep {
            client,
            base: base.to_owned(),
            cookie,
            csrf,
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method.clone(), format!("{}/api/inbox/{path}", self.base))
            .header("cookie", &self.cookie);
        if method != reqwest::Method::GET {
            req = req.header("x-csrf-token", &self.csrf);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub(crate) async fn post(&self, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, body).await
    }

    async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }

    pub(crate) async fn online(&self) {
        let (status, body) = self.post("presence", Some(json!({"online": true}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, json!({"online": true}));
    }

    pub(crate) async fn events(&self) -> SseReader {
        let resp = self
            .client
            .get(format!("{}/api/inbox/events", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        SseReader::new(resp)
    }
}

/// The app with the sandbox CRM installed into the demo company (its users synced) and the
/// test playbook `qualify` published; the company.
pub(crate) async fn setup(db: TestDb) -> (TestApp, Company) {
    setup_with(db, QUALIFY).await
}

/// As [`setup`], with this playbook instead of `qualify`.
pub(crate) async fn setup_with(db: TestDb, playbook: &str) -> (TestApp, Company) {
    // Every visitor of these tests comes from one address.
    let app = TestApp::spawn_with(db, |c| {
        c.rate_limits.per_address = Rate {
            per_second: 0,
            burst: 0,
        }
    })
    .await;
    let company_id = install_app(&app, ADA).await;
    let doc = check_document(playbook, Format::Yaml).unwrap();
    let company = app
        .state
        .db
        .run(move |conn| {
            playbooks::save_and_publish(conn, &company_id, &doc)?;
            companies::by_id(conn, &company_id).map(Option::unwrap)
        })
        .await
        .unwrap();
    (app, company)
}

/// A new visitor who answers the test playbook up to the live chat card; their widget and
/// the conversation id.
pub(crate) async fn visitor_waits(
    app: &TestApp,
    company: &Company,
    email: &str,
) -> (Widget, String) {
    let (w, id, _) = waits(app, company, email, false).await;
    (w, id)
}

/// As [`visitor_waits`], with the visitor's event stream open before the hand-off.
pub(crate) async fn visitor_waits_watching(
    app: &TestApp,
    company: &Company,
    email: &str,
) -> (Widget, String, SseReader) {
    let (w, id, sse) = waits(app, company, email, true).await;
    (w, id, sse.unwrap())
}

async fn waits(
    app: &TestApp,
    company: &Company,
    email: &str,
    watch: bool,
) -> (Widget, String, Option<SseReader>) {
    let mut w = Widget::new(app, company);
    w.session().await;
    let started = w.trigger("qualify", "click").await;
    let question = started["messages"][1]["id"].as_str().unwrap().to_owned();
    w.choose(&question, 1).await;
    let sse = if watch {
        Some(SseReader::new(w.events(None).await))
    } else {
        None
    };
    let reply = w.say(email).await;
    let texts: Vec<_> = reply["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        texts.iter().any(|t| t == "Connecting you…"),
        "the chat is handed to the reps: {texts:?}"
    );
    assert_eq!(reply["conversation"]["status"], "unassigned");
    let id = reply["conversation"]["id"].as_str().unwrap().to_owned();
    (w, id, sse)
}

pub(crate) async fn until_event(
    sse: &mut SseReader,
    name: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    sse.until(|e| e.event == name && pred(&e.data)).await.data
}

/// Wait until no outbox row is pending: everything queued has been delivered (or has
/// failed for good), so a late duplicate would show now.
pub(crate) async fn outbox_settled(db: &db::Db) {
    use concierge::db::schema::outbox;
    eventually("every outbox row to be handled", || async {
        let mut conn = db.conn().unwrap();
        let pending: i64 = outbox::table
            .filter(outbox::status.eq("pending"))
            .count()
            .get_result(&mut conn)
            .unwrap();
        (pending == 0).then_some(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rep_goes_online_takes_a_chat_and_talks_with_the_visitor_both_ways() {
    for db in TestDb::all() {
        let (app, company) = setup(db).await;
        let ben = Rep::sign_in(&app, sandbox::COMPANY_ID, BEN).await;

        // Offline until switched on; every write needs the CSRF token.
        let (status, me) = ben.get("me").await;
        assert_eq!(status, 200, "{me}");
        assert_eq!(
            (
                me["name"].as_str(),
                me["toggle"].as_bool(),
                me["online"].as_bool()
            ),
            (Some("Ben Rep"), Some(false), Some(false))
        );
        assert_eq!(
            me["notifications"],
            json!({"new_chat": true, "assigned": true, "message": true})
        );
        let no_token = ben
            .client
            .post(format!("{}/api/inbox/presence", ben.base))
            .header("cookie", &ben.cookie)
            .json(&json!({"online": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(no_token.status(), 403);
        ben.online().await;
        assert_eq!(ben.get("me").await.1["online"], true);
        let (_, reps) = ben.get("reps").await;
        let listed = reps["reps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["user_id"] == BEN)
            .cloned()
            .unwrap();
        assert_eq!(
            listed,
            json!({"user_id": BEN, "name": "Ben Rep", "online": true, "open_chats": 0})
        );
        assert_eq!(ben.post("heartbeat", None).await.0, 204);
        let (status, n) = ben
            .put(
                "me/notifications",
                json!({"new_chat": true, "assigned": false, "message": true}),
            )
            .await;
        assert_eq!(
            (status, n),
            (
                StatusCode::OK,
                json!({"new_chat": true, "assigned": false, "message": true})
            )
        );

        // A visitor reaches the live chat card: the rep's stream shows it and notifies.
        let mut inbox = ben.events().await;
        let (mut visitor, id, mut widget) =
            visitor_waits_watching(&app, &company, "ann@acme.test").await;
        let summary = until_event(&mut inbox, "conversation", |d| d["id"] == id.as_str()).await;
        assert_eq!(summary["status"], "unassigned");
        assert_eq!(summary["visitor"]["email"], "ann@acme.test");
        assert!(summary["waiting_since"].is_i64());
        let notify = until_event(&mut inbox, "notify", |_| true).await;
        assert_eq!(
            (notify["kind"].as_str(), notify["conversation_id"].as_str()),
            (Some("new_chat"), Some(id.as_str()))
        );
        let (_, list) = ben.get("conversations?folder=unassigned").await;
        assert_eq!(list["conversations"][0]["id"], id.as_str());
        assert_eq!(list["counts"]["unassigned"], 1);
        assert!(
            list["counts"].get("all").is_none(),
            "a rep has no All folder"
        );
        assert_eq!(ben.get("conversations?folder=nope").await.0, 400);

        // The visitor's stream: their place in the queue.
        let queue = until_event(&mut widget, "queue", |_| true).await;
        assert_eq!(queue, json!({"position": 1, "expected_wait_seconds": null}));

        // The rep takes it: the visitor sees who joined.
        let (status, taken) = ben.post(&format!("conversations/{id}/assign"), None).await;
        assert_eq!(status, 200, "{taken}");
        assert_eq!(taken["status"], "assigned");
        assert_eq!(
            taken["assignee"],
            json!({"user_id": BEN, "name": "Ben Rep"})
        );
        let joined = until_event(&mut widget, "message", |m| m["author"] == "system").await;
        assert_eq!(joined["text"], "Ben Rep joined the chat");
        // With the CRM's picture of the rep (the sandbox serves one per user but Dev).
        let picture = format!("{}/sandbox/users/{BEN}/icon.svg", app.url);
        let agent = until_event(&mut widget, "agent", |_| true).await;
        assert_eq!(agent, json!({"name": "Ben Rep", "avatar_url": picture}));
        assert_eq!(
            visitor.session().await["conversation"]["agent"],
            json!({"name": "Ben Rep", "avatar_url": picture})
        );
        let svg = reqwest::get(&picture).await.unwrap();
        assert_eq!(svg.headers()["content-type"], "image/svg+xml");
        assert!(svg.text().await.unwrap().contains(">BR</text>"));
        let company_id = company.id.clone();
        let stored = app
            .state
            .db
            .run(move |conn| users::list(conn, &company_id))
            .await
            .unwrap();
        let icons: Vec<_> = stored
            .iter()
            .map(|u| (u.crm_user_id, u.icon_url.is_some()))
            .collect();
        assert_eq!(
            icons,
            [(ADA, true), (BEN, true), (CHLOE, true), (1004, false)],
            "Dev Rep has no picture in the sandbox"
        );
        let (_, mine) = ben.get("conversations?folder=mine").await;
        assert_eq!(
            (
                mine["counts"]["mine"].as_i64(),
                mine["counts"]["unassigned"].as_i64()
            ),
            (Some(1), Some(0))
        );

        // Messages both ways, in real time; the bot stays quiet.
        let (status, sent) = ben
            .post(
                &format!("conversations/{id}/messages"),
                Some(json!({"text": "Hello, **Ben** here <b>"})),
            )
            .await;
        assert_eq!(status, 201, "{sent}");
        assert_eq!(
            (sent["author"].as_str(), sent["author_name"].as_str()),
            (Some("rep"), Some("Ben Rep"))
        );
        let got = until_event(&mut widget, "message", |m| m["author"] == "rep").await;
        assert_eq!(got["text"], "Hello, **Ben** here <b>");
        let reply = visitor.say("Hi Ben, we are 80 people").await;
        assert_eq!(
            reply["messages"].as_array().unwrap().len(),
            1,
            "no bot reply: {reply}"
        );
        let heard = until_event(&mut inbox, "message", |d| {
            d["message"]["author"] == "visitor"
        })
        .await;
        assert_eq!(heard["conversation_id"], id.as_str());
        assert_eq!(heard["message"]["text"], "Hi Ben, we are 80 people");

        // Typing, both ways.
        assert_eq!(
            ben.post(
                &format!("conversations/{id}/typing"),
                Some(json!({"typing": true}))
            )
            .await
            .0,
            204
        );
        let typing = until_event(&mut widget, "typing", |_| true).await;
        assert_eq!(typing["name"], "Ben Rep");
        assert_eq!(typing["typing"], true);
        assert_eq!(
            visitor.post("typing", json!({"typing": true})).await.status,
            204
        );
        let typing = until_event(&mut inbox, "typing", |_| true).await;
        assert_eq!(typing, json!({"conversation_id": id, "typing": true}));

        // The detail: transcript, answers, prefilled panel.
        let (status, detail) = ben.get(&format!("conversations/{id}")).await;
        assert_eq!(status, 200, "{detail}");
        let texts: Vec<_> = detail["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            texts.contains(&"Hi Ben, we are 80 people".to_owned()),
            "{texts:?}"
        );
        assert_eq!(detail["panel"]["person"]["email"], "ann@acme.test");
        assert!(
            detail["answers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["value"] == "large"),
            "{}",
            detail["answers"]
        );
        assert_eq!(detail["score"], 25.0);
        // Every page the visitor loaded, newest first, with its title and time.
        visitor.page = "https://acme.test/pricing/enterprise".into();
        visitor.session().await;
        let (_, detail) = ben.get(&format!("conversations/{id}")).await;
        let pages: Vec<_> = detail["visitor"]["pages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["url"].as_str().unwrap(), p["title"].as_str().unwrap()))
            .collect();
        assert_eq!(
            pages,
            [
                ("https://acme.test/pricing/enterprise", "Pricing"),
                ("https://acme.test/pricing", "Pricing"),
                ("https://acme.test/pricing", "Pricing"),
            ],
            "{detail}"
        );
        let times: Vec<_> = detail["visitor"]["pages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["at"].as_i64().unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");

        // Close: Closed folder, never reopened; the visitor's next message is a new chat.
        let (status, closed) = ben.post(&format!("conversations/{id}/close"), None).await;
        assert_eq!(status, 200, "{closed}");
        assert_eq!(closed["status"], "closed");
        assert!(closed["closed_at"].is_i64());
        let (status, again) = ben.post(&format!("conversations/{id}/close"), None).await;
        assert_eq!(
            (status, again["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("closed"))
        );
        let status_event = until_event(&mut widget, "status", |_| true).await;
        assert_eq!(status_event["status"], "closed");
        let (_, closed_list) = ben.get("conversations?folder=closed").await;
        assert_eq!(closed_list["conversations"][0]["id"], id.as_str());
        let (status, refused) = ben
            .post(
                &format!("conversations/{id}/messages"),
                Some(json!({"text": "late"})),
            )
            .await;
        assert_eq!(
            (status, refused["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("closed"))
        );
        // The widget can still follow the chat it shows.
        assert_eq!(visitor.events(None).await.status(), 200);
        let next = visitor.say("one more thing").await;
        assert_ne!(
            next["conversation"]["id"],
            id.as_str(),
            "a new conversation"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_of_two_reps_pressing_assign_at_once_wins_100_times() {
    for db in TestDb::all() {
        let (app, company) = setup(db).await;
        let ben = Rep::sign_in(&app, sandbox::COMPANY_ID, BEN).await;
        let chloe = Rep::sign_in(&app, sandbox::COMPANY_ID, CHLOE).await;
        ben.online().await;
        chloe.online().await;
        let mut wins = (0, 0);
        for round in 0..100 {
            // Their inboxes stay connected (the page sends a heartbeat every 10 s).
            if round % 10 == 0 {
                assert_eq!(ben.post("heartbeat", None).await.0, 204);
                assert_eq!(chloe.post("heartbeat", None).await.0, 204);
            }
            let (_, id) = visitor_waits(&app, &company, &format!("v{round}@acme.test")).await;
            let path = format!("conversations/{id}/assign");
            let ((a, a_body), (b, b_body)) =
                tokio::join!(ben.post(&path, None), chloe.post(&path, None));
            let (winner, loser_body, loser_status) = match (a.as_u16(), b.as_u16()) {
                (200, 409) => {
                    wins.0 += 1;
                    ("Ben Rep", b_body, b)
                }
                (409, 200) => {
                    wins.1 += 1;
                    ("Chloé Rep", a_body, a)
                }
                other => panic!("round {round}: {other:?} {a_body} {b_body}"),
            };
            assert_eq!(loser_status, 409);
            assert_eq!(
                loser_body["error"]["code"], "already_assigned",
                "{loser_body}"
            );
            assert_eq!(loser_body["error"]["assignee"]["name"], winner);
            // One "joined" message, whoever won.
            let (_, detail) = ben.get(&format!("conversations/{id}")).await;
            let joined = detail["messages"]
                .as_array()
                .map(|m| m.iter().filter(|m| m["author"] == "system").count());
            if winner == "Ben Rep" {
                assert_eq!(joined, Some(1));
                assert_eq!(
                    ben.post(&format!("conversations/{id}/close"), None).await.0,
                    200
                );
            } else {
                assert_eq!(
                    chloe
                        .post(&format!("conversations/{id}/close"), None)
                        .await
                        .0,
                    200
                );
            }
        }
        println!("R4: Ben won {} rounds, Chloé {}", wins.0, wins.1);
        assert_eq!(wins.0 + wins.1, 100);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_other_reps_and_other_companies_are_refused() {
    for db in TestDb::all() {
        let (app, company) = setup(db).await;
        let (ada, ben, chloe) = (
            Rep::sign_in(&app, sandbox::COMPANY_ID, ADA).await,
            Rep::sign_in(&app, sandbox::COMPANY_ID, BEN).await,
            Rep::sign_in(&app, sandbox::COMPANY_ID, CHLOE).await,
        );
        ben.online().await;
        chloe.online().await;
        // One open chat per rep.
        let mut settings = company.settings();
        settings.live_chat.max_open_chats = 1;
        let (cid, s) = (company.id.clone(), settings.clone());
        app.state
            .db
            .run(move |conn| companies::update_settings(conn, &cid, &s))
            .await
            .unwrap();
        // Written behind the admin API's back: the node reads the settings anew.
        app.state.chat.forget_company(&company.id);
        let (_, first) = visitor_waits(&app, &company, "one@acme.test").await;
        let (_, second) = visitor_waits(&app, &company, "two@acme.test").await;
        assert_eq!(
            ben.post(&format!("conversations/{first}/assign"), None)
                .await
                .0,
            200
        );
        let (status, body) = ben
            .post(&format!("conversations/{second}/assign"), None)
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("limit_reached")),
            "{body}"
        );
        let (status, body) = ben
            .post(
                &format!("conversations/{second}/messages"),
                Some(json!({"text": "hi"})),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("limit_reached"))
        );

        // Another rep's chat: hidden from Chloé, who is told who has it when she tries.
        assert_eq!(chloe.get(&format!("conversations/{first}")).await.0, 404);
        assert_eq!(
            chloe
                .post(&format!("conversations/{first}/close"), None)
                .await
                .0,
            404
        );
        assert_eq!(
            chloe
                .post(
                    &format!("conversations/{first}/typing"),
                    Some(json!({"typing": true}))
                )
                .await
                .0,
            404
        );
        let (status, body) = chloe
            .post(&format!("conversations/{first}/assign"), None)
            .await;
        assert_eq!(status, 409);
        assert_eq!(
            body["error"]["assignee"],
            json!({"user_id": BEN, "name": "Ben Rep"})
        );
        assert_eq!(chloe.get("conversations?folder=all").await.0, 403);
        // The admin sees everything and may hand it on.
        let (status, all) = ada.get("conversations?folder=all").await;
        assert_eq!(status, 200);
        assert_eq!(all["counts"]["all"], 2);
        assert_eq!(ada.get(&format!("conversations/{first}")).await.0, 200);
        let (status, moved) = ada
            .post(
                &format!("conversations/{first}/assign"),
                Some(json!({"user_id": CHLOE})),
            )
            .await;
        assert_eq!(status, 200, "{moved}");
        assert_eq!(moved["assignee"]["user_id"], CHLOE);
        assert_eq!(ben.get(&format!("conversations/{first}")).await.0, 404);
        let (status, back) = chloe
            .post(
                &format!("conversations/{first}/assign"),
                Some(json!({"user_id": null})),
            )
            .await;
        assert_eq!(
            (status, back["status"].as_str()),
            (StatusCode::OK, Some("unassigned"))
        );
        assert_eq!(back["assignee"], Value::Null);

        // Another company: none of these chats exist for its reps.
        let other = app
            .state
            .db
            .run(|conn| {
                let c = companies::create(conn, "Other", Some(77))?;
                let user = concierge::crm::CrmUser {
                    id: 7701,
                    name: "Olga".into(),
                    email: "olga@other.example".into(),
                    is_admin: true,
                    active: true,
                    icon_url: None,
                };
                users::sync(conn, &c.id, &[user], db::now_ms())?;
                Ok::<_, db::DbError>(c)
            })
            .await
            .unwrap();
        let olga = Rep::sign_in(&app, 77, 7701).await;
        for path in [
            format!("conversations/{first}"),
            format!("conversations/{second}"),
        ] {
            assert_eq!(olga.get(&path).await.0, 404, "{path}");
        }
        for action in ["assign", "close", "crm"] {
            let body = (action == "crm").then(|| json!({"create": "lead"}));
            assert_eq!(
                olga.post(&format!("conversations/{first}/{action}"), body)
                    .await
                    .0,
                404,
                "{action}"
            );
        }
        assert_eq!(
            olga.put(&format!("conversations/{first}/panel"), json!({}))
                .await
                .0,
            404
        );
        assert_eq!(
            olga.post(
                &format!("conversations/{first}/messages"),
                Some(json!({"text": "x"}))
            )
            .await
            .0,
            404
        );
        let (_, list) = olga.get("conversations?folder=all").await;
        assert_eq!(list["conversations"], json!([]));
        assert_eq!(other.crm_company_id, Some(77));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_from_the_panel_and_the_transcript_reach_the_crm_once() {
    for db in TestDb::all() {
        let (app, company) = setup(db).await;
        let ben = Rep::sign_in(&app, sandbox::COMPANY_ID, BEN).await;
        ben.online().await;
        let mut inbox = ben.events().await;
        let (visitor, id) = visitor_waits(&app, &company, "lead.once@acme.test").await;
        ben.post(
            &format!("conversations/{id}/messages"),
            Some(json!({"text": "Hello from the rep <script>x</script>"})),
        )
        .await;
        visitor.say("Please call me").await;
        let panel = json!({
            "person": {"name": "Lea Once", "email": "lead.once@acme.test", "phone": null},
            "org": {"name": "Once Ltd", "address": null},
            "deal": {"value": 1200.5, "currency": "eur", "expected_close_date": "2026-12-31"},
            "notes": "wants a call"
        });
        let (status, stored) = ben
            .put(&format!("conversations/{id}/panel"), panel.clone())
            .await;
        assert_eq!(status, 200, "{stored}");
        assert_eq!(stored["deal"]["currency"], "EUR");
        let (status, bad) = ben
            .put(
                &format!("conversations/{id}/panel"),
                json!({"deal": {"expected_close_date": "soon"}}),
            )
            .await;
        assert_eq!(
            (status, bad["error"]["details"]["path"].as_str()),
            (StatusCode::BAD_REQUEST, Some("deal.expected_close_date"))
        );
        let mut body = panel.clone();
        body["create"] = json!("lead");
        let (status, made) = ben
            .post(&format!("conversations/{id}/crm"), Some(body))
            .await;
        assert_eq!(status, 202, "{made}");
        assert_eq!(
            (
                made["record"]["kind"].as_str(),
                made["record"]["status"].as_str()
            ),
            (Some("lead"), Some("pending"))
        );
        until_event(&mut inbox, "crm", |d| d["conversation_id"] == id.as_str()).await;
        let record = eventually("the lead to be created", || async {
            let (_, d) = ben.get(&format!("conversations/{id}")).await;
            let r = d["crm"]["records"][0].clone();
            (r["status"] == "done").then_some(d)
        })
        .await;
        assert!(
            record["crm"]["records"][0]["url"]
                .as_str()
                .unwrap()
                .contains("/leads/inbox/")
        );
        assert!(
            record["crm"]["person_url"]
                .as_str()
                .unwrap()
                .contains("/person/")
        );

        // Closing adds the transcript to the lead, once.
        assert_eq!(
            ben.post(&format!("conversations/{id}/close"), None).await.0,
            200
        );
        let sandbox = app.state.sandbox.clone().unwrap();
        let notes = eventually("the transcript note", || async {
            let store = sandbox.snapshot();
            let lead = store
                .leads
                .iter()
                .find(|l| l.title.contains("lead.once@acme.test"))?;
            let notes: Vec<_> = store
                .notes
                .iter()
                .filter(|n| {
                    n.lead_id.as_ref() == Some(&lead.id) && n.content.contains("Hello from the rep")
                })
                .cloned()
                .collect();
            (!notes.is_empty()).then_some(notes)
        })
        .await;
        // Whatever else was queued has been delivered: nothing more arrives.
        outbox_settled(&app.state.db).await;
        let store = sandbox.snapshot();
        let leads: Vec<_> = store
            .leads
            .iter()
            .filter(|l| l.title.contains("lead.once@acme.test"))
            .collect();
        assert_eq!(leads.len(), 1, "{:#?}", store.leads);
        let all_notes = store
            .notes
            .iter()
            .filter(|n| n.lead_id.as_ref() == Some(&leads[0].id))
            .count();
        assert_eq!(all_notes, 1);
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].content.contains("&lt;script&gt;"),
            "escaped: {}",
            notes[0].content
        );
        let persons = store
            .persons
            .iter()
            .filter(|p| p.emails.iter().any(|e| e.value == "lead.once@acme.test"))
            .count();
        assert_eq!(persons, 1);
        // The panel still works after the close: a deal, with the transcript as its note.
        let mut body = panel.clone();
        body["create"] = json!("deal");
        assert_eq!(
            ben.post(&format!("conversations/{id}/crm"), Some(body))
                .await
                .0,
            202
        );
        eventually("the deal", || async {
            let store = sandbox.snapshot();
            let deal = store
                .deals
                .iter()
                .find(|d| d.title.contains("lead.once@acme.test"))?;
            store
                .notes
                .iter()
                .any(|n| n.deal_id == Some(deal.id) && n.content.contains("Hello from the rep"))
                .then_some(())
        })
        .await;
        let persons = sandbox
            .snapshot()
            .persons
            .iter()
            .filter(|p| p.emails.iter().any(|e| e.value == "lead.once@acme.test"))
            .count();
        assert_eq!(persons, 1, "the person is found again, not made twice");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rep_who_goes_away_or_leaves_the_visitor_waiting_hands_the_chat_back() {
    for db in TestDb::all() {
        let (app, company) = setup(db).await;
        let ben = Rep::sign_in(&app, sandbox::COMPANY_ID, BEN).await;
        let chloe = Rep::sign_in(&app, sandbox::COMPANY_ID, CHLOE).await;
        ben.online().await;
        chloe.online().await;
        let mut chloe_inbox = chloe.events().await;
        let (visitor, id) = visitor_waits(&app, &company, "away@acme.test").await;
        let mut widget = SseReader::new(visitor.events(None).await);

        // Switching off hands the chat back at once; the visitor is told.
        assert_eq!(
            ben.post(&format!("conversations/{id}/assign"), None)
                .await
                .0,
            200
        );
        let (status, off) = ben.post("presence", Some(json!({"online": false}))).await;
        assert_eq!((status, off), (StatusCode::OK, json!({"online": false})));
        let told = until_event(&mut widget, "message", |m| {
            m["author"] == "system" && m["text"] != "Ben Rep joined the chat"
        })
        .await;
        assert_eq!(
            told["text"],
            "Someone else from the team will answer you shortly."
        );
        let agent = until_event(&mut widget, "agent", |a| a["name"].is_null()).await;
        assert_eq!(agent["name"], Value::Null);
        until_event(&mut chloe_inbox, "notify", |n| {
            n["kind"] == "new_chat" && n["conversation_id"] == id.as_str()
        })
        .await;
        let presence = until_event(&mut chloe_inbox, "presence", |p| p["user_id"] == BEN).await;
        assert_eq!(presence["online"], false);

        // An inbox that is gone (no stream, no heartbeat): back within the timeout.
        ben.online().await;
        assert_eq!(
            ben.post(&format!("conversations/{id}/assign"), None)
                .await
                .0,
            200
        );
        // Chloé no longer sees it.
        until_event(&mut chloe_inbox, "removed", |r| r["id"] == id.as_str()).await;
        let ben_row = set_last_seen(&app, BEN, db::now_ms() - 120_000).await;
        assert!(!ben_row.is_empty());
        let back = eventually("the chat back in Unassigned", || async {
            let (status, d) = chloe.get(&format!("conversations/{id}")).await;
            (status == 200 && d["conversation"]["status"] == "unassigned").then_some(d)
        })
        .await;
        assert_eq!(back["conversation"]["assignee"], Value::Null);

        // A visitor left unanswered for the company's minutes: back as well.
        assert_eq!(
            chloe
                .post(&format!("conversations/{id}/assign"), None)
                .await
                .0,
            200
        );
        until_event(&mut chloe_inbox, "conversation", |c| {
            c["id"] == id.as_str() && c["status"] == "assigned"
        })
        .await;
        visitor.say("Hello? Anyone?").await;
        let (conv, when) = (id.clone(), db::now_ms() - 4 * 60_000);
        app.state
            .db
            .run(move |conn| {
                diesel::update(conversations::table.find(&conv))
                    .set(conversations::assigned_at.eq(Some(when - 60_000)))
                    .execute(conn)?;
                diesel::update(
                    messages::table
                        .filter(messages::conversation_id.eq(&conv))
                        .filter(messages::author.eq("visitor"))
                        .filter(messages::body.eq("Hello? Anyone?")),
                )
                .set(messages::created_at.eq(when))
                .execute(conn)?;
                Ok::<_, db::DbError>(())
            })
            .await
            .unwrap();
        let (_, ok) = chloe.get(&format!("conversations/{id}")).await;
        assert_eq!(ok["conversation"]["status"], "assigned");
        let back = until_event(&mut chloe_inbox, "conversation", |c| {
            c["id"] == id.as_str() && c["status"] == "unassigned"
        })
        .await;
        assert_eq!(back["assignee"], Value::Null);
    }
}

/// Move a rep's last sign of life; the rep's row id.
async fn set_last_seen(app: &TestApp, user: i64, at: i64) -> String {
    app.state
        .db
        .run(move |conn| {
            diesel::update(crm_users::table.filter(crm_users::crm_user_id.eq(user)))
                .set(crm_users::last_seen_at.eq(Some(at)))
                .execute(conn)?;
            Ok::<_, db::DbError>(
                crm_users::table
                    .filter(crm_users::crm_user_id.eq(user))
                    .select(crm_users::id)
                    .first::<String>(conn)?,
            )
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_visitors_see_their_place_and_a_missed_chat_is_listed_as_missed() {
    for db in TestDb::all() {
        let (app, company) = setup(db).await;
        let ben = Rep::sign_in(&app, sandbox::COMPANY_ID, BEN).await;
        ben.online().await;
        let (_first, first_id, mut first_events) =
            visitor_waits_watching(&app, &company, "first@acme.test").await;
        let (second, second_id, mut second_events) =
            visitor_waits_watching(&app, &company, "second@acme.test").await;
        assert_eq!(
            until_event(&mut second_events, "queue", |_| true).await["position"],
            2
        );
        assert_eq!(
            until_event(&mut first_events, "queue", |_| true).await["position"],
            1
        );

        // Ben takes the first one (after it waited a little): the second moves up, with an
        // expected wait learned from Ben's take.
        let conv = first_id.clone();
        app.state
            .db
            .run(move |conn| {
                diesel::update(conversations::table.find(&conv))
                    .set(conversations::waiting_since.eq(Some(db::now_ms() - 40_000)))
                    .execute(conn)?;
                Ok::<_, db::DbError>(())
            })
            .await
            .unwrap();
        assert_eq!(
            ben.post(&format!("conversations/{first_id}/assign"), None)
                .await
                .0,
            200
        );
        let place = until_event(&mut second_events, "queue", |q| q["position"] == 1).await;
        let wait = place["expected_wait_seconds"]
            .as_i64()
            .expect("a figure once Ben took a chat");
        assert!((0..=40).contains(&wait), "{place}");

        // Nobody takes the second before its wait ends: a missed chat, in Closed, while its
        // offline branch goes on.
        let (chat, cid, sid) = (
            app.state.chat.clone(),
            company.id.clone(),
            second_id.clone(),
        );
        chat.conversation_event(&cid, &sid, Event::WaitExpired, Some("rep".into()))
            .await
            .unwrap();
        let status = until_event(&mut second_events, "status", |s| s["status"] == "closed").await;
        assert_eq!(status["outcome"], "missed");
        let (_, closed) = ben.get("conversations?folder=closed").await;
        let missed = closed["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == second_id.as_str())
            .cloned()
            .expect("listed in Closed");
        assert_eq!(missed["outcome"], "missed");
        let (status, body) = ben
            .post(&format!("conversations/{second_id}/assign"), None)
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("closed"))
        );
        assert!(
            missed["closed_at"].is_i64(),
            "its offline branch ran to the end"
        );
        let (_, d) = ben.get(&format!("conversations/{second_id}")).await;
        let texts: Vec<_> = d["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            texts.contains(&"Nobody is online right now — we'll call you back.".to_owned()),
            "{texts:?}"
        );
        drop(second);

        // A timer that fires after a rep took the chat changes nothing.
        chat.conversation_event(&cid, &first_id, Event::WaitExpired, Some("rep".into()))
            .await
            .unwrap();
        let (_, d) = ben.get(&format!("conversations/{first_id}")).await;
        assert_eq!(d["conversation"]["status"], "assigned");
    }
}

#[tokio::test]
async fn the_openapi_description_lists_the_rep_api() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let doc: Value = reqwest::get(app.at("/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, method) in [
        ("/api/inbox/me", "get"),
        ("/api/inbox/presence", "post"),
        ("/api/inbox/heartbeat", "post"),
        ("/api/inbox/reps", "get"),
        ("/api/inbox/me/notifications", "put"),
        ("/api/inbox/conversations", "get"),
        ("/api/inbox/conversations/{id}", "get"),
        ("/api/inbox/conversations/{id}/assign", "post"),
        ("/api/inbox/conversations/{id}/messages", "post"),
        ("/api/inbox/conversations/{id}/typing", "post"),
        ("/api/inbox/conversations/{id}/close", "post"),
        ("/api/inbox/conversations/{id}/decline", "post"),
        ("/api/inbox/conversations/{id}/panel", "put"),
        ("/api/inbox/conversations/{id}/crm", "post"),
        ("/api/inbox/events", "get"),
        ("/api/widget/typing", "post"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
    }
    let schemas = &doc["components"]["schemas"];
    for field in ["assignee", "waiting_since", "outcome", "preview"] {
        assert!(
            schemas["Summary"]["properties"][field].is_object(),
            "Summary.{field}"
        );
    }
    assert!(schemas["Detail"]["properties"]["panel"].is_object());
}
