//! Capture → CRM: how long a capture takes from the moment its outbox row is committed
//! until every object it asks for (organization, person, lead or deal, activity, note)
//! exists in the CRM, over 1,000 captures, with no faults and with 30 % of CRM calls
//! failing as TARGETS.md's R2 lists: 429 with and without `Retry-After`, 500, 502, 503,
//! an answer that never comes after the write was applied (the client gives up after the
//! CRM's 5 s of silence), a connection dropped after the write, 401 for one call, connections refused
//! for a few seconds on every server, and one capture in 50 refused for good (422). Prints
//! p50, p99 and the maximum of the delivered captures, and checks that nothing was lost
//! or duplicated and that every refused capture failed with the CRM's message.
//!
//! The sandbox CRM limits each OAuth token as Pipedrive does (search: 10 requests per
//! 2 s), so the captures are spread over several servers, each with its own sandbox,
//! company and token, running side by side with the production worker settings (poll
//! every second, woken at once when a capture commits, as a visitor's turn wakes it;
//! a failed step tried again within the attempt, then backoff from 2 s with full jitter).
//! Each company gets a new capture every `BENCH_GAP_MS` (default one a second), a steady
//! stream below its search budget: a new person at a new organization costs two searches,
//! and with 30 % of calls failing (the failed ones count against the budget too) about
//! four, against five a second per token. Faster than that, the CRM's search budget and
//! not the worker sets the latency: the queue of searches grows for as long as the run.
//!
//! ```sh
//! cargo bench --bench crm_latency                  # release build
//! cargo bench --bench crm_latency --profile dev    # unoptimised build
//! ```
//! Each case prints one line: p50, p99 and max, the target and whether it was met.
//! `BENCH_CAPTURES` (default 1000), `BENCH_COMPANIES` (default 10) and `BENCH_GAP_MS`
//! (default 1000) change the run. `BENCH_TRACE=FILE` writes the outbox worker's trace
//! there: each attempt (how late it was claimed, its wait for a lane, its length, the wait
//! it planned next) and each CRM call (its wait for the rate budget, its length, its
//! class), to see where a capture's time goes.
// Test and benchmark code: a failed unwrap is the report, and results go to stdout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use concierge::config::Config;
use concierge::db::outbox::store;
use concierge::db::{self, companies, outbox, schema};
use concierge::playbook::effect::{ActivityData, CrmWrite, OrgData, PersonData};
use concierge::playbook::model::{CaptureTarget, NoteMode, Owner};
use concierge::web::AppState;
use diesel::prelude::*;
use serde_json::json;

#[path = "support/sandbox_install.rs"]
mod sandbox_install;
use sandbox_install::{browser, install};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Is capture `i` of `run` one the CRM refuses for good (422)?
fn refused(run: &str, i: usize) -> bool {
    run == "faults" && i % 50 == 7
}

/// What the CRM answers a refused capture.
const REFUSAL: &str = "Validation failed: title: value is not allowed";

/// Capture `i` of a run: a new person at a new organization, a lead (every fifth a
/// deal), a call-back activity and the note.
fn capture(run: &str, i: usize) -> CrmWrite {
    CrmWrite {
        card: "capture".into(),
        create: if i % 5 == 4 {
            CaptureTarget::Deal
        } else {
            CaptureTarget::Lead
        },
        title: if refused(run, i) {
            format!("{run} REFUSED chat lead {i}")
        } else {
            format!("{run} chat lead {i}")
        },
        person: PersonData {
            name: Some(format!("Visitor {i}")),
            email: Some(format!("{run}-visitor{i}@example.com")),
            phone: Some(format!("+4930{i:06}")),
        },
        org: Some(OrgData {
            name: format!("{run} org {i}"),
            address: None,
        }),
        value: None,
        expected_close_date: None,
        owner: Owner::Playbook,
        label: None,
        activity: Some(ActivityData {
            subject: format!("Call back visitor {i}"),
            kind: "call".into(),
            due_date: NaiveDate::from_ymd_opt(2030, 1, 2).unwrap(),
        }),
        note: NoteMode::Transcript,
        answers: vec![("budget".into(), "10k".into())],
    }
}

/// One server with its sandbox CRM, installed.
struct Node {
    base: String,
    state: AppState,
    company_id: String,
    handle: actix_web::dev::ServerHandle,
    _dir: tempfile::TempDir,
}

async fn node() -> Node {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::for_tests(&dir.path().join("bench.db").to_string_lossy(), dir.path());
    let server = concierge::web::build(config).await.unwrap();
    let (base, state, handle) = (server.url.clone(), server.state.clone(), server.handle());
    tokio::spawn(server.run());
    install(&base).await;
    let company_id = {
        let mut conn = state.db.conn().unwrap();
        companies::by_crm_id(&mut conn, concierge::crm::sandbox::COMPANY_ID)
            .unwrap()
            .expect("installed")
            .id
    };
    Node {
        base,
        state,
        company_id,
        handle,
        _dir: dir,
    }
}

/// Point the node's install at a closed port for `for_how_long`: connections are refused.
async fn refuse_connections(node: &Node, for_how_long: Duration) {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let set = |domain: &str| {
        let mut conn = node.state.db.conn().unwrap();
        diesel::update(
            schema::installs::table.filter(schema::installs::company_id.eq(&node.company_id)),
        )
        .set(schema::installs::api_domain.eq(domain))
        .execute(&mut *conn)
        .unwrap();
    };
    let real: String = {
        let mut conn = node.state.db.conn().unwrap();
        schema::installs::table
            .filter(schema::installs::company_id.eq(&node.company_id))
            .select(schema::installs::api_domain)
            .first(&mut *conn)
            .unwrap()
    };
    set(&format!("http://127.0.0.1:{closed}/sandbox"));
    tokio::time::sleep(for_how_long).await;
    set(&real);
}

/// Feed `n` captures to one node, one every `gap`; wait until none is pending; answer
/// each delivered row's time from commit to done, in ms (refused rows must have failed
/// with the CRM's message).
async fn feed(node: &Node, run: &str, first: usize, n: usize, gap: Duration) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut tick = tokio::time::interval(gap);
    for i in first..first + n {
        tick.tick().await;
        let payload = serde_json::to_value(capture(run, i)).unwrap();
        let mut conn = node.state.db.conn().unwrap();
        let id = outbox::enqueue(
            &mut conn,
            &node.company_id,
            None,
            outbox::Kind::Capture,
            &payload,
            db::now_ms(),
        )
        .unwrap()
        .id;
        // As a visitor's turn does once its capture committed.
        node.state.crm.outbox_wake.notify_one();
        ids.push(id);
    }
    let start = Instant::now();
    loop {
        let pending: i64 = {
            let mut conn = node.state.db.conn().unwrap();
            store::counts(&mut conn, &node.company_id)
                .unwrap()
                .into_iter()
                .filter(|(s, _)| s == "pending")
                .map(|(_, c)| c)
                .sum()
        };
        if pending == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(900),
            "{run}: the outbox never drained"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut conn = node.state.db.conn().unwrap();
    let rows: Vec<(String, String, i64, i64)> = schema::outbox::table
        .filter(schema::outbox::company_id.eq(&node.company_id))
        .select((
            schema::outbox::id,
            schema::outbox::status,
            schema::outbox::created_at,
            schema::outbox::updated_at,
        ))
        .load(&mut *conn)
        .unwrap();
    let mine: HashSet<&String> = ids.iter().collect();
    let refused_ids: HashSet<&String> = ids
        .iter()
        .enumerate()
        .filter(|(k, _)| refused(run, first + k))
        .map(|(_, id)| id)
        .collect();
    let mut latencies = Vec::new();
    for (id, status, created, updated) in rows {
        if refused_ids.contains(&id) {
            assert_eq!(status, "failed", "{run}: refused row {id} ended {status}");
            let row = outbox::get(&mut conn, &node.company_id, &id)
                .unwrap()
                .unwrap();
            let error = row.last_error.unwrap_or_default();
            assert!(
                error.contains(REFUSAL),
                "{run}: row {id} failed with {error}"
            );
        } else if mine.contains(&id) {
            assert_eq!(status, "done", "{run}: row {id} ended {status}");
            latencies.push(updated - created);
        }
    }
    latencies
}

/// Every object of the run exactly once in each node's sandbox: (lost, duplicated).
fn check_exactly_once(nodes: &[Node], run: &str, per_node: usize) -> (usize, usize) {
    let mut counts = Vec::new();
    for (k, node) in nodes.iter().enumerate() {
        let s = node.state.sandbox.as_ref().unwrap().snapshot();
        let first = k * per_node;
        for i in first..first + per_node {
            let w = capture(run, i);
            let email = w.person.email.clone().unwrap();
            counts.push(
                s.persons
                    .iter()
                    .filter(|p| p.emails.iter().any(|e| e.value == email))
                    .count(),
            );
            let org = w.org.as_ref().unwrap().name.clone();
            counts.push(s.orgs.iter().filter(|o| o.name == org).count());
            let titles = s
                .leads
                .iter()
                .map(|l| l.title.as_str())
                .chain(s.deals.iter().map(|d| d.title.as_str()));
            let made = titles.filter(|t| *t == w.title).count();
            if refused(run, i) {
                // Refused for good: no lead or deal; one would be a duplicate.
                counts.push(1 + made);
            } else {
                counts.push(made);
            }
        }
        // One activity and one note per lead or deal, over every run so far.
        let records = s.leads.len() + s.deals.len();
        let expected: usize = RUNS[..=run_index(run)]
            .iter()
            .map(|r| {
                (0..per_node)
                    .filter(|i| !refused(r, k * per_node + i))
                    .count()
            })
            .sum();
        assert_eq!(records, expected, "{run}: leads and deals of node {k}");
        for made in [s.activities.len(), s.notes.len()] {
            counts.push(1 + made.saturating_sub(expected));
            counts.extend(std::iter::repeat_n(0, expected.saturating_sub(made)));
        }
    }
    let lost = counts.iter().filter(|c| **c == 0).count();
    let duplicated = counts.iter().map(|c| c.saturating_sub(1)).sum();
    (lost, duplicated)
}

/// The runs, in order.
const RUNS: [&str; 2] = ["clean", "faults"];

/// Runs share the nodes: the sandbox holds the objects of every run so far.
fn run_index(run: &str) -> usize {
    RUNS.iter().position(|r| *r == run).unwrap()
}

/// The machine's 1-minute load average (Linux), for the report.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

fn percentile(sorted: &[i64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn main() {
    let captures = env_number("BENCH_CAPTURES", 1000);
    let companies = env_number("BENCH_COMPANIES", 10).max(1);
    let gap = Duration::from_millis(env_number("BENCH_GAP_MS", 1000) as u64);
    let per_node = captures.div_ceil(companies);
    if let Ok(path) = std::env::var("BENCH_TRACE") {
        let file = std::fs::File::create(path).unwrap();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "warn,crm_latency=info,concierge::crm::outbox=debug,concierge::crm::pipedrive=debug",
            ))
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut nodes = Vec::new();
        for _ in 0..companies {
            nodes.push(node().await);
        }
        println!(
            "capture → every object in the CRM: {} captures over {companies} companies, one per company every {} ms ({} build, load average {})",
            per_node * companies,
            gap.as_millis(),
            if cfg!(debug_assertions) { "debug" } else { "release" },
            load_average(),
        );
        for (run, faults, target_s) in [(RUNS[0], None, 5.0), (RUNS[1], Some(0.3), 60.0)] {
            for (k, node) in nodes.iter().enumerate() {
                let body = match faults {
                    Some(rate) => json!({
                        "rate": rate,
                        "seed": 11 + k as u64,
                        "kinds": [
                            "rate_limit_retry_after", "rate_limit", "server_error",
                            "bad_gateway", "unavailable", "slow", "drop_after_apply",
                            "unauthorized"
                        ],
                        "retry_after_secs": 1,
                        "slow_ms": 20_000,
                        "reject": {"field": "title", "contains": "REFUSED", "status": 422},
                    }),
                    None => json!({}),
                };
                let resp = browser()
                    .post(format!("{}/sandbox/faults", node.base))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert!(resp.status().is_success(), "faults: {}", resp.status());
            }
            tracing::info!(run, "run started");
            let started = Instant::now();
            let feeds = nodes
                .iter()
                .enumerate()
                .map(|(k, node)| feed(node, run, k * per_node, per_node, gap));
            let refusals = nodes.iter().enumerate().map(|(k, node)| async move {
                if faults.is_some() {
                    // Each server's CRM refuses connections for 2 s, at different times.
                    tokio::time::sleep(gap * (per_node as u32 / 2) + gap * k as u32).await;
                    refuse_connections(node, Duration::from_secs(2)).await;
                }
            });
            let (latencies, _) = tokio::join!(
                futures_util::future::join_all(feeds),
                futures_util::future::join_all(refusals)
            );
            let mut latencies: Vec<i64> = latencies.into_iter().flatten().collect();
            latencies.sort_unstable();
            let (lost, duplicated) = check_exactly_once(&nodes, run, per_node);
            let label = match faults {
                Some(rate) => format!("{:.0} % CRM faults (R2)", rate * 100.0),
                None => "no faults".to_owned(),
            };
            let p99 = percentile(&latencies, 99.0);
            let met = p99 <= target_s && lost == 0 && duplicated == 0;
            println!(
                "  {label:<24} p50 {:>6.2} s   p99 {p99:>6.2} s   max {:>6.2} s   target p99 ≤ {target_s:.0} s, 0 lost, 0 duplicated: {}   ({} delivered, {} refused for good, in {:.0} s; lost {lost}, duplicated {duplicated}; load average after {})",
                percentile(&latencies, 50.0),
                percentile(&latencies, 100.0),
                if met { "MET" } else { "MISSED" },
                latencies.len(),
                (0..per_node * companies).filter(|i| refused(run, *i)).count(),
                started.elapsed().as_secs_f64(),
                load_average(),
            );
        }
        for node in nodes {
            node.handle.stop(true).await;
        }
    });
}
