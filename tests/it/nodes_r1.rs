//! R1 with real processes, on SQLite and PostgreSQL: visitors run a short flow that ends
//! in a capture against a `concierge serve` process that is killed (`kill -9`) at random
//! moments and restarted, at least 20 times per backend. Afterwards: every turn that was
//! answered 2xx is stored, no bot reply exists twice in a conversation, every visitor's
//! conversation went on from its last committed step to the end, and the sandbox CRM holds
//! each capture's lead exactly once. An in-process server on the same database, with no
//! workers, serves the sandbox CRM.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use concierge::config::Rate;
use concierge::db::companies::Company;
use concierge::db::schema::{messages, outbox};
use diesel::prelude::*;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::common::{TestApp, TestDb};
use crate::crm_support::installed_with;
use crate::live_chat::ADA;
use crate::node_process::NodeProcess;
use crate::wait::within;

const FLOW: &str = r##"
slug: r1
name: Crash capture
trigger: { on: click, selector: "#r1" }
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
    next: capture
  - id: capture
    type: capture
    create: lead
    title: "R1 {{ vars.tag }}"
    next: bye
  - id: bye
    type: end
    text: "Thanks."
"##;

const BOT_TEXTS: [&str; 3] = ["Your reference?", "Your e-mail?", "Thanks."];
const KILLS: usize = 20;
const VISITORS_AT_ONCE: usize = 4;
/// Each visitor loop starts a visitor at most this often, and all of them together at most
/// [`MAX_VISITORS`]: every capture costs one person search, and the CRM allows 10 searches
/// per 2 seconds (`crm::sandbox` as Pipedrive), so the outbox can deliver about 5 captures
/// a second, whatever the machine. Unpaced visitors on a fast machine make captures several
/// times faster than that, and the backlog left after the last restart would then outlast
/// any fixed wait.
const VISITOR_EVERY: Duration = Duration::from_millis(400);
const MAX_VISITORS: usize = 200;
/// The wait for the last captures: [`MAX_VISITORS`] at 5 a second, twice over.
const DELIVERY_WAIT: Duration = Duration::from_secs(2 * MAX_VISITORS as u64 / 5);

/// What the visitors saw answered.
#[derive(Default)]
struct Record {
    /// (conversation, visitor text) of every turn answered 2xx.
    answered: Vec<(String, String)>,
    /// Tags of the visitors who reached the end.
    finished: Vec<String>,
}

/// A widget over a client that gives up quickly and reports transport failures.
struct Visitor {
    client: reqwest::Client,
    base: String,
    key: String,
    token: Option<String>,
}

impl Visitor {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Option<(u16, Value)> {
        let mut req = self
            .client
            .request(method, format!("{}/api/widget/{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.ok()?;
        let status = resp.status().as_u16();
        let body = resp.json::<Value>().await.ok()?;
        Some((status, body))
    }

    async fn post(&self, path: &str, body: Value) -> Option<(u16, Value)> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// The open conversation's visitor texts, `None` while the node is away.
    async fn visitor_texts(&self) -> Option<Vec<String>> {
        let (status, body) = self
            .call(reqwest::Method::GET, "messages?after=0", None)
            .await?;
        if status != 200 {
            return Some(Vec::new());
        }
        Some(
            body["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|m| m["author"] == "visitor")
                .filter_map(|m| m["text"].as_str().map(str::to_owned))
                .collect(),
        )
    }
}

async fn pause() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// One visitor through the flow, retrying across crashes; the tag once finished.
async fn run_visitor(base: &str, key: &str, tag: String, record: &Mutex<Record>) {
    let mut v = Visitor {
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        base: base.to_owned(),
        key: key.to_owned(),
        token: None,
    };
    let page =
        json!({"url": "https://acme.test/", "referrer": "", "language": "en", "title": "R1"});
    // A session (nothing to lose before it).
    loop {
        if let Some((200, body)) = v
            .post(
                "session",
                json!({"key": v.key, "token": v.token, "page": page}),
            )
            .await
        {
            v.token = body["token"].as_str().map(str::to_owned);
            break;
        }
        pause().await;
    }
    // The flow starts; a start whose answer was lost shows as an open conversation.
    let conversation = loop {
        match v
            .post(
                "trigger",
                json!({"slug": "r1", "page": page, "reason": "click"}),
            )
            .await
        {
            Some((200, body)) => break body["conversation"]["id"].as_str().unwrap().to_owned(),
            Some((status, body)) => panic!("trigger: {status} {body}"),
            None => {
                pause().await;
                if let Some((200, body)) = v
                    .post(
                        "session",
                        json!({"key": v.key, "token": v.token, "page": page}),
                    )
                    .await
                    && let Some(id) = body["conversation"]["id"].as_str()
                {
                    break id.to_owned();
                }
            }
        }
    };
    let email = format!("{tag}@acme.test");
    for text in [tag.clone(), email] {
        loop {
            match v.post("messages", json!({"text": text})).await {
                Some((200, _)) => {
                    record
                        .lock()
                        .await
                        .answered
                        .push((conversation.clone(), text.clone()));
                    break;
                }
                Some((status, body)) if status < 500 => panic!("turn: {status} {body}"),
                _ => {
                    // Was it committed before the node died? Go on from the last
                    // committed step: ask once the node answers again.
                    let committed = loop {
                        pause().await;
                        match v.visitor_texts().await {
                            None => continue,
                            Some(texts) => {
                                break texts.last() == Some(&text)
                                    // The e-mail ends the flow: no open conversation.
                                    || (texts.is_empty() && text.contains('@'));
                            }
                        }
                    };
                    if committed {
                        break;
                    }
                }
            }
        }
    }
    record.lock().await.finished.push(tag);
}

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
    let company = installed_with(&app, ADA, FLOW).await;
    (app, company)
}

async fn expire_leases(db: &concierge::db::Db) {
    db.run(|conn| {
        diesel::update(outbox::table.filter(outbox::locked_until.is_not_null()))
            .set(outbox::locked_until.eq(Some(concierge::db::now_ms() - 1)))
            .execute(conn)
            .map_err(concierge::db::DbError::from)
    })
    .await
    .unwrap();
}

/// Milliseconds in `from..from + span`, from the randomness of a v4 UUID.
fn random_ms(from: u64, span: u64) -> u64 {
    from + (uuid::Uuid::new_v4().as_u128() % u128::from(span)) as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r1_kill_9_loses_no_answered_turn_and_delivers_each_capture_once() {
    for db in TestDb::all() {
        let started = Instant::now();
        let (backend, url) = (db.backend, db.url.clone());
        let (setup, company) = setup(db).await;
        let node = Arc::new(Mutex::new(NodeProcess::start(&url, &[]).await));
        let base = node.lock().await.url.clone();
        let record = Arc::new(Mutex::new(Record::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let next_tag = Arc::new(AtomicUsize::new(0));
        let mut loops = Vec::new();
        for _ in 0..VISITORS_AT_ONCE {
            let (base, key) = (base.clone(), company.public_key.clone());
            let (record, stop, next_tag) = (record.clone(), stop.clone(), next_tag.clone());
            loops.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let n = next_tag.fetch_add(1, Ordering::Relaxed);
                    if n >= MAX_VISITORS {
                        break;
                    }
                    let began = Instant::now();
                    run_visitor(&base, &key, format!("v{n}"), &record).await;
                    tokio::time::sleep(VISITOR_EVERY.saturating_sub(began.elapsed())).await;
                }
            }));
        }
        for kill in 0..KILLS {
            tokio::time::sleep(Duration::from_millis(random_ms(300, 900))).await;
            let mut n = node.lock().await;
            n.kill();
            if kill == KILLS - 1 {
                // Rows the dead nodes had claimed wait for their lease (minutes); let that
                // time pass while no node runs.
                expire_leases(&setup.state.db).await;
            }
            n.restart().await;
        }
        let last_restart = Instant::now();
        stop.store(true, Ordering::Relaxed);
        for l in loops {
            l.await.unwrap();
        }
        let record = Arc::try_unwrap(record).ok().unwrap().into_inner();
        assert!(
            record.finished.len() >= KILLS,
            "{backend:?}: only {} visitors finished",
            record.finished.len()
        );

        // Every 2xx turn is stored.
        let db = setup.state.db.clone();
        let rows: Vec<(String, String, String)> = db
            .run(|conn| {
                messages::table
                    .select((messages::conversation_id, messages::author, messages::body))
                    .load(conn)
                    .map_err(concierge::db::DbError::from)
            })
            .await
            .unwrap();
        for (conversation, text) in &record.answered {
            assert!(
                rows.iter()
                    .any(|(c, a, b)| c == conversation && a == "visitor" && b == text),
                "{backend:?}: answered turn {text:?} of {conversation} is stored"
            );
        }
        // No bot reply twice; every finished conversation reached its end.
        let mut bot: HashMap<(&str, &str), usize> = HashMap::new();
        for (c, a, b) in &rows {
            if a == "bot" {
                *bot.entry((c.as_str(), b.as_str())).or_default() += 1;
            }
        }
        assert!(
            bot.iter().all(|(_, n)| *n == 1),
            "{backend:?}: a bot reply twice: {:?}",
            bot.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
        );
        assert!(bot.keys().all(|(_, b)| BOT_TEXTS.contains(b)));

        // Each capture reaches the CRM once.
        let sandbox = setup.state.sandbox.clone().expect("the sandbox CRM");
        let expected = record.finished.len();
        // Every lead there and no outbox row pending (a late duplicate would show now);
        // what is missing after the wait is reported below.
        within(DELIVERY_WAIT, || async {
            let leads = sandbox.snapshot().leads;
            let r1 = leads.iter().filter(|l| l.title.starts_with("R1 ")).count();
            let pending: i64 = db
                .run(|conn| {
                    outbox::table
                        .filter(outbox::status.eq("pending"))
                        .count()
                        .get_result(conn)
                        .map_err(concierge::db::DbError::from)
                })
                .await
                .unwrap();
            (r1 >= expected && pending == 0).then_some(())
        })
        .await;
        let drained = last_restart.elapsed();
        let leads = sandbox.snapshot().leads;
        let waiting: Vec<(String, i32, Option<String>)> = db
            .run(|conn| {
                outbox::table
                    .filter(outbox::status.ne("done"))
                    .select((outbox::status, outbox::attempts, outbox::last_error))
                    .load(conn)
                    .map_err(concierge::db::DbError::from)
            })
            .await
            .unwrap();
        for tag in &record.finished {
            let title = format!("R1 {tag}");
            let n = leads.iter().filter(|l| l.title == title).count();
            assert_eq!(
                n,
                1,
                "{backend:?}: lead {title} once; {} rows not done: {:?}",
                waiting.len(),
                &waiting[..waiting.len().min(5)]
            );
        }
        let mut titles: Vec<_> = leads.iter().map(|l| l.title.as_str()).collect();
        titles.sort();
        let before = titles.len();
        titles.dedup();
        assert_eq!(before, titles.len(), "{backend:?}: no lead twice");
        println!(
            "R1 {backend:?}: {KILLS} kills, {} visitors finished, {} turns answered, {} leads \
             (all in {drained:.0?} after the last restart), {:.0?}",
            record.finished.len(),
            record.answered.len(),
            leads.len(),
            started.elapsed()
        );
    }
}
