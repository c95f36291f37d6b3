//! Capture → CRM: how long a capture takes from the moment its outbox row is committed
//! until every object it asks for (organization, person, lead or deal, activity, note)
//! exists in the CRM, over 1,000 captures, with no faults and with 30 % of CRM calls
//! failing transiently (500, 502, 503, and a connection dropped after the write was
//! applied). Prints p50, p99 and the maximum, and checks that nothing was lost or
//! duplicated.
//!
//! The sandbox CRM limits each OAuth token as Pipedrive does (search: 10 requests per
//! 2 s), so the captures are spread over several servers, each with its own sandbox,
//! company and token, running side by side with the production worker settings (poll
//! every second, backoff from 2 s with full jitter). Each company gets a new capture every
//! `BENCH_GAP_MS`, a steady stream below its search budget.
//!
//! ```sh
//! cargo bench --bench crm_latency
//! ```
//! `BENCH_CAPTURES` (default 1000), `BENCH_COMPANIES` (default 10) and `BENCH_GAP_MS`
//! (default 600) change the run.
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
        title: format!("{run} chat lead {i}"),
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

/// Feed `n` captures to one node, one every `gap`; wait until none is pending; answer
/// each row's time from commit to done, in ms.
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
    let ids: HashSet<String> = ids.into_iter().collect();
    rows.into_iter()
        .filter(|(id, ..)| ids.contains(id))
        .map(|(id, status, created, updated)| {
            assert_eq!(status, "done", "{run}: row {id} ended {status}");
            updated - created
        })
        .collect()
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
            counts.push(titles.filter(|t| *t == w.title).count());
        }
        // One activity and one note per lead or deal, over every run so far.
        let records = s.leads.len() + s.deals.len();
        let expected = per_node * (run_index(run) + 1);
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

/// Runs share the nodes: the sandbox holds the objects of every run so far.
fn run_index(run: &str) -> usize {
    usize::from(run == "faults")
}

fn percentile(sorted: &[i64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn main() {
    let captures = env_number("BENCH_CAPTURES", 1000);
    let companies = env_number("BENCH_COMPANIES", 10).max(1);
    let gap = Duration::from_millis(env_number("BENCH_GAP_MS", 600) as u64);
    let per_node = captures.div_ceil(companies);
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
            "capture → every object in the CRM: {} captures over {companies} companies, one per company every {} ms",
            per_node * companies,
            gap.as_millis()
        );
        for (run, faults) in [("clean", None), ("faults", Some(0.3))] {
            for (k, node) in nodes.iter().enumerate() {
                let body = match faults {
                    Some(rate) => json!({
                        "rate": rate,
                        "seed": 11 + k as u64,
                        "kinds": ["server_error", "bad_gateway", "unavailable", "drop_after_apply"],
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
            let started = Instant::now();
            let feeds = nodes
                .iter()
                .enumerate()
                .map(|(k, node)| feed(node, run, k * per_node, per_node, gap));
            let mut latencies: Vec<i64> = futures_util::future::join_all(feeds)
                .await
                .into_iter()
                .flatten()
                .collect();
            latencies.sort_unstable();
            let (lost, duplicated) = check_exactly_once(&nodes, run, per_node);
            let label = match faults {
                Some(rate) => format!("{:.0} % transient CRM faults", rate * 100.0),
                None => "no faults".to_owned(),
            };
            println!(
                "  {label:<28} p50 {:>6.2} s   p99 {:>6.2} s   max {:>6.2} s   ({} captures in {:.0} s; lost {lost}, duplicated {duplicated})",
                percentile(&latencies, 50.0),
                percentile(&latencies, 99.0),
                percentile(&latencies, 100.0),
                latencies.len(),
                started.elapsed().as_secs_f64(),
            );
        }
        for node in nodes {
            node.handle.stop(true).await;
        }
    });
}
