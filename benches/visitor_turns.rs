//! P1: visitor turns per second and latency with 1,000 concurrent visitors, on SQLite and
//! (when `TEST_DATABASE_URL` is set) PostgreSQL, each measured in the same run as a bare
//! actix-web JSON echo route, with the ratio printed.
//!
//! The load comes from `wrk` (Debian: `apt-get install wrk`): a Lua script gives every
//! request the token of one of 1,000 visitors, each with a playbook waiting for an answer,
//! so each request is a full turn — POST → engine step → committed → reply.
//!
//! ```sh
//! cargo bench --bench visitor_turns
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench visitor_turns
//! ```
//! `BENCH_SECONDS` (default 10) and `BENCH_VISITORS` (default 1000) change the run.
// Test and benchmark code: a failed unwrap is the report, and results go to stdout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::path::Path;
use std::process::Command;

use actix_web::{App, HttpResponse, HttpServer, web};
use concierge::config::{Config, Rate};
use concierge::db::{companies, playbooks};
use concierge::playbook::check::check_document;
use concierge::playbook::load::Format;
use serde_json::{Value, json};

const PLAYBOOK: &str = r##"
slug: bench
name: Echo loop
trigger: { on: click, selector: "#bench" }
start: ask
cards:
  - id: ask
    type: question
    text: "Tell me something"
    input: text
    save: vars.answer
    next: echo
  - id: echo
    type: message
    text: "You said: {{ vars.answer }}"
    next: check
  - id: check
    type: condition
    rules:
      - { when: { var: vars.answer, op: eq, value: bye }, next: done }
    else: ask
  - id: done
    type: end
    text: "Bye!"
"##;

/// What wrk measured.
struct Load {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

fn main() {
    let seconds: u64 = env_number("BENCH_SECONDS", 10);
    let visitors: usize = env_number("BENCH_VISITORS", 1000) as usize;
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("visitor_turns: `wrk` is not installed (Debian: apt-get install wrk)");
        std::process::exit(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut databases = vec![("SQLite", None)];
    if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
        databases.push(("PostgreSQL", Some(url)));
    }
    println!(
        "P1 visitor turns: {visitors} visitors, {visitors} connections, {seconds} s per run, wrk"
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
        runtime.block_on(run(name, &url, dir.path(), visitors, seconds));
        if let Some((admin, db)) = cleanup {
            pg(
                &admin,
                &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            );
        }
    }
}

async fn run(name: &str, database_url: &str, dir: &Path, visitors: usize, seconds: u64) {
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
    let tokens = start_visitors(&base, &key, visitors).await;
    let script = dir.join("turns.lua");
    std::fs::write(&script, lua_script(&tokens)).expect("script");

    let (echo_url, echo) = echo_server();
    // Warm up both, then measure back to back.
    wrk(&format!("{base}/api/widget/messages"), &script, visitors, 2);
    let turns = wrk(
        &format!("{base}/api/widget/messages"),
        &script,
        visitors,
        seconds,
    );
    let echo_script = dir.join("echo.lua");
    std::fs::write(&echo_script, lua_script(&tokens)).expect("script");
    let bare = wrk(&format!("{echo_url}/echo"), &echo_script, visitors, seconds);
    // The same visitors on fewer connections: the latency of a turn when the server is
    // not saturated (with 1,000 connections kept busy, latency is connections / rate).
    let light = wrk(&format!("{base}/api/widget/messages"), &script, 50, seconds);
    echo.stop(false).await;
    handle.stop(false).await;

    println!(
        "{name:<10} turns {:>8.0}/s  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {} | echo {:>8.0}/s  \
         p50 {:>6.2} ms  p99 {:>6.2} ms | ratio {:.1} %",
        turns.requests_per_second,
        turns.p50_ms,
        turns.p99_ms,
        turns.errors,
        bare.requests_per_second,
        bare.p50_ms,
        bare.p99_ms,
        100.0 * turns.requests_per_second / bare.requests_per_second
    );
    println!(
        "{name:<10} turns on 50 connections {:>8.0}/s  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}",
        light.requests_per_second, light.p50_ms, light.p99_ms, light.errors
    );
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
        .args(["--timeout", "10s", "--latency", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let find = |label: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(label).map(|r| r.trim().to_owned()))
    };
    let errors = find("Non-2xx or 3xx responses:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
        + find("Socket errors:")
            .map(|v| {
                v.split(',')
                    .filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0);
    Load {
        requests_per_second: find("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("wrk output without Requests/sec:\n{text}")),
        p50_ms: find("50%").map(|v| duration_ms(&v)).unwrap_or(f64::NAN),
        p99_ms: find("99%").map(|v| duration_ms(&v)).unwrap_or(f64::NAN),
        errors,
    }
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
