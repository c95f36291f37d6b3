//! P8: how long a visitor's message takes to reach a rep's inbox event stream, on one
//! node, on SQLite and (when `TEST_DATABASE_URL` is set) PostgreSQL, and on PostgreSQL
//! across two nodes (the visitors on one, the rep on the other: the event travels by
//! `LISTEN/NOTIFY`).
//!
//! The real server on port 0; a rep signed in through the CRM launch, switched online,
//! with `/api/inbox/events` open; visitors waiting for a rep in Unassigned. Each message
//! is timed from just before its `POST /api/widget/messages` (the whole turn: flood
//! limits, the transaction, the hub) to the moment its `message` event is read from the
//! rep's stream.
//!
//! ```sh
//! cargo bench --bench live_delivery
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench live_delivery
//! ```
//! `BENCH_MESSAGES` (default 2000) and `BENCH_SENDERS` (visitors sending at once, default
//! 4) change the run.
// Test and benchmark code: a failed unwrap is the report, and results go to stdout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use concierge::config::{Config, Rate, RateLimits};
use concierge::crm::CrmUser;
use concierge::db::{companies, crm_users, playbooks};
use concierge::playbook::check::check_document;
use concierge::playbook::load::Format;
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};

#[path = "support/inbox.rs"]
mod inbox;
#[path = "support/seed.rs"]
mod seed;

const CRM_COMPANY: i64 = 4242;
const REP: i64 = 424201;

fn main() {
    let messages: usize = env_number("BENCH_MESSAGES", 2000);
    let senders: usize = env_number("BENCH_SENDERS", 4).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut databases = vec![("SQLite", None)];
    if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
        databases.push(("PostgreSQL", Some(url)));
    }
    println!(
        "P8 visitor message → rep's event stream: {messages} messages, {senders} visitors sending at once"
    );
    let mut runs = vec![("SQLite", None, false)];
    for (name, admin) in databases.into_iter().skip(1) {
        runs.push((name, admin.clone(), false));
        runs.push(("PG 2 nodes", admin, true));
    }
    for (name, admin, two_nodes) in runs {
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, cleanup) = match &admin {
            None => (dir.path().join("bench.db").display().to_string(), None),
            Some(admin) => {
                let db = format!("concierge_bench_{}", uuid::Uuid::new_v4().simple());
                pg(admin, &format!("CREATE DATABASE {db}"));
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
                (format!("{base}/{db}"), Some((admin.clone(), db)))
            }
        };
        runtime.block_on(run(name, &url, dir.path(), messages, senders, two_nodes));
        if let Some((admin, db)) = cleanup {
            pg(
                &admin,
                &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            );
        }
    }
}

async fn run(
    name: &str,
    database_url: &str,
    dir: &Path,
    messages: usize,
    senders: usize,
    two_nodes: bool,
) {
    let server = concierge::web::build(config(database_url, dir))
        .await
        .expect("server starts");
    let base = server.url.clone();
    let state = server.state.clone();
    let handle = server.handle();
    tokio::spawn(server.run());
    // The visitors' node: the rep's own, or a second one on the same database.
    let (visitor_base, second) = if two_nodes {
        let other = dir.join("second");
        std::fs::create_dir_all(&other).expect("second node's folder");
        let server = concierge::web::build(config(database_url, &other))
            .await
            .expect("second node starts");
        let url = server.url.clone();
        let handle = server.handle();
        tokio::spawn(server.run());
        (url, Some(handle))
    } else {
        (base.clone(), None)
    };
    let key = state
        .db
        .run(|conn| {
            let company = companies::create(conn, "Bench", Some(CRM_COMPANY))?;
            let mut settings = company.settings();
            settings.business_hours = vec![vec!["00:00-24:00".to_owned()]; 7];
            companies::update_settings(conn, &company.id, &settings)?;
            let rep = CrmUser {
                id: REP,
                name: "Bench Rep".into(),
                email: "rep@bench.test".into(),
                is_admin: false,
                active: true,
                icon_url: None,
            };
            crm_users::sync(conn, &company.id, &[rep], concierge::db::now_ms())?;
            let doc = check_document(seed::LIVE_CHAT, Format::Yaml).expect("valid playbook");
            playbooks::save_and_publish(conn, &company.id, &doc)?;
            Ok::<_, concierge::db::DbError>(company.public_key)
        })
        .await
        .expect("company");

    // The rep: signed in, online, stream open.
    let client = reqwest::Client::new();
    let rep = inbox::sign_in(
        &client,
        &base,
        state.crm.jwt_secret.expose_secret(),
        CRM_COMPANY,
        REP,
    )
    .await;
    inbox::go_online(&client, &base, &rep).await;
    let cookie = rep.cookie;
    let arrived: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut stream = client
        .get(format!("{base}/api/inbox/events"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("events");
    let seen = arrived.clone();
    let reader = tokio::spawn(async move {
        let mut buf = String::new();
        while let Ok(Some(chunk)) = stream.chunk().await {
            let now = Instant::now();
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                if !block.starts_with("event: message\n") {
                    continue;
                }
                let data = block.lines().find_map(|l| l.strip_prefix("data: "));
                if let Some(text) = data
                    .and_then(|d| serde_json::from_str::<Value>(d).ok())
                    .and_then(|v| v["message"]["text"].as_str().map(str::to_owned))
                {
                    seen.lock().expect("lock").insert(text, now);
                }
            }
        }
    });

    // Visitors waiting in Unassigned.
    let mut visitors = Vec::new();
    for _ in 0..senders {
        let session: Value = client
            .post(format!("{visitor_base}/api/widget/session"))
            .json(&json!({ "key": key, "page": { "url": "https://bench.test/" } }))
            .send()
            .await
            .expect("session")
            .json()
            .await
            .expect("session");
        let token = session["token"].as_str().expect("token").to_owned();
        let started: Value = client
            .post(format!("{visitor_base}/api/widget/trigger"))
            .bearer_auth(&token)
            .json(&json!({ "slug": "live", "page": { "url": "https://bench.test/" }, "reason": "click" }))
            .send()
            .await
            .expect("trigger")
            .json()
            .await
            .expect("trigger");
        assert_eq!(started["conversation"]["status"], "unassigned", "{started}");
        visitors.push(token);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let per_sender = messages.div_ceil(senders);
    let began = Instant::now();
    let tasks: Vec<_> = visitors
        .into_iter()
        .enumerate()
        .map(|(v, token)| {
            let (client, base, sent) = (client.clone(), visitor_base.clone(), sent.clone());
            tokio::spawn(async move {
                for i in 0..per_sender {
                    let text = format!("visitor {v} message {i}");
                    sent.lock()
                        .expect("lock")
                        .insert(text.clone(), Instant::now());
                    let resp = client
                        .post(format!("{base}/api/widget/messages"))
                        .bearer_auth(&token)
                        .json(&json!({ "text": text }))
                        .send()
                        .await
                        .expect("message");
                    assert!(resp.status().is_success(), "{}", resp.status());
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("sender");
    }
    let elapsed = began.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    reader.abort();
    handle.stop(false).await;
    if let Some(second) = second {
        second.stop(false).await;
    }

    let sent = sent.lock().expect("lock");
    let arrived = arrived.lock().expect("lock");
    let mut latencies: Vec<f64> = sent
        .iter()
        .filter_map(|(text, t0)| {
            arrived
                .get(text)
                .map(|t1| t1.duration_since(*t0).as_secs_f64() * 1000.0)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let missing = sent.len() - latencies.len();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "{name:<10} {} delivered, {missing} missing, {:.0} messages/s | p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        latencies.len(),
        sent.len() as f64 / elapsed.as_secs_f64(),
        pick(0.5),
        pick(0.99),
        pick(1.0)
    );
}

fn config(database_url: &str, dir: &Path) -> Config {
    let mut config = Config::for_tests(database_url, dir);
    config.playbooks_dir = dir.join("none");
    config.db_pool_size = 8;
    config.log = "error".into();
    config.rate_limits = RateLimits {
        per_address: Rate::UNLIMITED,
        per_visitor: Rate::UNLIMITED,
    };
    config
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pg(admin: &str, sql: &str) {
    use diesel::{Connection, RunQueryDsl, pg::PgConnection};
    let mut conn = PgConnection::establish(admin).expect("PostgreSQL");
    diesel::sql_query(sql).execute(&mut conn).expect(sql);
}
