//! P2: many open real-time connections at once — visitors' widget event streams
//! (`/api/widget/events`) and reps' inbox streams (`/api/inbox/events`) — on one
//! `concierge serve` process: its resident memory per connection, and how long one change
//! takes to reach all of them.
//!
//! The database is seeded with `BENCH_VISITORS` visitors (default 9,900), each waiting in
//! Unassigned at a live chat card, and `BENCH_REPS` reps (default 100) of the same company,
//! signed in through the CRM launch. The server is a process of its own (the `concierge`
//! binary of this build), so its memory is its own; the benchmark raises the open-file
//! limit of both. The streams are opened in two rounds of half each (plain HTTP/1.1, a TCP
//! connection each); after each round the benchmark waits until nothing arrives for 2 s
//! and reads the server's resident memory. Two figures: (after − before) ÷ connections,
//! which also counts what the server sets up once (database connections and caches,
//! threads), and the growth over the second round ÷ its connections: what one more
//! connection costs.
//!
//! The change that reaches everyone: one rep takes the chat that has waited longest. Every
//! other waiting visitor's place in the queue moves up (a `queue` event), the taken
//! visitor hears who answers (`agent`, `status`), and every rep's inbox hears of the chat
//! (`conversation`, `removed` or `counts`). Timed from just before the rep's request to
//! the first event on each connection.
//!
//! ```sh
//! cargo bench --bench live_streams
//! cargo test --bench live_streams     # the same from a debug build
//! ```
// Test and benchmark code: a failed unwrap is the report, and results go to stdout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use concierge::chat::visitor::TokenKeys;
use concierge::config::Config;
use concierge::crm::CrmUser;
use concierge::db::{Db, crm_users};
use secrecy::{ExposeSecret as _, SecretString};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

#[path = "support/inbox.rs"]
mod inbox;
#[path = "support/node.rs"]
mod node;
#[path = "support/seed.rs"]
mod seed;

use node::Node;
use seed::{LIVE_CHAT, env_number};

const CRM_COMPANY: i64 = 4343;
/// CRM user ids of the reps: `FIRST_REP`, `FIRST_REP + 1`, …
const FIRST_REP: i64 = 434_300;
/// Connections being opened at once.
const OPENING: usize = 64;
/// Quiet for this long: everything sent at opening has arrived.
const QUIET: Duration = Duration::from_secs(2);

/// What every connection's reader shares.
struct Shared {
    started: Instant,
    /// Microseconds since `started` of the last bytes read on any connection.
    last_read_us: AtomicU64,
    /// Set just before the change is made.
    armed: AtomicBool,
    armed_at_us: AtomicU64,
    /// Per connection: microseconds from the change to its first event (0: none yet).
    first_event_us: Vec<AtomicU64>,
    /// The first event's name, counted per kind of connection.
    names: Mutex<BTreeMap<String, usize>>,
}

impl Shared {
    fn now_us(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
}

fn main() {
    let visitors = env_number("BENCH_VISITORS", 9_900);
    let reps = env_number("BENCH_REPS", 100).max(1);
    let limit = rlimit::increase_nofile_limit(u64::MAX).expect("open-file limit");
    let build = if cfg!(debug_assertions) {
        "debug build"
    } else {
        "optimised build"
    };
    println!(
        "P2 open streams ({build}): {visitors} widget event streams + {reps} inbox streams \
         (open-file limit {limit})"
    );
    assert!(
        limit > (visitors + reps + 200) as u64,
        "the open-file limit ({limit}) is too low for {} connections",
        visitors + reps
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(visitors, reps));
}

async fn run(visitors: usize, reps: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = dir.path().join("bench.db").display().to_string();
    let seeding = Instant::now();
    let seeded = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let db = Db::open(&url, 4).expect("database");
            let seeded =
                seed::waiting_chats(&db, LIVE_CHAT, Some(CRM_COMPANY), "rep", visitors, None)
                    .expect("seed");
            let users: Vec<CrmUser> = (0..reps)
                .map(|i| CrmUser {
                    id: FIRST_REP + i as i64,
                    name: format!("Rep {i}"),
                    email: format!("rep{i}@bench.test"),
                    is_admin: i == 0,
                    active: true,
                    icon_url: None,
                })
                .collect();
            let mut conn = db.conn().expect("conn");
            crm_users::sync(
                &mut conn,
                &seeded.company_id,
                &users,
                concierge::db::now_ms(),
            )
            .expect("reps");
            seeded
        })
        .await
        .expect("seeding")
    };
    println!(
        "seeded {visitors} waiting chats and {reps} reps in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    let data = dir.path().join("node");
    std::fs::create_dir_all(&data).expect("data folder");
    let mut node = Node::spawn(
        &url,
        &data,
        &[
            ("CONCIERGE_ADDRESS_RATE_LIMIT", "0"),
            ("CONCIERGE_VISITOR_RATE_LIMIT", "0"),
            ("CONCIERGE_OUTBOX_CONCURRENCY", "0"),
        ],
    );
    node.wait_ready(Instant::now(), Duration::from_secs(120));
    let base = node.url.clone();

    // The reps sign in; the first goes online (it takes the chat later).
    let mut config = Config::for_tests(&url, &data);
    config.secret_key = SecretString::from(node::SECRET_KEY);
    let jwt = concierge::crm::oauth::sandbox_credentials(&config).jwt_secret;
    let client = reqwest::Client::new();
    let gate = Arc::new(Semaphore::new(8));
    let sign_ins: Vec<_> = (0..reps)
        .map(|i| {
            let (client, base, jwt, gate) = (
                client.clone(),
                base.clone(),
                jwt.expose_secret().to_owned(),
                gate.clone(),
            );
            tokio::spawn(async move {
                let _slot = gate.acquire().await;
                inbox::sign_in(&client, &base, &jwt, CRM_COMPANY, FIRST_REP + i as i64).await
            })
        })
        .collect();
    let mut sessions = Vec::with_capacity(reps);
    for s in sign_ins {
        sessions.push(s.await.expect("sign-in"));
    }
    inbox::go_online(&client, &base, &sessions[0]).await;

    let keys = TokenKeys::new(&SecretString::from(node::SECRET_KEY));
    let now = concierge::db::now_ms();
    let mut requests = Vec::with_capacity(visitors + reps);
    for v in &seeded.visitors {
        let token = keys.issue(v, now).expect("visitor token");
        requests.push(format!(
            "GET /api/widget/events?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
             Accept: text/event-stream\r\n\r\n",
            node.port
        ));
    }
    for s in &sessions {
        requests.push(format!(
            "GET /api/inbox/events HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nCookie: {}\r\n\
             Accept: text/event-stream\r\n\r\n",
            node.port, s.cookie
        ));
    }

    let total = requests.len();
    let shared = Arc::new(Shared {
        started: Instant::now(),
        last_read_us: AtomicU64::new(0),
        armed: AtomicBool::new(false),
        armed_at_us: AtomicU64::new(0),
        first_event_us: (0..total).map(|_| AtomicU64::new(0)).collect(),
        names: Mutex::new(BTreeMap::new()),
    });
    // Two rounds, each half of the widget streams and half of the inbox streams: the
    // server's memory after both, per connection, counts what it set up once (database
    // connections and their caches, threads) with the streams; the growth over the second
    // round alone is what one more connection costs.
    let mut rounds = [Vec::new(), Vec::new()];
    for (i, request) in requests.into_iter().enumerate() {
        let kind = if i < visitors { "widget" } else { "inbox" };
        let half = if i < visitors {
            i * 2 < visitors
        } else {
            (i - visitors) * 2 < reps
        };
        rounds[usize::from(!half)].push((i, kind, request));
    }
    let rss_before = node.rss_kib();
    let opening = Instant::now();
    let mut open_streams = 0;
    let mut rss_rounds = Vec::new();
    for round in rounds {
        open_streams += open_round(node.port, round, &shared).await;
        wait_quiet(&shared).await;
        rss_rounds.push((open_streams, node.rss_kib()));
    }
    let opened_in = opening.elapsed();
    let rss_after = node.rss_kib();
    let per = (rss_after.saturating_sub(rss_before)) as f64 * 1024.0 / open_streams.max(1) as f64;
    let (first, rss_first) = rss_rounds[0];
    let marginal = (rss_after.saturating_sub(rss_first)) as f64 * 1024.0
        / open_streams.saturating_sub(first).max(1) as f64;
    println!(
        "{open_streams} of {total} streams open in {:.1} s; server RSS {} → {} → {} MiB: \
         {:.1} KB per connection from the start, {:.1} KB per connection of the second {} \
         (what one more costs)",
        opened_in.as_secs_f64(),
        rss_before / 1024,
        rss_first / 1024,
        rss_after / 1024,
        per / 1000.0,
        marginal / 1000.0,
        open_streams - first,
    );

    // One change for everyone: the first rep takes the chat that waited longest.
    shared.armed_at_us.store(shared.now_us(), Ordering::Relaxed);
    shared.armed.store(true, Ordering::SeqCst);
    let took = Instant::now();
    let resp = client
        .post(format!(
            "{base}/api/inbox/conversations/{}/assign",
            seeded.conversations[0]
        ))
        .header("cookie", &sessions[0].cookie)
        .header("x-csrf-token", &sessions[0].csrf)
        .send()
        .await
        .expect("assign");
    let answered = took.elapsed();
    assert!(resp.status().is_success(), "assign: {}", resp.status());
    let deadline = Instant::now() + Duration::from_secs(60);
    let delivered = loop {
        let delivered = shared
            .first_event_us
            .iter()
            .filter(|t| t.load(Ordering::Relaxed) > 0)
            .count();
        if delivered >= open_streams || Instant::now() > deadline {
            break delivered;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let mut times: Vec<f64> = shared
        .first_event_us
        .iter()
        .map(|t| t.load(Ordering::Relaxed))
        .filter(|t| *t > 0)
        .map(|t| t as f64 / 1000.0)
        .collect();
    times.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        times
            .get(((times.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "one rep takes the longest-waiting chat (answered in {:.1} ms): an event reached \
         {delivered} of {open_streams} connections; p50 {:.0} ms, p99 {:.0} ms, all {:.0} ms",
        answered.as_secs_f64() * 1000.0,
        pick(0.5),
        pick(0.99),
        pick(1.0)
    );
    let names = shared.names.lock().expect("names").clone();
    let names: Vec<String> = names.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
    println!("first events: {}", names.join(", "));
    node.stop();
}

/// Opens the round's streams (`OPENING` at a time) and reads each in a task of its own;
/// returns how many opened.
async fn open_round(
    port: u16,
    round: Vec<(usize, &'static str, String)>,
    shared: &Arc<Shared>,
) -> usize {
    let gate = Arc::new(Semaphore::new(OPENING));
    let (opened_tx, mut opened_rx) = tokio::sync::mpsc::unbounded_channel();
    let count = round.len();
    for (i, kind, request) in round {
        let (shared, gate, opened) = (shared.clone(), gate.clone(), opened_tx.clone());
        tokio::spawn(async move {
            let slot = gate.acquire_owned().await.expect("gate");
            let stream = open(port, &request).await;
            drop(slot);
            match stream {
                Ok((stream, rest)) => {
                    let _ = opened.send(true);
                    read_events(stream, rest, i, kind, &shared).await;
                }
                Err(e) => {
                    eprintln!("{kind} stream {i}: {e}");
                    let _ = opened.send(false);
                }
            }
        });
    }
    drop(opened_tx);
    let mut opened = 0;
    for _ in 0..count {
        if opened_rx.recv().await == Some(true) {
            opened += 1;
        }
    }
    opened
}

/// Waits until nothing has arrived on any stream for `QUIET` (at most 2 minutes).
async fn wait_quiet(shared: &Shared) {
    let quiet_since = Instant::now();
    loop {
        let idle = shared.now_us() - shared.last_read_us.load(Ordering::Relaxed);
        if Duration::from_micros(idle) >= QUIET || quiet_since.elapsed() > Duration::from_secs(120)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Connect, send the request and read the answer's head; the stream and what was read
/// past the head.
async fn open(port: u16, request: &str) -> Result<(TcpStream, Vec<u8>), String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("send: {e}"))?;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    loop {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("closed before the head".into());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = find(&head, b"\r\n\r\n") {
            if !head.starts_with(b"HTTP/1.1 200") {
                let line = String::from_utf8_lossy(&head[..head.len().min(80)]).into_owned();
                return Err(format!("answered {line:?}"));
            }
            return Ok((stream, head.split_off(end + 4)));
        }
    }
}

/// Read the stream until it closes, noting the first event after the change.
async fn read_events(
    mut stream: TcpStream,
    mut pending: Vec<u8>,
    index: usize,
    kind: &str,
    shared: &Shared,
) {
    const MARK: &[u8] = b"event: ";
    let mut buf = vec![0u8; 4096];
    // The last bytes of the previous read, so a mark cut in two is still seen.
    let mut tail: Vec<u8> = Vec::new();
    loop {
        if pending.is_empty() {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
            }
        }
        shared
            .last_read_us
            .fetch_max(shared.now_us(), Ordering::Relaxed);
        let slot = &shared.first_event_us[index];
        if shared.armed.load(Ordering::SeqCst) && slot.load(Ordering::Relaxed) == 0 {
            let mut seen = std::mem::take(&mut tail);
            let carried = seen.len();
            seen.extend_from_slice(&pending);
            let mut from = 0;
            while let Some(at) = find(&seen[from..], MARK) {
                let start = from + at;
                from = start + 1;
                if start + MARK.len() <= carried {
                    continue; // seen before the change
                }
                let since = shared.armed_at_us.load(Ordering::Relaxed);
                slot.store(
                    shared.now_us().saturating_sub(since).max(1),
                    Ordering::Relaxed,
                );
                let name: Vec<u8> = seen[start + MARK.len()..]
                    .iter()
                    .take_while(|b| **b != b'\n')
                    .copied()
                    .collect();
                let name = format!("{kind} {}", String::from_utf8_lossy(&name));
                *shared.names.lock().expect("names").entry(name).or_default() += 1;
                break;
            }
        }
        let keep = pending.len().saturating_sub(MARK.len());
        tail = pending.split_off(keep);
        pending.clear();
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
