//! P1: visitor turns on SQLite and (when `TEST_DATABASE_URL` is set) PostgreSQL, each
//! database in a run of its own beside a bare actix-web JSON echo route measured in the
//! same run. Every request is a full turn of one of 1,000 visitors whose playbook waits for
//! an answer: POST → engine step → committed → reply.
//!
//! - **P1a, throughput**: 1,000 connections in a closed loop (each sends its next request
//!   when the previous one is answered), turns/s against the echo route's requests/s.
//!   The load comes from `wrk` (Debian: `apt-get install wrk`), whose Lua script gives
//!   every request the token of one of the visitors: a closed loop is what wrk does, in C,
//!   so the generator costs the echo route little of the machine.
//! - **P1b, latency under a realistic load**: an open loop — 1,000 visitors, each sending a
//!   message at random moments (a Poisson process, one every 2 s on average: about 500
//!   turns/s offered) for `BENCH_OPEN_SECONDS` (default 30); p50, p99 and p99.9 of the
//!   response time. Then the same at half of P1a's throughput. The generator is this
//!   file's own (`open_loop`): the arrival times are drawn before the run, a dispatcher on
//!   a runtime of its own starts each request at its time without waiting for earlier
//!   answers, and a response time counts from the moment the request was due, not the
//!   moment it left. A server that stalls therefore shows its stall in every request that
//!   was due meanwhile (no coordinated omission, which a closed loop such as wrk's or a
//!   rate limiter that waits for a free connection would have). `wrk2` is not packaged by
//!   Debian and `oha -q` cannot give each request a token of its own visitor.
//!
//! ```sh
//! cargo bench --bench visitor_turns
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench visitor_turns
//! ```
//! `BENCH_SECONDS` (default 10: each closed-loop run), `BENCH_OPEN_SECONDS` (default 30),
//! `BENCH_RATE` (default 500 turns/s; several rates separated by commas, each an open-loop
//! run) and `BENCH_VISITORS` (default 1000) change the run; `BENCH_PHASE` (`p1a` or `p1b`)
//! runs one phase only (`p1b` alone runs at the rates of `BENCH_RATE` only, as there is no
//! P1a throughput to halve) and `BENCH_DATABASE` (`sqlite` or `postgres`) one database
//! only.
//!
//! Every run prints the statements the node sent to its database per turn (all of them,
//! transaction control included, ÷ turns) and its failures by kind — an HTTP status, a
//! client timeout, a refused or dropped connection — with the first example of each (the
//! open loop) or wrk's own counts (the closed loop).
// Test and benchmark code: a failed unwrap is the report, and results go to stdout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use actix_web::{App, HttpResponse, HttpServer, web};
use concierge::config::{Config, Rate};
use concierge::db::{companies, playbooks};
use concierge::playbook::check::check_document;
use concierge::playbook::load::Format;
use serde_json::{Value, json};

const PLAYBOOK: &str = include_str!("support/echo_loop.yaml");

/// What wrk measured.
struct Load {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    /// wrk's failures by kind (`non-2xx`, `connect`, `read`, `write`, `timeout`), the
    /// kinds that happened.
    failures: Vec<(String, u64)>,
}

/// What an open-loop run measured.
struct Open {
    offered_per_second: f64,
    answered_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    max_ms: f64,
    errors: usize,
    /// The failed requests by kind: how many, and the first of them (seconds after the
    /// start, what it got).
    failures: BTreeMap<String, Failures>,
    /// The latest the dispatcher started a request after its due time.
    late_start_ms: f64,
}

/// The failed requests of one kind.
struct Failures {
    count: usize,
    first_at_s: f64,
    first: String,
}

/// What a request got: its response time (from its due time), or what went wrong — a
/// kind (`status 500`, `timeout`, `connect`, `request`, `body`) and the details.
type Answered = Result<std::time::Duration, (String, String)>;

/// How a run is sized.
#[derive(Clone)]
struct Sizes {
    visitors: usize,
    seconds: u64,
    open_seconds: u64,
    /// The open loop's offered rates (turns/s).
    rates: Vec<f64>,
    /// Run P1a (closed loop).
    p1a: bool,
    /// Run P1b (open loop).
    p1b: bool,
}

fn main() {
    let phase = std::env::var("BENCH_PHASE").ok();
    let phase = phase.as_deref().map(str::to_ascii_lowercase);
    let phase = phase.as_deref();
    assert!(
        matches!(phase, None | Some("p1a" | "p1b")),
        "BENCH_PHASE: p1a or p1b"
    );
    let only = std::env::var("BENCH_DATABASE")
        .ok()
        .map(|d| d.to_ascii_lowercase());
    assert!(
        matches!(only.as_deref(), None | Some("sqlite" | "postgres")),
        "BENCH_DATABASE: sqlite or postgres"
    );
    let sizes = Sizes {
        visitors: env_number("BENCH_VISITORS", 1000) as usize,
        seconds: env_number("BENCH_SECONDS", 10),
        open_seconds: env_number("BENCH_OPEN_SECONDS", 30),
        rates: std::env::var("BENCH_RATE")
            .unwrap_or_else(|_| "500".into())
            .split(',')
            .map(|r| {
                r.trim()
                    .parse()
                    .expect("BENCH_RATE: turns/s, separated by commas")
            })
            .collect(),
        p1a: phase != Some("p1b"),
        p1b: phase != Some("p1a"),
    };
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("visitor_turns: `wrk` is not installed (Debian: apt-get install wrk)");
        std::process::exit(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut databases = Vec::new();
    if only.as_deref() != Some("postgres") {
        databases.push(("SQLite", None));
    }
    if only.as_deref() != Some("sqlite") {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(url) => databases.push(("PostgreSQL", Some(url))),
            Err(_) if only.is_some() => panic!("BENCH_DATABASE=postgres needs TEST_DATABASE_URL"),
            Err(_) => {}
        }
    }
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!(
        "P1 visitor turns ({build} build): {} visitors; P1a {} connections closed loop (wrk), \
         {} s per run; P1b open loop (own generator), {} s per run",
        sizes.visitors, sizes.visitors, sizes.seconds, sizes.open_seconds
    );
    for (name, admin) in databases {
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
        runtime.block_on(run(name, &url, dir.path(), &sizes));
        if let Some((admin, db)) = cleanup {
            pg(
                &admin,
                &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            );
        }
    }
}

async fn run(name: &str, database_url: &str, dir: &Path, sizes: &Sizes) {
    let server = concierge::web::build(config(database_url, dir))
        .await
        .expect("server starts");
    let base = server.url.clone();
    let state = server.state.clone();
    let handle = server.handle();
    tokio::spawn(server.run());
    let key = state
        .db
        .run(|conn| {
            let company = companies::create(conn, "Bench", None)?;
            let doc = check_document(PLAYBOOK, Format::Yaml).expect("valid playbook");
            playbooks::save_and_publish(conn, &company.id, &doc)?;
            Ok::<_, concierge::db::DbError>(company.public_key)
        })
        .await
        .expect("company");
    let before = state.db.statements();
    let tokens = start_visitors(&base, &key, sizes.visitors).await;
    println!(
        "{name:<10} start: {:.1} statements per visitor (a session and the first turn)",
        (state.db.statements() - before) as f64 / sizes.visitors.max(1) as f64
    );
    let script = dir.join("turns.lua");
    std::fs::write(&script, lua_script(&tokens)).expect("script");
    let turns_url = format!("{base}/api/widget/messages");

    let mut rates = sizes.rates.clone();
    if sizes.p1a {
        let turns = closed_loop(name, &state, &turns_url, &tokens, &script, sizes).await;
        rates.push(turns / 2.0);
    }
    if sizes.p1b {
        open_loops(name, &state, &turns_url, tokens, &rates, sizes).await;
    }
    handle.stop(false).await;
}

/// What the node did meanwhile: turns, batches and statements.
#[derive(Clone, Copy)]
struct Counts {
    turns: u64,
    batches: u64,
    statements: u64,
}

impl Counts {
    fn now(state: &concierge::web::AppState) -> Counts {
        let group = state.chat.group.stats();
        Counts {
            turns: group.turns,
            batches: group.batches,
            statements: state.db.statements(),
        }
    }

    /// `turns per commit | statements per turn` since `before`.
    fn since(self, before: Counts) -> String {
        let turns = self.turns - before.turns;
        format!(
            "{:.1} turns per commit, {:.1} statements per turn",
            turns as f64 / (self.batches - before.batches).max(1) as f64,
            (self.statements - before.statements) as f64 / turns.max(1) as f64
        )
    }
}

/// P1a: warm up, then the turns and the echo route back to back; the turns/s.
async fn closed_loop(
    name: &str,
    state: &concierge::web::AppState,
    turns_url: &str,
    tokens: &[String],
    script: &Path,
    sizes: &Sizes,
) -> f64 {
    let (echo_url, echo) = echo_server();
    wrk(turns_url, script, sizes.visitors, 2);
    // The server goes on with the turns wrk left unanswered when it stopped: wait for
    // them before each measurement.
    settle(state, turns_url, &tokens[0]).await;
    let before = Counts::now(state);
    let turns = wrk(turns_url, script, sizes.visitors, sizes.seconds);
    let after = Counts::now(state);
    settle(state, turns_url, &tokens[0]).await;
    let bare = wrk(
        &format!("{echo_url}/echo"),
        script,
        sizes.visitors,
        sizes.seconds,
    );
    echo.stop(false).await;
    println!(
        "{name:<10} P1a turns {:>8.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {} | echo {:>8.0}/s  \
         p50 {:>6.2} ms  p99 {:>6.2} ms | ratio {:.1} % | {} | load average {}",
        turns.requests_per_second,
        turns.p50_ms,
        turns.p99_ms,
        turns.errors,
        bare.requests_per_second,
        bare.p50_ms,
        bare.p99_ms,
        100.0 * turns.requests_per_second / bare.requests_per_second,
        after.since(before),
        load_average(),
    );
    for (what, load) in [("turns", &turns), ("echo", &bare)] {
        for (kind, n) in &load.failures {
            println!("{name:<10}     {what} failed: {kind} × {n}");
        }
    }
    turns.requests_per_second
}

/// P1b: the open loop at each rate.
async fn open_loops(
    name: &str,
    state: &concierge::web::AppState,
    turns_url: &str,
    tokens: Vec<String>,
    rates: &[f64],
    sizes: &Sizes,
) {
    // The realistic rate, then half of P1a's throughput.
    let tokens = std::sync::Arc::new(tokens);
    for &rate in rates {
        if rate < 1.0 {
            continue;
        }
        settle(state, turns_url, &tokens[0]).await;
        let before = Counts::now(state);
        let (done, result) = tokio::sync::oneshot::channel();
        let (url, tokens, seconds) = (turns_url.to_owned(), tokens.clone(), sizes.open_seconds);
        std::thread::spawn(move || {
            let _ = done.send(open_loop(&url, tokens, rate, seconds));
        });
        let open = result.await.expect("the generator finishes");
        let after = Counts::now(state);
        println!(
            "{name:<10} P1b offered {:>6.0}/s answered {:>6.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  \
             p99.9 {:>7.2} ms  max {:>7.2} ms  errors {}  latest start {:.2} ms | {} | load average {}",
            open.offered_per_second,
            open.answered_per_second,
            open.p50_ms,
            open.p99_ms,
            open.p999_ms,
            open.max_ms,
            open.errors,
            open.late_start_ms,
            after.since(before),
            load_average(),
        );
        for (kind, f) in &open.failures {
            println!(
                "{name:<10}     failed: {kind} × {}, the first {:.1} s into the run: {}",
                f.count, f.first_at_s, f.first
            );
        }
    }
}

/// Wait until the node is idle: no turn queued and none started for a second (requests a
/// client gave up on may still be in the node's sockets and queue, and their turns run
/// all the same), then until a turn sent now is answered.
async fn settle(state: &concierge::web::AppState, url: &str, token: &str) {
    loop {
        let before = state.chat.group.stats();
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let after = state.chat.group.stats();
        if after.turns == before.turns && after.waiting == 0 {
            break;
        }
    }
    drain(url, token).await;
}

/// The 1, 5 and 15 minute load averages of the machine (Linux).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// Wait until a turn sent now is answered: the turns queued before it are done.
async fn drain(url: &str, token: &str) {
    let answered = reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .json(&json!({ "text": "are you there?" }))
        .timeout(std::time::Duration::from_secs(600))
        .send()
        .await
        .expect("the server answers");
    assert!(answered.status().is_success(), "{}", answered.status());
}

/// The open loop: each visitor sends at random moments (exponential gaps of mean
/// `visitors / rate` seconds) for `seconds`. The schedule is drawn first; a dispatcher on
/// a runtime of its own (one thread, so the server's threads never delay it) sleeps until
/// each due time and starts the request without waiting for any answer. A response time
/// runs from the due time to the end of the answer.
fn open_loop(url: &str, tokens: std::sync::Arc<Vec<String>>, rate: f64, seconds: u64) -> Open {
    let visitors = tokens.len();
    let mean_gap = visitors as f64 / rate;
    let span = seconds as f64;
    let mut schedule: Vec<(f64, usize)> = Vec::new();
    for visitor in 0..visitors {
        let mut at = 0.0;
        loop {
            at += -(1.0 - rand::random::<f64>()).ln() * mean_gap;
            if at >= span {
                break;
            }
            schedule.push((at, visitor));
        }
    }
    schedule.sort_by(|a, b| a.0.total_cmp(&b.0));
    let offered = schedule.len();
    let generator = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("generator runtime");
    let url = url.to_owned();
    let (times, failures, late, took) = generator.block_on(async move {
        // The server closes a connection idle for 5 s (actix-web's keep-alive); a request
        // sent on one at that moment fails with "connection closed before message
        // completed" (a browser sends it again on a new connection). The pool drops idle
        // connections before the server does.
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(visitors)
            .pool_idle_timeout(std::time::Duration::from_secs(4))
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .expect("client");
        let start = tokio::time::Instant::now();
        let mut late = std::time::Duration::ZERO;
        let mut requests = Vec::with_capacity(offered);
        for (at, visitor) in schedule {
            let due = start + std::time::Duration::from_secs_f64(at);
            tokio::time::sleep_until(due).await;
            late = late.max(due.elapsed());
            let (client, url, tokens) = (client.clone(), url.clone(), tokens.clone());
            requests.push(tokio::spawn(async move {
                let sent = client
                    .post(&url)
                    .bearer_auth(&tokens[visitor])
                    .header("content-type", "application/json")
                    .body(r#"{"text":"hello there"}"#)
                    .send()
                    .await;
                let answered = match sent {
                    Ok(r) => {
                        let status = r.status();
                        match r.bytes().await {
                            Ok(_) if status.is_success() => Ok(due.elapsed()),
                            Ok(body) => Err((
                                format!("status {}", status.as_u16()),
                                String::from_utf8_lossy(&body).into_owned(),
                            )),
                            Err(e) => Err(("body".to_owned(), error_chain(&e))),
                        }
                    }
                    Err(e) => Err((request_failure(&e).to_owned(), error_chain(&e))),
                };
                (at, answered)
            }));
        }
        let mut times = Vec::with_capacity(offered);
        let mut failures: BTreeMap<String, Failures> = BTreeMap::new();
        for r in futures_util::future::join_all(requests).await {
            let (at, answered): (f64, Answered) = r.expect("a request task");
            match answered {
                Ok(took) => times.push(took.as_secs_f64() * 1000.0),
                Err((kind, first)) => {
                    let f = failures.entry(kind).or_insert(Failures {
                        count: 0,
                        first_at_s: at,
                        first: first.clone(),
                    });
                    f.count += 1;
                    if at < f.first_at_s {
                        (f.first_at_s, f.first) = (at, first);
                    }
                }
            }
        }
        (times, failures, late, start.elapsed())
    });
    let mut times = times;
    times.sort_by(f64::total_cmp);
    let at = |q: f64| {
        times
            .get(((times.len() as f64 * q).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(f64::NAN)
    };
    Open {
        offered_per_second: offered as f64 / span,
        answered_per_second: times.len() as f64 / took.as_secs_f64(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        p999_ms: at(0.999),
        max_ms: times.last().copied().unwrap_or(f64::NAN),
        errors: failures.values().map(|f| f.count).sum(),
        failures,
        late_start_ms: late.as_secs_f64() * 1000.0,
    }
}

fn config(database_url: &str, dir: &Path) -> Config {
    let mut config = Config::for_tests(database_url, dir);
    config.playbooks_dir = dir.join("none");
    config.db_pool_size = 8;
    config.log = "error".into();
    // One address sends everything: only the per-visitor limit stays on.
    config.rate_limits.per_address = Rate::UNLIMITED;
    config
}

/// Start `n` visitors, each with the echo loop waiting for an answer; their tokens.
async fn start_visitors(base: &str, key: &str, n: usize) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut tokens = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        let batch = chunk.iter().map(|_| {
            let client = client.clone();
            async move {
                let session: Value = client
                    .post(format!("{base}/api/widget/session"))
                    .json(&json!({ "key": key, "page": { "url": "https://bench.test/" } }))
                    .send()
                    .await
                    .expect("session")
                    .json()
                    .await
                    .expect("session body");
                let token = session["token"].as_str().expect("token").to_owned();
                let started = client
                    .post(format!("{base}/api/widget/trigger"))
                    .bearer_auth(&token)
                    .json(&json!({ "slug": "bench", "reason": "click" }))
                    .send()
                    .await
                    .expect("trigger");
                assert!(started.status().is_success());
                token
            }
        });
        tokens.extend(futures_util::future::join_all(batch).await);
    }
    tokens
}

/// Each wrk thread takes its own share of the visitors and goes round them.
fn lua_script(tokens: &[String]) -> String {
    let list = tokens
        .iter()
        .map(|t| format!("\"{t}\""))
        .collect::<Vec<_>>()
        .join(",\n");
    format!(
        r#"local tokens = {{
{list}
}}
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
function init(args)
  step = 2
  i = id
end
request = function()
  i = (i + step) % #tokens
  local headers = {{}}
  headers["Authorization"] = "Bearer " .. tokens[i + 1]
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", nil, headers, '{{"text":"hello there"}}')
end
"#
    )
}

/// Run wrk: 2 threads, `connections` connections, `seconds` long.
fn wrk(url: &str, script: &Path, connections: usize, seconds: u64) -> Load {
    let out = Command::new("wrk")
        .args(["-t2", &format!("-c{connections}"), &format!("-d{seconds}s")])
        // Long enough for a slow (debug) build: with 1,000 connections a turn waits
        // 1,000 ÷ throughput.
        .args(["--timeout", "60s", "--latency", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let find = |label: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(label).map(|r| r.trim().to_owned()))
    };
    // `Non-2xx or 3xx responses: N` and `Socket errors: connect N, read N, write N,
    // timeout N`, when there were any.
    let mut failures: Vec<(String, u64)> = Vec::new();
    if let Some(n) = find("Non-2xx or 3xx responses:").and_then(|v| v.parse().ok()) {
        failures.push(("non-2xx".into(), n));
    }
    if let Some(socket) = find("Socket errors:") {
        for part in socket.split(',') {
            let mut words = part.split_whitespace();
            if let (Some(kind), Some(n)) = (words.next(), words.next()) {
                failures.push((kind.to_owned(), n.parse().unwrap_or(0)));
            }
        }
    }
    failures.retain(|(_, n)| *n > 0);
    let errors = failures.iter().map(|(_, n)| n).sum();
    Load {
        requests_per_second: find("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("wrk output without Requests/sec:\n{text}")),
        p50_ms: find("50%").map(|v| duration_ms(&v)).unwrap_or(f64::NAN),
        p99_ms: find("99%").map(|v| duration_ms(&v)).unwrap_or(f64::NAN),
        errors,
        failures,
    }
}

/// The kind of a request that got no response.
fn request_failure(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "request"
    }
}

/// An error with its causes, as one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// `812.00us`, `1.23ms`, `2.01s` → milliseconds.
fn duration_ms(text: &str) -> f64 {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => f64::NAN,
    }
}

/// The bare comparison: an actix-web route that parses a JSON body and returns it.
fn echo_server() -> (String, actix_web::dev::ServerHandle) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let server = HttpServer::new(|| {
        App::new().route(
            "/echo",
            web::post().to(|body: web::Json<Value>| async move {
                HttpResponse::Ok().json(body.into_inner())
            }),
        )
    })
    .backlog(4096)
    .listen(listener)
    .expect("listen")
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    (url, handle)
}

fn pg(admin: &str, sql: &str) {
    use diesel::{Connection, RunQueryDsl, pg::PgConnection};
    let mut conn = PgConnection::establish(admin).expect("PostgreSQL");
    diesel::sql_query(sql).execute(&mut conn).expect(sql);
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
