//! P3: 100,000 armed live chat timers falling due over 15 s, fired by one node's timer
//! worker: how late each offline message reaches the real-time hub after its due time
//! (p50, p99, max), that each timer fired exactly once, and the process's resident memory
//! before the worker starts (all timers armed) and while it fires them.
//!
//! The conversations are written straight into the database, each waiting at a live chat
//! card whose offline branch asks for an e-mail, so firing one timer is the whole engine
//! step: the offline message, the next question, the flow state, analytics, the timer
//! marked fired and the chat recorded as missed, in one transaction.
//!
//! ```sh
//! cargo bench --bench live_timers
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench live_timers
//! ```
//! `BENCH_TIMERS` (default 100000) and `BENCH_SPAN_SECONDS` (default 15) change the run;
//! `BENCH_SQLITE=0` skips SQLite; `BENCH_TIMER_BATCH`, `BENCH_TIMER_CHUNK` and
//! `BENCH_TIMER_PARALLEL` replace the worker's defaults (`WorkerConfig`). The statements
//! the node's connections sent while the worker ran (claims, firing, the announcer's
//! reads: every round trip on PostgreSQL; `Db::statements`) are printed per timer fired.
// Test and benchmark code: a failed unwrap is the report, and results go to stdout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use concierge::chat::Chat;
use concierge::chat::http_card::HttpCaller;
use concierge::chat::live::RepEvent;
use concierge::chat::realtime::{
    CompanySubscription, Derivations, Derived, Hub, LiveEvent, LocalHub, Subscription,
};
use concierge::chat::timers::{Worker, WorkerConfig};
use concierge::db::schema::{messages, timers};
use concierge::db::{self, Db, DbError};
use diesel::prelude::*;

const PLAYBOOK: &str = r##"
slug: live
name: Talk to sales
trigger: { on: click, selector: "#talk" }
start: rep
cards:
  - id: rep
    type: live_chat
    online_message: "Connecting you…"
    wait_seconds: 60
    offline_message: "Nobody could take your chat — leave your e-mail?"
    offline_next: email
  - id: email
    type: question
    text: "Your e-mail?"
    input: email
    save: person.email
    next: bye
  - id: bye
    type: end
    text: "Thanks!"
"##;

const OFFLINE: &str = "Nobody could take your chat — leave your e-mail?";

#[path = "support/node.rs"]
mod node;
#[path = "support/seed.rs"]
mod seed;
use seed::{env_number, pg, pg_database};

fn main() {
    let timers: usize = env_number("BENCH_TIMERS", 100_000);
    let span_s: usize = env_number("BENCH_SPAN_SECONDS", 15);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut databases = Vec::new();
    if std::env::var("BENCH_SQLITE").as_deref() != Ok("0") {
        databases.push(("SQLite", None));
    }
    if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
        databases.push(("PostgreSQL", Some(url)));
    }
    println!("P3 timers: {timers} armed timers due over {span_s} s, one node's worker");
    for (name, admin) in databases {
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, cleanup) = match &admin {
            None => (dir.path().join("bench.db").display().to_string(), None),
            Some(admin) => {
                let (url, db) = pg_database(admin);
                (url, Some((admin.clone(), db)))
            }
        };
        runtime.block_on(run(name, &url, timers, span_s));
        if let Some((admin, db)) = cleanup {
            pg(
                &admin,
                &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            );
        }
    }
}

/// Records how late each offline message is published, and passes everything on.
struct Recorder {
    inner: LocalHub,
    /// Due time (Unix ms) of each conversation's timer.
    due: HashMap<String, i64>,
    /// Lateness in ms of each offline message, in publishing order.
    late: Mutex<Vec<i64>>,
}

impl Hub for Recorder {
    fn publish(&self, company_id: &str, conversation_id: &str, event: LiveEvent) {
        if let LiveEvent::Message(m) = &event
            && m.text == OFFLINE
            && let Some(due) = self.due.get(conversation_id)
        {
            let late = db::now_ms() - due;
            self.late
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(late);
        }
        self.inner.publish(company_id, conversation_id, event);
    }

    fn subscribe(&self, conversation_id: &str) -> Subscription {
        self.inner.subscribe(conversation_id)
    }

    fn publish_rep(&self, company_id: &str, event: RepEvent) {
        self.inner.publish_rep(company_id, event);
    }

    fn subscribe_company(&self, company_id: &str) -> CompanySubscription {
        self.inner.subscribe_company(company_id)
    }

    fn watching(&self) -> Option<std::collections::HashSet<String>> {
        self.inner.watching()
    }

    fn derive(&self, company_id: &str, derived: Derived) {
        self.inner.derive(company_id, derived);
    }

    fn derivations(&self) -> Option<Derivations> {
        self.inner.derivations()
    }

    fn watches_company(&self, company_id: &str) -> bool {
        self.inner.watches_company(company_id)
    }
}

async fn run(name: &str, url: &str, count: usize, span_s: usize) {
    let db = {
        let url = url.to_owned();
        tokio::task::spawn_blocking(move || Db::open(&url, 8))
            .await
            .expect("task")
            .expect("database")
    };
    let seeding = Instant::now();
    let ids = {
        let db = db.clone();
        tokio::task::spawn_blocking(move || {
            // `due_at` is the index for now, set to real times below.
            seed::waiting_chats(&db, PLAYBOOK, None, "rep", count, Some(&|i| i as i64))
        })
        .await
        .expect("task")
        .expect("seed")
        .conversations
    };
    // All due within the span, starting a moment from now.
    let span_ms = i64::try_from(span_s * 1000).unwrap_or(15_000);
    let n = i64::try_from(count).unwrap_or(1).max(1);
    let base = db::now_ms() + 3_000;
    db.run(move |conn| {
        diesel::update(timers::table)
            .set(timers::due_at.eq(timers::due_at * span_ms / n + base))
            .execute(conn)?;
        Ok::<_, DbError>(())
    })
    .await
    .expect("due times");
    let due: HashMap<String, i64> = ids
        .into_iter()
        .enumerate()
        .map(|(i, id)| (id, i as i64 * span_ms / n + base))
        .collect();
    println!(
        "{name:<10} seeded {count} waiting conversations in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    let recorder = Arc::new(Recorder {
        inner: LocalHub::new(),
        due,
        late: Mutex::new(Vec::with_capacity(count)),
    });
    let http = HttpCaller::new(Default::default()).expect("http client");
    let chat = Chat::new(
        db.clone(),
        recorder.clone(),
        http,
        std::sync::Arc::new(tokio::sync::Notify::new()),
    );
    // What the reps learn of each fired timer is worked out as on a node.
    let announcer = concierge::chat::live::announce::spawn(chat.clone());
    let rss_before = rss_kib();
    let peak = Arc::new(AtomicU64::new(rss_before));
    let sampling = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let defaults = WorkerConfig::default();
    let config = WorkerConfig {
        batch: env_number("BENCH_TIMER_BATCH", defaults.batch),
        chunk: env_number("BENCH_TIMER_CHUNK", defaults.chunk),
        parallel: env_number("BENCH_TIMER_PARALLEL", defaults.parallel),
        ..defaults
    };
    println!(
        "{name:<10} worker: batch {}, chunk {}, parallel {}",
        config.batch, config.chunk, config.parallel
    );
    let statements_before = db.statements();
    let worker = Worker::new(chat, config).spawn();
    let deadline = Instant::now() + Duration::from_secs(span_s as u64 + 300);
    loop {
        let done = recorder.late.lock().map(|l| l.len()).unwrap_or(0);
        if done >= count || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A moment more: anything fired twice would show now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    worker.stop().await;
    let statements = db.statements() - statements_before;
    sampling.abort();
    if let Some(announcer) = announcer {
        announcer.abort();
    }
    let rss_peak = peak.load(Ordering::Relaxed);

    let (fired, offline, distinct) = db
        .run(|conn| {
            let fired: i64 = timers::table
                .filter(timers::status.eq(concierge::db::timers::status::FIRED))
                .count()
                .get_result(conn)?;
            let offline: i64 = messages::table
                .filter(messages::body.eq(OFFLINE))
                .count()
                .get_result(conn)?;
            let conversations: Vec<String> = messages::table
                .filter(messages::body.eq(OFFLINE))
                .select(messages::conversation_id)
                .load(conn)?;
            let distinct = conversations
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len();
            Ok::<_, DbError>((fired, offline, distinct))
        })
        .await
        .expect("counts");
    let mut late = recorder.late.lock().map(|l| l.clone()).unwrap_or_default();
    late.sort_unstable();
    let pick = |q: f64| {
        late.get(((late.len() as f64 * q) as usize).min(late.len().saturating_sub(1)))
            .copied()
            .unwrap_or(-1)
    };
    let within = late.iter().filter(|&&l| l <= 1000).count();
    println!(
        "{name:<10} lateness p50 {} ms  p99 {} ms  max {} ms  (min {} ms) | within 1 s {:.2} %",
        pick(0.5),
        pick(0.99),
        late.last().copied().unwrap_or(-1),
        late.first().copied().unwrap_or(-1),
        100.0 * within as f64 / count.max(1) as f64
    );
    println!(
        "{name:<10} exactly once: {count} armed, {fired} fired, {} published, {offline} offline \
         messages in {distinct} conversations",
        late.len()
    );
    println!(
        "{name:<10} {statements} statements while firing, {:.2} per timer fired",
        statements as f64 / (fired.max(1) as f64)
    );
    println!(
        "{name:<10} RSS {} MiB with all timers armed before the worker, peak {} MiB while firing",
        rss_before / 1024,
        rss_peak / 1024
    );
}

/// Resident memory of this process, in KiB (Linux).
fn rss_kib() -> u64 {
    node::rss_kib(std::process::id())
}
