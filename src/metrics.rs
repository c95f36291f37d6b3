//! Prometheus metrics. The code records through the `metrics` facade; when
//! `CONCIERGE_METRICS_BIND` is set, [`install`] puts `metrics-exporter-prometheus`'s
//! recorder behind it and `web::build` serves its text at `/metrics` on that address of its
//! own (never on the public one). Unset, nothing listens and recording is a no-op.
//!
//! Gauges that describe the database (the outbox backlog) and the hub (NOTIFY reconnects)
//! are read when scraped ([`Scrape`]); everything else is recorded where it happens.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Visitor turns, by `outcome` (`ok`, `error`).
pub const TURNS: &str = "concierge_turns_total";
/// How long a visitor turn took, commit included.
pub const TURN_SECONDS: &str = "concierge_turn_duration_seconds";
/// Event streams open on this node, by `kind` (`visitor`, `inbox`).
pub const EVENT_STREAMS: &str = "concierge_event_streams";
/// Outbox rows not yet delivered, by `kind` (`capture`, `email`).
pub const OUTBOX_BACKLOG: &str = "concierge_outbox_backlog";
/// Age of the oldest outbox row that is due and not delivered, by `kind` (0 when none).
pub const OUTBOX_OLDEST_DUE: &str = "concierge_outbox_oldest_due_seconds";
/// Timer lag: when a timer fired minus when it was due.
pub const TIMER_LAG: &str = "concierge_timer_lag_seconds";
/// CRM calls, by `outcome` (`ok`, `rate_limited`, `unauthorized`, `transient`,
/// `ambiguous`, `permanent`).
pub const CRM_CALLS: &str = "concierge_crm_calls_total";
/// Requests left in the CRM's current rate-limit window, as its last answer said, by
/// `bucket` (`general`, `search`).
pub const CRM_RATE_REMAINING: &str = "concierge_crm_rate_limit_remaining";
/// Time spent waiting for a database connection.
pub const DB_POOL_WAIT: &str = "concierge_db_pool_wait_seconds";
/// Times the real-time listener (PostgreSQL `LISTEN`) connected again after losing its
/// connection.
pub const NOTIFY_RECONNECTS: &str = "concierge_notify_reconnects_total";

/// Histogram buckets of the `_seconds` metrics: 1 ms to 5 minutes.
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// The process's recorder: one per process, whatever the number of servers in it.
static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);

/// Install the Prometheus recorder (once per process; later calls share it).
pub fn install() -> Result<PrometheusHandle, String> {
    let mut slot = HANDLE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(handle) = slot.as_ref() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())?;
    describe();
    *slot = Some(handle.clone());
    Ok(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(TURNS, "Visitor turns by outcome.");
    describe_histogram!(
        TURN_SECONDS,
        metrics::Unit::Seconds,
        "Visitor turn latency."
    );
    describe_gauge!(EVENT_STREAMS, "Event streams open on this node.");
    describe_gauge!(OUTBOX_BACKLOG, "Outbox rows not yet delivered.");
    describe_gauge!(
        OUTBOX_OLDEST_DUE,
        metrics::Unit::Seconds,
        "Age of the oldest due outbox row."
    );
    describe_histogram!(TIMER_LAG, metrics::Unit::Seconds, "Timer fired minus due.");
    describe_counter!(CRM_CALLS, "CRM calls by outcome.");
    describe_gauge!(
        CRM_RATE_REMAINING,
        "Requests left in the CRM's rate window."
    );
    describe_histogram!(
        DB_POOL_WAIT,
        metrics::Unit::Seconds,
        "Wait for a database connection."
    );
    describe_counter!(NOTIFY_RECONNECTS, "Real-time listener reconnections.");
}

/// A visitor turn ended after `took`.
pub fn turn(ok: bool, took: Duration) {
    let outcome = if ok { "ok" } else { "error" };
    counter!(TURNS, "outcome" => outcome).increment(1);
    histogram!(TURN_SECONDS).record(took.as_secs_f64());
}

/// A timer due at `due_ms` fired at `fired_ms` (Unix ms).
pub fn timer_fired(due_ms: i64, fired_ms: i64) {
    histogram!(TIMER_LAG).record((fired_ms - due_ms).max(0) as f64 / 1000.0);
}

/// A CRM call ended with `outcome` (`ok`, or the kind of failure).
pub fn crm_call(outcome: &'static str) {
    counter!(CRM_CALLS, "outcome" => outcome).increment(1);
}

/// The CRM said `remaining` requests are left in the window of `bucket`.
pub fn crm_rate_remaining(bucket: &'static str, remaining: u32) {
    gauge!(CRM_RATE_REMAINING, "bucket" => bucket).set(f64::from(remaining));
}

/// A database connection came after waiting since `since`.
pub fn pool_waited(since: Instant) {
    histogram!(DB_POOL_WAIT).record(since.elapsed().as_secs_f64());
}

/// One open event stream of `kind`; counted while it lives.
#[derive(Debug)]
pub struct OpenStream(&'static str);

impl OpenStream {
    pub fn new(kind: &'static str) -> OpenStream {
        gauge!(EVENT_STREAMS, "kind" => kind).increment(1.0);
        OpenStream(kind)
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        gauge!(EVENT_STREAMS, "kind" => self.0).decrement(1.0);
    }
}

/// What a scrape reads besides the recorded metrics.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scrape {
    /// Per outbox kind: rows not delivered, and the age in seconds of the oldest due one.
    pub outbox: Vec<(String, i64, f64)>,
    /// The hub's listener reconnections so far.
    pub notify_reconnects: u64,
}

/// The text of `/metrics`: the gauges read now, then everything recorded.
pub fn render(handle: &PrometheusHandle, scrape: &Scrape) -> String {
    for (kind, backlog, oldest) in &scrape.outbox {
        gauge!(OUTBOX_BACKLOG, "kind" => kind.clone()).set(*backlog as f64);
        gauge!(OUTBOX_OLDEST_DUE, "kind" => kind.clone()).set(*oldest);
    }
    counter!(NOTIFY_RECONNECTS).absolute(scrape.notify_reconnects);
    handle.render()
}
