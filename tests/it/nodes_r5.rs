//! R5 with real processes: two `concierge serve` nodes on one fresh PostgreSQL database.
//! A visitor's messages on node A reach a rep's event stream on node B and the rep's
//! replies come back; two reps pressing assign on different nodes have one winner; and
//! while node B is killed (`kill -9`) and restarted in the middle of the timers falling
//! due, every wait timer fires once and every capture reaches the sandbox CRM once (the
//! same person, captured on both nodes at once, is created once). An in-process server on
//! the same database, with no workers, installs the sandbox CRM and serves it to both.

use std::collections::HashMap;
use std::time::Duration;

use concierge::config::Rate;
use concierge::crm::sandbox;
use concierge::db::companies::{self, Company};
use concierge::db::playbooks;
use concierge::db::schema::messages;
use concierge::playbook::check::check_document;
use concierge::playbook::load::Format;
use diesel::prelude::*;
use secrecy::ExposeSecret as _;
use serde_json::json;

use crate::common::{TestApp, TestDb};
use crate::crm_support::install_app;
use crate::live_chat::{ADA, BEN, CHLOE, Rep};
use crate::node_process::NodeProcess;
use crate::wait::eventually_for;
use crate::widget_support::{QUALIFY, SseReader, Widget};

/// Click-started: a reference, an e-mail, a live chat nobody takes, then a lead.
const TIMED: &str = r##"
slug: timed
name: Timed capture
trigger: { on: click, selector: "#timed" }
start: tag
cards:
  - id: tag
    type: question
    text: "Your reference?"
    input: text
    save: vars.tag
    next: email
  - id: email
    type: question
    text: "Your e-mail?"
    input: email
    save: person.email
    on_fail: bye
    next: rep
  - id: rep
    type: live_chat
    online_message: "Connecting you…"
    wait_seconds: 10
    offline_message: "Nobody could take your chat."
    offline_next: capture
  - id: capture
    type: capture
    create: lead
    title: "R5 {{ vars.tag }}"
    next: bye
  - id: bye
    type: end
    text: "Thanks."
"##;

const OFFLINE: &str = "Nobody could take your chat.";

fn widget(base: &str, company: &Company) -> Widget {
    Widget {
        client: reqwest::Client::new(),
        base: base.to_owned(),
        key: company.public_key.clone(),
        token: None,
        page: "https://acme.test/pricing".into(),
        language: "en-GB".into(),
    }
}

/// The in-process server that installs and serves the sandbox CRM; the company.
async fn setup(db: TestDb) -> (TestApp, Company) {
    let app = TestApp::spawn_with(db, |c| {
        c.outbox.concurrency = 0;
        c.timers.batch = 0;
        c.rate_limits.per_address = Rate {
            per_second: 0,
            burst: 0,
        };
    })
    .await;
    let company_id = install_app(&app, ADA).await;
    let docs = [QUALIFY, TIMED].map(|y| check_document(y, Format::Yaml).unwrap());
    let company = app
        .state
        .db
        .run(move |conn| {
            for doc in &docs {
                playbooks::save_and_publish(conn, &company_id, doc)?;
            }
            companies::by_id(conn, &company_id).map(Option::unwrap)
        })
        .await
        .unwrap();
    (app, company)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r5_two_processes_share_events_assignment_timers_and_the_outbox() {
    let Some(db) = TestDb::postgres() else {
        println!("TEST_DATABASE_URL unset: R5 needs PostgreSQL");
        return;
    };
    let url = db.url.clone();
    let (setup, company) = setup(db).await;
    let secret = setup.state.crm.jwt_secret.expose_secret().to_owned();
    let a = NodeProcess::start(&url, &[]).await;
    let mut b = NodeProcess::start(&url, &[]).await;

    // A visitor on A, Ben's inbox on B, and back.
    let ben_b = Rep::sign_in_at(&b.url, &secret, sandbox::COMPANY_ID, BEN).await;
    ben_b.online().await;
    let mut inbox = ben_b.events().await;
    let mut w = widget(&a.url, &company);
    w.session().await;
    let started = w.trigger("qualify", "click").await;
    let question = started["messages"][1]["id"].as_str().unwrap().to_owned();
    w.choose(&question, 1).await;
    let mut visitor = SseReader::new(w.events(None).await);
    let reply = w.say("cross@acme.test").await;
    assert_eq!(reply["conversation"]["status"], "unassigned", "{reply}");
    let id = reply["conversation"]["id"].as_str().unwrap().to_owned();
    let summary = inbox
        .until(|e| e.event == "conversation" && e.data["id"] == id.as_str())
        .await;
    assert_eq!(summary.data["visitor"]["email"], "cross@acme.test");
    let (status, body) = ben_b
        .post(&format!("conversations/{id}/assign"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = ben_b
        .post(
            &format!("conversations/{id}/messages"),
            Some(json!({"text": "Hello from node B"})),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    visitor
        .until(|e| e.event == "message" && e.data["text"] == "Hello from node B")
        .await;
    w.say("Thanks, node A here").await;
    inbox
        .until(|e| e.event == "message" && e.data["message"]["text"] == "Thanks, node A here")
        .await;
    assert_eq!(
        ben_b
            .post(&format!("conversations/{id}/close"), None)
            .await
            .0,
        200
    );

    // Ben on A and Chloé on B press assign at once: one winner, every round.
    let ben_a = Rep::sign_in_at(&a.url, &secret, sandbox::COMPANY_ID, BEN).await;
    let chloe_b = Rep::sign_in_at(&b.url, &secret, sandbox::COMPANY_ID, CHLOE).await;
    chloe_b.online().await;
    for round in 0..10 {
        let mut v = widget(if round % 2 == 0 { &a.url } else { &b.url }, &company);
        v.session().await;
        let started = v.trigger("qualify", "click").await;
        let q = started["messages"][1]["id"].as_str().unwrap().to_owned();
        v.choose(&q, 1).await;
        let r = v.say(&format!("race{round}@acme.test")).await;
        let id = r["conversation"]["id"].as_str().unwrap().to_owned();
        let path = format!("conversations/{id}/assign");
        let ((s1, _), (s2, _)) = tokio::join!(ben_a.post(&path, None), chloe_b.post(&path, None));
        let mut codes = [s1.as_u16(), s2.as_u16()];
        codes.sort();
        assert_eq!(codes, [200, 409], "round {round}");
        let closer = if s1.as_u16() == 200 { &ben_a } else { &chloe_b };
        assert_eq!(
            closer
                .post(&format!("conversations/{id}/close"), None)
                .await
                .0,
            200
        );
    }

    // Timers and the outbox while B dies: visitors on both nodes wait for a rep who never
    // comes (Ben is online, so the chats wait their 10 s); pairs share an e-mail address.
    assert_eq!(ben_a.post("heartbeat", None).await.0, 204);
    let visitors = 16;
    let mut conversations = Vec::new();
    for i in 0..visitors {
        let mut v = widget(if i % 2 == 0 { &a.url } else { &b.url }, &company);
        v.session().await;
        v.trigger("timed", "click").await;
        v.say(&format!("t{i}")).await;
        let r = v.say(&format!("pair{}@acme.test", i / 2)).await;
        assert_eq!(r["conversation"]["status"], "unassigned", "{r}");
        conversations.push(r["conversation"]["id"].as_str().unwrap().to_owned());
    }
    // The first timers fall due about 10 s after the first visitor waited.
    tokio::time::sleep(Duration::from_millis(8_500)).await;
    b.kill();
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    b.restart().await;

    let db = setup.state.db.clone();
    let ids = conversations.clone();
    let fired = eventually_for("every wait timer fired", Duration::from_secs(60), || {
        let (db, ids) = (db.clone(), ids.clone());
        let expected = ids.len();
        async move {
            let rows: Vec<String> = db
                .run(move |conn| {
                    messages::table
                        .filter(messages::conversation_id.eq_any(&ids))
                        .filter(messages::body.eq(OFFLINE))
                        .select(messages::conversation_id)
                        .load::<String>(conn)
                        .map_err(concierge::db::DbError::from)
                })
                .await
                .ok()?;
            (rows.len() >= expected).then_some(rows)
        }
    })
    .await;
    let mut per_conversation: HashMap<&str, usize> = HashMap::new();
    for c in &fired {
        *per_conversation.entry(c.as_str()).or_default() += 1;
    }
    assert_eq!(
        per_conversation.len(),
        visitors,
        "every conversation's timer fired"
    );
    assert!(
        per_conversation.values().all(|n| *n == 1),
        "each timer fired once: {per_conversation:?}"
    );

    let sandbox = setup.state.sandbox.clone().expect("the sandbox CRM");
    let store = eventually_for("every lead in the CRM", Duration::from_secs(60), || {
        let sandbox = sandbox.clone();
        async move {
            let store = sandbox.snapshot();
            let leads = store
                .leads
                .iter()
                .filter(|l| l.title.starts_with("R5 t"))
                .count();
            (leads >= visitors).then_some(store)
        }
    })
    .await;
    // Settle: once every outbox row is handled, a late duplicate would show now.
    crate::live_chat::outbox_settled(&setup.state.db).await;
    let store = {
        let later = sandbox.snapshot();
        assert_eq!(
            later.leads.len(),
            store.leads.len(),
            "no lead after the count"
        );
        later
    };
    for i in 0..visitors {
        let title = format!("R5 t{i}");
        let n = store.leads.iter().filter(|l| l.title == title).count();
        assert_eq!(n, 1, "lead {title} once");
    }
    for pair in 0..visitors / 2 {
        let email = format!("pair{pair}@acme.test");
        let n = store
            .persons
            .iter()
            .filter(|p| p.emails.iter().any(|e| e.value == email))
            .count();
        assert_eq!(n, 1, "person {email} created once across the nodes");
    }
    drop(a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_event_streams_with_a_reconnect_hint_and_stops() {
    for db in TestDb::all() {
        let (backend, url) = (db.backend, db.url.clone());
        let (_setup, company) = setup(db).await;
        let mut node = NodeProcess::start(&url, &[]).await;
        let mut w = widget(&node.url, &company);
        w.session().await;
        w.trigger("qualify", "click").await;
        let mut stream = w.events(None).await;
        assert_eq!(stream.status(), 200);
        let first = stream.chunk().await.unwrap().unwrap();
        assert!(first.starts_with(b"retry: 3000"), "{backend:?}");
        let stopping = tokio::task::spawn_blocking(move || {
            let stopped = node.terminate(Duration::from_secs(15));
            (stopped, node)
        });
        let mut tail = Vec::new();
        while let Ok(Some(chunk)) = stream.chunk().await {
            tail.extend_from_slice(&chunk);
        }
        let tail = String::from_utf8_lossy(&tail).into_owned();
        assert!(tail.ends_with("retry: 250\n\n"), "{backend:?}: {tail:?}");
        let (stopped, _node) = stopping.await.unwrap();
        assert!(
            stopped.is_some(),
            "{backend:?}: the node ended after SIGTERM"
        );
    }
}

/// Capture rows of the company still pending: (all, those under a lease).
async fn pending_rows(db: &concierge::db::Db, company_id: &str) -> (i64, i64) {
    use concierge::db::schema::outbox as o;
    let company = company_id.to_owned();
    db.run(move |conn| {
        let all: i64 = o::table
            .filter(o::company_id.eq(&company))
            .filter(o::status.eq("pending"))
            .count()
            .get_result(conn)?;
        let leased: i64 = o::table
            .filter(o::company_id.eq(&company))
            .filter(o::status.eq("pending"))
            .filter(o::locked_until.is_not_null())
            .count()
            .get_result(conn)?;
        Ok::<_, concierge::db::DbError>((all, leased))
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_releases_claimed_outbox_rows_and_another_node_takes_them_at_once() {
    use concierge::db::outbox;
    const ROWS: usize = 40;
    for db in TestDb::all() {
        let (backend, url) = (db.backend, db.url.clone());
        let (setup, company) = setup(db).await;
        // Every CRM write answers after a second: a node's outbox holds its batch a while
        // (more rows than its lanes: some in flight, the others claimed and waiting).
        crate::crm_support::faults(
            &setup,
            json!({"rate": 1.0, "kinds": ["slow"], "slow_ms": 1000, "writes_only": true}),
        )
        .await;
        let company_id = company.id.clone();
        setup
            .state
            .db
            .run(move |conn| {
                for i in 0..ROWS {
                    let payload =
                        serde_json::to_value(crate::outbox_worker::capture(i, None)).unwrap();
                    let now = concierge::db::now_ms();
                    outbox::enqueue(
                        conn,
                        &company_id,
                        None,
                        outbox::Kind::Capture,
                        &payload,
                        now,
                    )?;
                }
                Ok::<_, concierge::db::DbError>(())
            })
            .await
            .unwrap();
        let mut a = NodeProcess::start(&url, &[]).await;
        let db = setup.state.db.clone();
        eventually_for("node A to claim the rows", Duration::from_secs(20), || {
            let (db, company) = (db.clone(), company.id.clone());
            async move {
                let (all, leased) = pending_rows(&db, &company).await;
                (all == ROWS as i64 && leased >= 2).then_some(())
            }
        })
        .await;
        let asked = std::time::Instant::now();
        let (ended, _a) = tokio::task::spawn_blocking(move || {
            let ended = a.terminate(Duration::from_secs(20));
            (ended, a)
        })
        .await
        .unwrap();
        let took = asked.elapsed();
        let ended =
            ended.unwrap_or_else(|| panic!("{backend:?}: still running 20 s after SIGTERM"));
        assert!(ended.success(), "{backend:?}: exit status {ended}");
        let (left, leased) = pending_rows(&db, &company.id).await;
        assert!(left > 0, "{backend:?}: the batch was not cut short");
        assert_eq!(
            leased, 0,
            "{backend:?}: every claimed row not started is released"
        );
        println!("{backend:?}: SIGTERM to exit {took:?}, {left} rows given back");

        // Node B delivers them at once, not after the 5-minute lease.
        let cleared = crate::crm_support::browser()
            .delete(setup.at("/sandbox/faults"))
            .send()
            .await
            .unwrap();
        assert!(cleared.status().is_success());
        let b = NodeProcess::start(&url, &[]).await;
        eventually_for(
            "node B to deliver every row",
            Duration::from_secs(30),
            || {
                let (db, company) = (db.clone(), company.id.clone());
                async move { (pending_rows(&db, &company).await.0 == 0).then_some(()) }
            },
        )
        .await;
        let store = setup
            .state
            .sandbox
            .clone()
            .expect("the sandbox CRM")
            .snapshot();
        for i in 0..ROWS {
            let title = crate::outbox_worker::capture(i, None).title;
            let n = store.leads.iter().filter(|l| l.title == title).count()
                + store.deals.iter().filter(|d| d.title == title).count();
            assert_eq!(n, 1, "{backend:?}: {title} delivered once");
        }
        drop(b);
    }
}
