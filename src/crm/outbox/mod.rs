//! The outbox worker: delivers capture rows to the CRM.
//!
//! Capture cards write outbox rows in the same transaction as the conversation change
//! (see `db::outbox`). This worker claims due rows (see `db::outbox::store`), delivers each one step
//! by step (see [`deliver`]), and records the outcome: done; retried later with backoff
//! (see [`backoff`]) after timeouts, 5xx, 401 and ambiguous failures; postponed to the
//! reset after a 429; failed with the CRM's own message after any other 4xx, for the sync
//! log's retry button. A 401 refreshes the OAuth token once and retries at once.
//!
//! Several workers, in one process or on several nodes sharing PostgreSQL, never deliver
//! the same row at the same time: claims skip locked and leased rows, and every write
//! names the lease it holds.
//!
//! A running worker keeps up to `concurrency` rows in flight and claims again as soon as
//! one finishes (no batch waits for its slowest row). A company's rows go through up to
//! `per_company` lanes side by side; what must not race — looking a person or an
//! organization up and creating it — is serialised by that person's e-mail and that
//! organization's name (see [`identity_locks`]).

mod attempt;
pub mod backoff;
pub mod deliver;
pub mod identity_locks;
mod lease;
pub mod note;
pub mod progress;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::{Notify, Semaphore, watch};
use tracing::Instrument as _;

use crate::crm::access::{AccessError, CrmAccess};
use crate::crm::pipedrive::PipedriveClient;
use crate::crm::{Crm, RateScope};
use crate::db::outbox::OutboxRow;
use crate::db::{self, Db, DbConn, DbError};

use crate::db::outbox::store::{self, Outcome};
use backoff::{Backoff, StepRetry};
use identity_locks::IdentityLocks;
use lease::LeaseRecorder;
use progress::{Progress, Step};

/// What a started row answers: its id; its lease, when the worker stopped before it
/// started; when it is due again, if it is to be tried again.
type Started = (String, Option<(String, i64)>, Option<i64>);

/// Retry times a worker keeps to wake up for; beyond that many, the poll finds the rows.
const MAX_DUE_TIMES: usize = 4096;

/// How the worker paces itself.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Sleep between polls when nothing is due.
    pub poll_interval: Duration,
    /// Rows delivered at the same time by this worker.
    pub concurrency: usize,
    /// Rows of one company delivered at the same time (its lanes). Two captures naming the
    /// same person or organization still never race between look-up and create: that
    /// part holds the locks of the e-mail and the name, on every node. The CRM client
    /// shares the token's rate budget between the lanes, so bursts stay within the
    /// rate-limit headers.
    pub per_company: usize,
    /// How long a claimed row stays reserved; renewed at every recorded step.
    pub lease: Duration,
    /// Tries of a failed step within one attempt.
    pub step_retry: StepRetry,
    /// The wait before the next attempt after an attempt failed.
    pub backoff: Backoff,
    /// Wait before trying again a company whose CRM is not connected or whose grant was
    /// revoked.
    pub disconnected_delay: Duration,
}

impl Default for WorkerConfig {
    fn default() -> WorkerConfig {
        WorkerConfig {
            poll_interval: Duration::from_secs(1),
            concurrency: 16,
            per_company: 8,
            lease: Duration::from_secs(5 * 60),
            step_retry: StepRetry::default(),
            backoff: Backoff::default(),
            disconnected_delay: Duration::from_secs(10 * 60),
        }
    }
}

/// Book-keeping of the worker loop when a started row's delivery ended: it is no longer in
/// flight, its lease is released if it never started, and its retry time is kept.
fn finished(
    (id, done, retry_at): Started,
    in_flight: &mut HashSet<String>,
    unstarted: &mut Vec<(String, i64)>,
    due_at: &mut BinaryHeap<Reverse<i64>>,
) {
    in_flight.remove(&id);
    unstarted.extend(done);
    if let Some(at) = retry_at
        && due_at.len() < MAX_DUE_TIMES
    {
        due_at.push(Reverse(at));
    }
}

/// Gives the worker a CRM client per company.
pub trait Connector: Send + Sync + 'static {
    type Client: Crm + Send + Sync + 'static;

    /// A client with current tokens, and the tokens' version.
    fn connect(
        &self,
        company_id: &str,
    ) -> impl Future<Output = Result<(Self::Client, i64), AccessError>> + Send;

    /// After a 401 with tokens of `version`: a client with refreshed tokens.
    fn reconnect(
        &self,
        company_id: &str,
        version: i64,
    ) -> impl Future<Output = Result<(Self::Client, i64), AccessError>> + Send;

    /// How long the company's rate budget is spent for, if it is.
    fn wait_hint(&self, company_id: &str) -> Option<(Duration, RateScope)>;
}

/// Told about every row whose attempt ended (the inbox shows CRM records live), inside
/// the transaction that records the end, so what it announces commits with it; it
/// returns what to do once that transaction committed.
pub type FinishHook =
    Arc<dyn Fn(&mut DbConn, &OutboxRow) -> Result<AfterCommit, DbError> + Send + Sync>;

/// Work left for after a commit.
pub type AfterCommit = Box<dyn FnOnce() + Send>;

/// Called after each create with the row id and the step; `false` abandons the row right
/// there, as if the process had died. For crash tests.
pub type CrashHook = Arc<dyn Fn(&str, Step) -> bool + Send + Sync>;

/// The token source connects the worker to each company's CRM.
impl Connector for CrmAccess {
    type Client = PipedriveClient;

    async fn connect(&self, company_id: &str) -> Result<(PipedriveClient, i64), AccessError> {
        let c = CrmAccess::connect(self, company_id).await?;
        Ok((c.client, c.version))
    }

    async fn reconnect(
        &self,
        company_id: &str,
        version: i64,
    ) -> Result<(PipedriveClient, i64), AccessError> {
        let c = CrmAccess::reconnect(self, company_id, version).await?;
        Ok((c.client, c.version))
    }

    fn wait_hint(&self, company_id: &str) -> Option<(Duration, RateScope)> {
        CrmAccess::wait_hint(self, company_id)
    }
}

/// See the module documentation.
pub struct Worker<C: Connector> {
    db: Db,
    connector: Arc<C>,
    config: WorkerConfig,
    crash_hook: Option<CrashHook>,
    company_slots: std::sync::Mutex<HashMap<String, Arc<Semaphore>>>,
    identity_locks: Arc<IdentityLocks>,
    wake: Arc<Notify>,
    on_finish: Option<FinishHook>,
    /// Set when stopping: claimed rows not started yet are given back.
    halt: Arc<AtomicBool>,
}

/// A running worker; dropping it does not stop it, [`WorkerHandle::stop`] does.
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    halt: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl WorkerHandle {
    /// Stop after the deliveries in progress and wait for that; claimed rows not started
    /// yet are released (their lease ends now), so another node takes them at once.
    pub async fn stop(self) {
        self.halt.store(true, Ordering::SeqCst);
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Stop at once, abandoning deliveries in progress (their leases expire).
    pub fn abort(self) {
        self.task.abort();
    }
}

impl<C: Connector> Worker<C> {
    pub fn new(db: Db, connector: Arc<C>, config: WorkerConfig) -> Worker<C> {
        Worker {
            identity_locks: IdentityLocks::new(db.pool_size()),
            db,
            connector,
            config,
            crash_hook: None,
            company_slots: std::sync::Mutex::new(HashMap::new()),
            wake: Arc::new(Notify::new()),
            on_finish: None,
            halt: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Call `hook` with each row whose attempt ended (done, failed or to be retried).
    pub fn with_on_finish(mut self, hook: FinishHook) -> Worker<C> {
        self.on_finish = Some(hook);
        self
    }

    /// Poll at once, instead of after the idle interval, whenever `wake` is notified (an
    /// install finished: rows that waited for the CRM are due).
    pub fn with_wake(mut self, wake: Arc<Notify>) -> Worker<C> {
        self.wake = wake;
        self
    }

    /// Install a crash hook (see [`CrashHook`]).
    pub fn with_crash_hook(mut self, hook: CrashHook) -> Worker<C> {
        self.crash_hook = Some(hook);
        self
    }

    /// Run on the current runtime until stopped: up to `concurrency` rows in flight, a
    /// new claim whenever one finishes, a poll every `poll_interval` (or on a wake, or the
    /// moment a row it scheduled for a retry comes due) while nothing is due.
    pub fn spawn(self) -> WorkerHandle {
        let (stop, mut stopped) = watch::channel(false);
        let halt = self.halt.clone();
        let worker = Arc::new(self);
        let task = tokio::spawn(async move {
            let slots = worker.config.concurrency.max(1);
            let mut running = FuturesUnordered::new();
            let mut in_flight = HashSet::new();
            let mut unstarted = Vec::new();
            // When this worker's own retries come due: it claims again right then rather
            // than at the next poll.
            let mut due_at: BinaryHeap<Reverse<i64>> = BinaryHeap::new();
            loop {
                if *stopped.borrow() {
                    break;
                }
                let now = db::now_ms();
                while due_at.peek().is_some_and(|Reverse(at)| *at <= now) {
                    due_at.pop();
                }
                let free = slots - running.len();
                let mut all_due = false;
                if free > 0 {
                    // The deliveries under way go on while the claim waits: each may hold
                    // the next database permit the claim is queued behind, so awaiting the
                    // claim alone would leave them, and it, waiting for ever.
                    let claim = worker.claim(free);
                    tokio::pin!(claim);
                    let claimed = loop {
                        tokio::select! {
                            claimed = &mut claim => break claimed,
                            Some(ended) = running.next(), if !running.is_empty() => {
                                finished(ended, &mut in_flight, &mut unstarted, &mut due_at);
                            }
                        }
                    };
                    match claimed {
                        Ok((rows, lease_until)) => {
                            // Every slot filled: more may be due as soon as one frees.
                            all_due = rows.len() == free;
                            for row in rows {
                                // A row claimed again while this worker still delivers it
                                // (a step outlasted its lease) is not delivered twice: the
                                // new lease stops the first delivery at its next record,
                                // and the row is taken again once that lease has passed.
                                if in_flight.insert(row.id.clone()) {
                                    running.push(worker.start(row, lease_until));
                                }
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "outbox worker cannot claim rows"),
                    }
                }
                let idle = match due_at.peek() {
                    Some(Reverse(at)) => worker
                        .config
                        .poll_interval
                        .min(Duration::from_millis(u64::try_from(at - now).unwrap_or(0))),
                    None => worker.config.poll_interval,
                };
                tokio::select! {
                    Some(ended) = running.next(), if !running.is_empty() => {
                        finished(ended, &mut in_flight, &mut unstarted, &mut due_at);
                    }
                    _ = tokio::time::sleep(idle), if !all_due => {}
                    _ = worker.wake.notified() => {}
                    _ = stopped.changed() => {}
                }
            }
            while let Some((_, done, _)) = running.next().await {
                unstarted.extend(done);
            }
            worker.release(unstarted).await;
        });
        WorkerHandle { stop, halt, task }
    }

    /// Claim one batch of due rows and deliver them all. Returns how many were claimed.
    pub async fn run_once(&self) -> Result<usize, DbError> {
        let (rows, lease_until) = self.claim(self.config.concurrency.max(1) * 2).await?;
        let claimed = rows.len();
        let gate = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let mut running: FuturesUnordered<_> = rows
            .into_iter()
            .map(|row| {
                let gate = gate.clone();
                async move {
                    let _slot = gate.acquire_owned().await;
                    self.start(row, lease_until).await
                }
            })
            .collect();
        let mut unstarted = Vec::new();
        while let Some((_, done, _)) = running.next().await {
            unstarted.extend(done);
        }
        self.release(unstarted).await;
        Ok(claimed)
    }

    /// Claim up to `limit` due rows; the rows and the lease they are held until.
    async fn claim(&self, limit: usize) -> Result<(Vec<OutboxRow>, i64), DbError> {
        let now = db::now_ms();
        let lease_until = now + self.lease_ms();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .db
            .run(move |conn| store::claim(conn, now, lease_until, limit))
            .await?;
        Ok((rows, lease_until))
    }

    /// Deliver a claimed row once one of its company's lanes is free. Answers the row's
    /// id, with its lease when the worker stopped before it started, and when it is due
    /// again if it is to be tried again.
    async fn start(&self, row: OutboxRow, lease_until: i64) -> Started {
        let claimed = std::time::Instant::now();
        let _lane = self.company_gate(&row.company_id).acquire_owned().await;
        let id = row.id.clone();
        if self.halt.load(Ordering::SeqCst) {
            return (id.clone(), Some((id, lease_until)), None);
        }
        let span = tracing::debug_span!("outbox", row = %id);
        tracing::debug!(
            parent: &span,
            due_ms = row.next_attempt_at,
            claimed_late_ms = lease_until - self.lease_ms() - row.next_attempt_at,
            lane_wait_ms = claimed.elapsed().as_millis() as u64,
            attempts = row.attempts,
            "attempt started"
        );
        let again = self.process(row, lease_until).instrument(span).await;
        (id, None, again)
    }

    /// End the lease of claimed rows that were never started, so another node takes them
    /// at once.
    async fn release(&self, unstarted: Vec<(String, i64)>) {
        let mut by_lease: HashMap<i64, Vec<String>> = HashMap::new();
        for (id, lease) in unstarted {
            by_lease.entry(lease).or_default().push(id);
        }
        for (lease, ids) in by_lease {
            let n = ids.len();
            let released = self
                .db
                .run(move |conn| store::release(conn, &ids, lease))
                .await;
            if let Err(e) = released {
                tracing::warn!(error = %e, rows = n, "cannot release claimed outbox rows");
            }
        }
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.config.lease.as_millis()).unwrap_or(i64::MAX / 4)
    }

    fn company_gate(&self, company_id: &str) -> Arc<Semaphore> {
        let mut slots = self.company_slots.lock().unwrap_or_else(|p| p.into_inner());
        slots
            .entry(company_id.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.config.per_company.max(1))))
            .clone()
    }

    /// Deliver one claimed row and record how it ended; when it is due again, if it is to
    /// be tried again.
    async fn process(&self, row: OutboxRow, lease: i64) -> Option<i64> {
        let mut rec = LeaseRecorder {
            db: self.db.clone(),
            row_id: row.id.clone(),
            company_id: row.company_id.clone(),
            identity_locks: self.identity_locks.clone(),
            held: lease,
            lease_ms: self.lease_ms(),
            crash_hook: self.crash_hook.clone(),
        };
        let mut progress = Progress::parse(row.result.as_deref());
        let started = db::now_ms();
        let outcome = self.attempt(&row, &mut progress, &mut rec).await;
        let Some(outcome) = outcome else {
            return None; // lease lost or abandoned: whoever holds the row now decides
        };
        let ended = db::now_ms();
        let (kind, at) = match &outcome {
            Outcome::Done => ("done", ended),
            Outcome::Failed { .. } => ("failed", ended),
            Outcome::Retry { at, .. } => ("retry", *at),
            Outcome::Postpone { at, .. } => ("postpone", *at),
        };
        tracing::debug!(
            outcome = kind,
            ms = ended - started,
            wait_ms = at - ended,
            failures = progress.failures,
            "attempt ended"
        );
        if let Outcome::Failed { error } = &outcome {
            tracing::warn!(row = %row.id, company_id = %row.company_id, %error, "CRM write failed for good");
        }
        let (id, held, result, now) = (row.id.clone(), rec.held, progress.to_json(), db::now_ms());
        let (hook, ended) = (self.on_finish.clone(), row.clone());
        let finished = self
            .db
            .write(move |conn| {
                if !store::finish(conn, &id, held, &result, &outcome, now)? {
                    return Ok::<_, DbError>(None);
                }
                match &hook {
                    Some(hook) => hook(conn, &ended).map(Some),
                    None => Ok(Some(Box::new(|| {}) as AfterCommit)),
                }
            })
            .await;
        match finished {
            Ok(Some(after_commit)) => {
                after_commit();
                matches!(kind, "retry" | "postpone").then_some(at)
            }
            Ok(None) => {
                tracing::warn!(row = %row.id, "outbox lease lost before the row was finished");
                None
            }
            Err(e) => {
                tracing::warn!(row = %row.id, error = %e, "cannot record the outbox outcome");
                None
            }
        }
    }
}
