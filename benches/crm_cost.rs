//! P6: the CRM cost of one qualified lead (person + organization + lead + activity +
//! note), delivered by the outbox worker to the sandbox CRM. Prints the calls and the
//! Pipedrive tokens (the sandbox charges each call its `x-token-cost`) per lead, by
//! endpoint, and the 429s, if any, that our own bursts caused.
//!
//! `cargo bench --bench crm_cost` (set `CRM_COST_LEADS` to change the number of leads).
// Test and benchmark code: a failed unwrap is the report, and results go to stdout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use concierge::config::Config;
use concierge::crm::outbox::{Worker, WorkerConfig};
use concierge::db::outbox::store;
use concierge::db::{self, Db, companies, outbox};
use concierge::playbook::effect::{ActivityData, CrmWrite, OrgData, PersonData};
use concierge::playbook::model::{CaptureTarget, NoteMode, Owner};
use concierge::web::AppState;
use serde_json::Value;

#[path = "support/sandbox_install.rs"]
mod sandbox_install;
use sandbox_install::{browser, install};

fn config(dir: &std::path::Path) -> Config {
    let mut config = Config::for_tests(&dir.join("bench.db").to_string_lossy(), dir);
    config.outbox.concurrency = 0;
    config
}

fn lead(i: usize, round: &str) -> CrmWrite {
    CrmWrite {
        card: "capture".into(),
        create: CaptureTarget::Lead,
        title: format!("{round} lead {i}"),
        person: PersonData {
            name: Some(format!("Visitor {i}")),
            email: Some(format!("visitor{i}@example.com")),
            phone: Some("+49301234567".into()),
        },
        org: Some(OrgData {
            name: format!("Company {i}"),
            address: None,
        }),
        value: None,
        expected_close_date: None,
        owner: Owner::Playbook,
        label: None,
        activity: Some(ActivityData {
            subject: "Call back".into(),
            kind: "call".into(),
            due_date: NaiveDate::from_ymd_opt(2030, 1, 2).expect("date"),
        }),
        note: NoteMode::Transcript,
        answers: vec![("budget".into(), "10k".into())],
    }
}

async fn journal(base: &str) -> Vec<Value> {
    let v: Value = browser()
        .get(format!("{base}/sandbox/journal"))
        .send()
        .await
        .expect("journal")
        .json()
        .await
        .expect("journal json");
    v["exchanges"].as_array().cloned().unwrap_or_default()
}

async fn round(base: &str, state: &AppState, company_id: &str, n: usize, name: &str) {
    let sandbox = state.sandbox.as_ref().expect("sandbox");
    browser()
        .delete(format!("{base}/sandbox/journal"))
        .send()
        .await
        .expect("clear");
    let tokens_before = sandbox.snapshot().daily.used;
    let db: Db = state.db.clone();
    {
        let mut conn = db.conn().expect("conn");
        for i in 0..n {
            let payload = serde_json::to_value(lead(i, name)).expect("json");
            outbox::enqueue(
                &mut conn,
                company_id,
                None,
                outbox::Kind::Capture,
                &payload,
                db::now_ms(),
            )
            .expect("enqueue");
        }
    }
    let worker = Worker::new(
        db.clone(),
        state.crm.access.clone(),
        WorkerConfig {
            poll_interval: Duration::from_millis(10),
            ..WorkerConfig::default()
        },
    )
    .spawn();
    let start = Instant::now();
    loop {
        let pending: i64 = {
            let mut conn = db.conn().expect("conn");
            store::counts(&mut conn, company_id)
                .expect("counts")
                .into_iter()
                .filter(|(s, _)| s == "pending")
                .map(|(_, c)| c)
                .sum()
        };
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = start.elapsed();
    worker.stop().await;
    let tokens = sandbox.snapshot().daily.used - tokens_before;
    let calls = journal(base).await;
    let mut by_endpoint: BTreeMap<String, usize> = BTreeMap::new();
    let mut throttled = 0;
    for c in &calls {
        let path = c["path"].as_str().unwrap_or("");
        let key = format!("{} {}", c["method"].as_str().unwrap_or(""), path);
        *by_endpoint.entry(key).or_default() += 1;
        if c["status"] == 429 {
            throttled += 1;
        }
    }
    println!(
        "crm_cost/{name}: {n} leads in {:.1} s",
        elapsed.as_secs_f64()
    );
    println!(
        "  calls per lead:  {:.2}   Pipedrive tokens per lead: {:.1}",
        calls.len() as f64 / n as f64,
        tokens as f64 / n as f64
    );
    for (endpoint, count) in &by_endpoint {
        println!(
            "    {:<36} {:.2} per lead",
            endpoint,
            *count as f64 / n as f64
        );
    }
    println!("  429 answers caused by our own bursts: {throttled}");
}

fn main() {
    let n: usize = std::env::var("CRM_COST_LEADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = concierge::web::build(config(dir.path()))
            .await
            .expect("server");
        let (base, state, handle) = (server.url.clone(), server.state.clone(), server.handle());
        tokio::spawn(server.run());
        install(&base).await;
        let company_id = {
            let mut conn = state.db.conn().expect("conn");
            companies::by_crm_id(&mut conn, concierge::crm::sandbox::COMPANY_ID)
                .expect("query")
                .expect("installed")
                .id
        };
        // New visitors from new organizations: every object is created.
        round(&base, &state, &company_id, n, "new").await;
        // The same people again: person and organization are found, not created.
        round(&base, &state, &company_id, n, "returning").await;
        handle.stop(true).await;
    });
}
