//! Live chat across two servers on one PostgreSQL database: what follows from a change
//! (the chat's summary, the reps' notifications, the waiting visitor's place) is worked out
//! by every node from the notice of the change's own transaction, so it reaches another
//! node's streams even when the node that made the change announced nothing after its
//! commit; a presence change nobody asked for is announced once, not once per node; and
//! streams on a node whose link to the others was down catch up from the database — every
//! missed message once, in order.

use std::time::Duration;

use chrono::Utc;
use concierge::chat::ChatError;
use concierge::chat::live::{RepEvent, sweeper};
use concierge::chat::pg_hub::LISTEN_NAME;
use concierge::chat::realtime::{CompanyEvent, Notices};
use concierge::chat::turn::{self, Input};
use concierge::chat::versions::VersionCache;
use concierge::crm::sandbox;
use concierge::db::schema::crm_users;
use concierge::db::{self, DbError, write_tx};
use diesel::prelude::*;
use serde_json::json;

use crate::common::{TestApp, TestDb};
use crate::live_chat::{BEN, Rep, setup};
use crate::multinode::{two_nodes, until_ready};
use crate::wait::eventually_for;
use crate::widget_support::{Sse, SseReader, Widget};

/// The same visitor's widget, talking to another node.
fn on(node: &TestApp, w: &Widget) -> Widget {
    Widget {
        client: reqwest::Client::new(),
        base: node.url.clone(),
        key: w.key.clone(),
        token: w.token.clone(),
        page: w.page.clone(),
        language: w.language.clone(),
    }
}

/// Node A with the sandbox CRM installed and the `qualify` playbook; node B beside it.
async fn nodes_with_a_company() -> Option<(TestApp, TestApp, db::companies::Company)> {
    let db = TestDb::postgres()?;
    let second = db.share();
    let (a, company) = setup(db).await;
    let b = TestApp::spawn(second).await;
    until_ready(&a).await;
    until_ready(&b).await;
    Some((a, b, company))
}

/// A visitor on `node` who answered the `qualify` playbook up to its e-mail question (the
/// next answer hands the chat to the reps); their widget and visitor id.
async fn before_the_hand_off(node: &TestApp, company: &db::companies::Company) -> (Widget, String) {
    let mut w = Widget::new(node, company);
    let session = w.session().await;
    let visitor = session["visitor"]["id"].as_str().unwrap().to_owned();
    let started = w.trigger("qualify", "click").await;
    let question = started["messages"][1]["id"].as_str().unwrap().to_owned();
    w.choose(&question, 1).await;
    (w, visitor)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_node_works_out_a_changes_summary_notifications_and_places_from_its_notice() {
    let Some((a, b, company)) = nodes_with_a_company().await else {
        println!("TEST_DATABASE_URL unset: PgHub needs PostgreSQL");
        return;
    };
    // Ben's inbox and the visitor's widget stream are on node B.
    let ben = Rep::sign_in(&b, sandbox::COMPANY_ID, BEN).await;
    ben.online().await;
    let mut inbox = ben.events().await;
    let (w, visitor_id) = before_the_hand_off(&a, &company).await;
    let mut widget = SseReader::new(on(&b, &w).events(None).await);

    // The hand-off on node A as a node that died right after its commit leaves it: what
    // its transaction sent, nothing after.
    let (db, hub, company_id) = (
        a.state.db.clone(),
        a.state.chat.hub.clone(),
        company.id.clone(),
    );
    let conv = tokio::task::spawn_blocking(move || {
        let mut conn = db.conn().unwrap();
        let versions = VersionCache::new();
        write_tx(&mut conn, |conn| {
            let outcome = turn::visitor_turn(
                conn,
                &versions,
                &company_id,
                &visitor_id,
                Input::Text("cross@acme.test".into()),
                Utc::now(),
            )?;
            let mut notices = Notices::new();
            outcome.announce(&mut notices);
            hub.notify_in(conn, &notices)?;
            Ok::<_, ChatError>(outcome.conversation.expect("a conversation"))
        })
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(conv.status, "unassigned");

    let summary = inbox
        .until(|e| e.event == "conversation" && e.data["id"] == conv.id.as_str())
        .await;
    assert_eq!(summary.data["status"], "unassigned");
    assert_eq!(summary.data["visitor"]["email"], "cross@acme.test");
    let counts = inbox.next().await;
    assert_eq!(
        (counts.event.as_str(), &counts.data["unassigned"]),
        ("counts", &json!(1)),
        "{counts:?}"
    );
    let note = inbox.until(|e| e.event == "notify").await;
    assert_eq!(
        (&note.data["kind"], &note.data["conversation_id"]),
        (&json!("new_chat"), &json!(conv.id))
    );
    let place = widget.until(|e| e.event == "queue").await;
    assert_eq!(place.data["position"], 1, "{}", place.data);
}

/// A company open around the clock whose rep Rita is switched on, connected and was
/// last announced online; the company's id.
async fn rep_online(app: &TestApp) -> String {
    let company = crate::live_timers::open_company(&app.state.db).await;
    let id = company.id.clone();
    app.state
        .db
        .run(move |conn| {
            let rita = db::live::rep(conn, &id, 7)?.expect("Rita");
            db::live::announce_presence(conn, &rita.id, true)
        })
        .await
        .unwrap();
    company.id
}

/// Rita's inbox was last seen an hour ago: it is gone.
async fn inbox_gone(app: &TestApp, company_id: &str) {
    let company = company_id.to_owned();
    app.state
        .db
        .run(move |conn| {
            diesel::update(crm_users::table.filter(crm_users::company_id.eq(&company)))
                .set(crm_users::last_seen_at.eq(Some(db::now_ms() - 3_600_000)))
                .execute(conn)
                .map_err(DbError::from)
        })
        .await
        .unwrap();
}

fn marker(name: &str) -> RepEvent {
    RepEvent::Crm {
        conversation_id: name.into(),
    }
}

/// The presence events on `rx` until both markers came.
async fn presence_until_markers(
    rx: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<CompanyEvent>>,
) -> Vec<(i64, bool)> {
    let mut seen = Vec::new();
    let mut markers = 0;
    while markers < 2 {
        let event = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("an event within 5 s")
            .expect("the channel is open");
        match &*event {
            CompanyEvent::Rep {
                event: RepEvent::Presence { user_id, online },
            } => seen.push((*user_id, *online)),
            CompanyEvent::Rep {
                event: RepEvent::Crm { conversation_id },
            } if conversation_id.starts_with("marker") => markers += 1,
            _ => {}
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presence_change_by_time_is_announced_once_whatever_the_number_of_nodes() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let company_id = rep_online(&a).await;
    let mut on_a = a.state.chat.hub.subscribe_company(&company_id);
    let mut on_b = b.state.chat.hub.subscribe_company(&company_id);
    inbox_gone(&a, &company_id).await;
    // Both nodes sweep at the same moment (their own sweeps run every 2 s besides).
    let (swept_a, swept_b) =
        tokio::join!(sweeper::round(&a.state.chat), sweeper::round(&b.state.chat));
    swept_a.unwrap();
    swept_b.unwrap();
    // Each node then sends a marker: whatever either announced came before it.
    a.state
        .chat
        .hub
        .publish_rep(&company_id, marker("marker-a"));
    b.state
        .chat
        .hub
        .publish_rep(&company_id, marker("marker-b"));
    assert_eq!(presence_until_markers(&mut on_a).await, [(7, false)]);
    assert_eq!(presence_until_markers(&mut on_b).await, [(7, false)]);
}

/// Every message event on `stream` until one with `last` as its text: (seq, text).
async fn messages_until(
    stream: &mut SseReader,
    last: &str,
    of: impl Fn(&Sse) -> Option<(i64, String)>,
) -> Vec<(i64, String)> {
    let mut got = Vec::new();
    loop {
        let event = stream.next().await;
        if let Some((seq, text)) = of(&event) {
            let done = text == last;
            got.push((seq, text));
            if done {
                return got;
            }
        }
    }
}

/// The messages of `texts`, in the order given, each once: the events `got` hold of them
/// (other messages may be there, once each, in `seq` order).
fn each_once_in_order(got: &[(i64, String)], texts: &[&str]) {
    let seqs: Vec<i64> = got.iter().map(|(s, _)| *s).collect();
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(seqs, sorted, "in seq order, each once: {got:?}");
    let ours: Vec<&str> = got
        .iter()
        .map(|(_, t)| t.as_str())
        .filter(|t| texts.contains(t))
        .collect();
    assert_eq!(ours, texts, "{got:?}");
}

/// Run `sql` on the server's maintenance connection (not on the test's database).
async fn admin(sql: String) {
    let url = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
    tokio::task::spawn_blocking(move || {
        let mut conn = diesel::pg::PgConnection::establish(&url).unwrap();
        diesel::sql_query(sql).execute(&mut conn).unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_of_a_node_whose_link_was_down_get_every_missed_message_once_in_order() {
    let Some((a, b, company)) = nodes_with_a_company().await else {
        println!("TEST_DATABASE_URL unset: PgHub needs PostgreSQL");
        return;
    };
    // The chat is made on A and taken by Ben; its widget stream and Ben's inbox are on B.
    let ben_b = Rep::sign_in(&b, sandbox::COMPANY_ID, BEN).await;
    ben_b.online().await;
    let ben_a = Rep::sign_in(&a, sandbox::COMPANY_ID, BEN).await;
    let (w, _) = before_the_hand_off(&a, &company).await;
    let reply = w.say("link@acme.test").await;
    let id = reply["conversation"]["id"].as_str().unwrap().to_owned();
    let (status, body) = ben_a
        .post(&format!("conversations/{id}/assign"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let mut inbox = ben_b.events().await;
    let mut widget = SseReader::new(on(&b, &w).events(None).await);
    widget
        .until(|e| e.event == "message" && e.data["text"] == "link@acme.test")
        .await;

    // The listening connections are cut and cannot come back for a while: what A
    // announces meanwhile never reaches B's listener.
    let name = a.db.url.rsplit('/').next().unwrap().to_owned();
    admin(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await;
    admin(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = '{LISTEN_NAME}' AND datname = '{name}'"
    ))
    .await;
    let hub_b = b.state.chat.hub.clone();
    eventually_for("B's listener to be down", Duration::from_secs(10), || {
        let down = !hub_b.connected();
        async move { down.then_some(()) }
    })
    .await;
    let missed = ["missed one", "missed two", "missed three"];
    w.say(missed[0]).await;
    let (status, body) = ben_a
        .post(
            &format!("conversations/{id}/messages"),
            Some(json!({"text": missed[1]})),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    w.say(missed[2]).await;
    admin(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).await;
    eventually_for("B's listener to be back", Duration::from_secs(15), || {
        let up = hub_b.connected();
        async move { up.then_some(()) }
    })
    .await;
    assert!(b.state.chat.hub.reconnects() >= 1);
    // After the catch-up, a message that travels as usual.
    w.say("after the link came back").await;
    let expected = [missed[0], missed[1], missed[2], "after the link came back"];

    let got = messages_until(&mut widget, expected[3], |e| {
        (e.event == "message").then(|| {
            (
                e.id.expect("a message's id is its seq"),
                e.data["text"].as_str().unwrap_or_default().to_owned(),
            )
        })
    })
    .await;
    each_once_in_order(&got, &expected);
    let got = messages_until(&mut inbox, expected[3], |e| {
        (e.event == "message" && e.data["conversation_id"] == id.as_str()).then(|| {
            (
                e.data["message"]["seq"].as_i64().unwrap_or_default(),
                e.data["message"]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
    })
    .await;
    each_once_in_order(&got, &expected);
}
