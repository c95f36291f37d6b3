//! The mail worker: delivers `email` outbox rows with the guarantees of the CRM's outbox
//! worker, through the same store functions (`db::outbox::store`): rows are claimed once
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite) under a lease
//! that fences every later write; a transient failure retries with exponential backoff and
//! full jitter; a permanent one fails the row with the server's words for the sync log and
//! its retry button. Rows are never dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use lettre::message::Mailbox;
use tokio::sync::{Notify, Semaphore, watch};

use super::jobs::MailJob;
use super::message::{self, Links};
use super::transport::{SendError, Transport};
use crate::crm::outbox::backoff::{self, Backoff};
use crate::crm::outbox::progress::Progress;
use crate::db::outbox::store::{self, Outcome};
use crate::db::outbox::{Kind, OutboxRow, status};
use crate::db::{self, Db, DbError};

/// How the worker paces itself.
#[derive(Debug, Clone)]
pub struct MailWorkerConfig {
    pub poll_interval: Duration,
    /// Mails handed over at the same time.
    pub concurrency: usize,
    /// How long a claimed row stays reserved.
    pub lease: Duration,
    pub backoff: Backoff,
}

impl Default for MailWorkerConfig {
    fn default() -> MailWorkerConfig {
        MailWorkerConfig {
            poll_interval: Duration::from_secs(1),
            concurrency: 4,
            lease: Duration::from_secs(5 * 60),
            backoff: Backoff::default(),
        }
    }
}

/// Everything a mail needs besides its row.
#[derive(Debug, Clone)]
pub struct Mailer {
    pub transport: Transport,
    pub from: Mailbox,
    /// `CONCIERGE_PUBLIC_URL`, without a trailing slash: the base of every link.
    pub public_url: String,
}

impl Mailer {
    /// The right-hand side of every `Message-ID`: the public URL's host.
    fn domain(&self) -> String {
        url::Url::parse(&self.public_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "concierge.invalid".into())
    }
}

/// See the module documentation.
pub struct MailWorker {
    db: Db,
    mailer: Arc<Mailer>,
    config: MailWorkerConfig,
    wake: Arc<Notify>,
    /// Set when stopping: claimed rows not started yet are given back.
    halt: Arc<AtomicBool>,
}

/// A running worker; [`MailWorkerHandle::stop`] stops it.
pub struct MailWorkerHandle {
    stop: watch::Sender<bool>,
    halt: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl MailWorkerHandle {
    /// Stop after the mails in progress and wait for that; claimed rows not started yet
    /// are released, so another node sends them at once.
    pub async fn stop(self) {
        self.halt.store(true, Ordering::SeqCst);
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

impl MailWorker {
    pub fn new(db: Db, mailer: Arc<Mailer>, config: MailWorkerConfig) -> MailWorker {
        MailWorker {
            db,
            mailer,
            config,
            wake: Arc::new(Notify::new()),
            halt: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Poll at once whenever `wake` is notified (a mail was queued or retried).
    pub fn with_wake(mut self, wake: Arc<Notify>) -> MailWorker {
        self.wake = wake;
        self
    }

    /// Run on the current runtime until stopped.
    pub fn spawn(self) -> MailWorkerHandle {
        let (stop, mut stopped) = watch::channel(false);
        let halt = self.halt.clone();
        let worker = Arc::new(self);
        let task = tokio::spawn(async move {
            loop {
                if *stopped.borrow() {
                    break;
                }
                let busy = match worker.run_once().await {
                    Ok(n) => n > 0,
                    Err(e) => {
                        tracing::warn!(error = %e, "mail worker cannot claim rows");
                        false
                    }
                };
                if !busy {
                    tokio::select! {
                        _ = tokio::time::sleep(worker.config.poll_interval) => {}
                        _ = worker.wake.notified() => {}
                        _ = stopped.changed() => {}
                    }
                }
            }
        });
        MailWorkerHandle { stop, halt, task }
    }

    /// Claim one batch of due mails and hand them over. Returns how many were claimed.
    pub async fn run_once(&self) -> Result<usize, DbError> {
        let now = db::now_ms();
        let lease_until = now + millis(self.config.lease);
        let limit = (self.config.concurrency.max(1) * 2) as i64;
        let rows = self
            .db
            .run(move |conn| store::claim_kind(conn, Kind::Email, now, lease_until, limit))
            .await?;
        let claimed = rows.len();
        let gate = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let mut running: FuturesUnordered<_> = rows
            .into_iter()
            .map(|row| {
                let gate = gate.clone();
                async move {
                    let _slot = gate.acquire_owned().await;
                    if self.halt.load(Ordering::SeqCst) {
                        return Some(row.id);
                    }
                    self.process(row, lease_until).await;
                    None
                }
            })
            .collect();
        let mut unstarted = Vec::new();
        while let Some(done) = running.next().await {
            unstarted.extend(done);
        }
        if !unstarted.is_empty() {
            self.db
                .run(move |conn| store::release(conn, &unstarted, lease_until))
                .await?;
        }
        Ok(claimed)
    }

    /// Hand one claimed row over and record how it ended.
    async fn process(&self, row: OutboxRow, lease: i64) {
        let message_id = message::message_id(&row.id, &self.mailer.domain());
        let outcome = self.attempt(&row).await;
        match &outcome {
            Outcome::Failed { error } => {
                tracing::warn!(row = %row.id, company_id = %row.company_id, %error, "e-mail failed for good")
            }
            Outcome::Retry { error, .. } => {
                tracing::info!(row = %row.id, %error, "e-mail will be tried again")
            }
            _ => {}
        }
        let result = serde_json::json!({
            "message_id": message_id,
            "transport": self.mailer.transport.name(),
        })
        .to_string();
        let (id, now) = (row.id.clone(), db::now_ms());
        let finished = self
            .db
            .run(move |conn| store::finish(conn, &id, lease, &result, &outcome, now))
            .await;
        match finished {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(row = %row.id, "mail lease lost before the row was finished")
            }
            Err(e) => tracing::warn!(row = %row.id, error = %e, "cannot record the mail outcome"),
        }
    }

    /// One attempt.
    async fn attempt(&self, row: &OutboxRow) -> Outcome {
        let job = match MailJob::parse(&row.payload) {
            Ok(job) => job,
            Err(e) => {
                return Outcome::Failed {
                    error: format!("the stored e-mail cannot be read: {e}"),
                };
            }
        };
        let links = match self.links(row, &job).await {
            Ok(links) => links,
            Err(e) => return self.retry(row, format!("database: {e}")),
        };
        let rendered = match message::render(&job, &links) {
            Ok(r) => r,
            Err(e) => {
                return Outcome::Failed {
                    error: format!("the e-mail cannot be rendered: {e}"),
                };
            }
        };
        let built = message::build(
            rendered,
            &job.to(),
            &self.mailer.from,
            &row.id,
            row.created_at,
            &self.mailer.domain(),
        );
        let message = match built {
            Ok(m) => m,
            Err(e) => {
                return Outcome::Failed {
                    error: e.to_string(),
                };
            }
        };
        match self.mailer.transport.send(&row.id, &message).await {
            Ok(()) => Outcome::Done,
            Err(SendError::Permanent(error)) => Outcome::Failed { error },
            Err(SendError::Transient(error)) => self.retry(row, error),
        }
    }

    fn retry(&self, row: &OutboxRow, error: String) -> Outcome {
        let attempt = u32::try_from(row.attempts).unwrap_or(0);
        let wait = self.config.backoff.delay(attempt, backoff::unit());
        Outcome::Retry {
            at: db::now_ms() + millis(wait),
            error,
        }
    }

    /// The conversation in the inbox and, for a notify mail, what the conversation's
    /// delivered captures created in the CRM.
    async fn links(&self, row: &OutboxRow, job: &MailJob) -> Result<Links, DbError> {
        let Some(conversation) = row.conversation_id.clone() else {
            return Ok(Links::default());
        };
        let inbox = Some(format!("{}/inbox#{conversation}", self.mailer.public_url));
        if !matches!(job, MailJob::Notify(_)) {
            return Ok(Links { inbox, crm: vec![] });
        }
        let company = row.company_id.clone();
        let crm = self
            .db
            .run(move |conn| crm_links(conn, &company, &conversation))
            .await?;
        Ok(Links { inbox, crm })
    }
}

/// Links to the leads and deals (else persons) the conversation's delivered captures
/// created, when the CRM's address is known.
fn crm_links(
    conn: &mut db::DbConn,
    company_id: &str,
    conversation_id: &str,
) -> Result<Vec<(&'static str, String)>, DbError> {
    use crate::db::schema::{companies, outbox};
    use diesel::prelude::*;

    let results: Vec<Option<String>> = outbox::table
        .filter(outbox::company_id.eq(company_id))
        .filter(outbox::conversation_id.eq(conversation_id))
        .filter(outbox::kind.eq(Kind::Capture.as_str()))
        .filter(outbox::status.eq(status::DONE))
        .order((outbox::created_at.asc(), outbox::id.asc()))
        .select(outbox::result)
        .load(conn)?;
    if results.is_empty() {
        return Ok(Vec::new());
    }
    let domain: Option<String> = companies::table
        .filter(companies::id.eq(company_id))
        .select(companies::api_domain)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten()
        .or(db::installs::current(conn, company_id)?.map(|i| i.api_domain));
    let Some(domain) = domain.filter(|d| !d.is_empty()) else {
        return Ok(Vec::new());
    };
    let mut links = Vec::new();
    for result in results {
        let all = Progress::parse(result.as_deref()).links(&domain);
        let main: Vec<_> = all
            .iter()
            .filter(|(kind, _)| matches!(*kind, "lead" | "deal"))
            .cloned()
            .collect();
        links.extend(if main.is_empty() {
            all.into_iter()
                .filter(|(kind, _)| *kind == "person")
                .collect()
        } else {
            main
        });
    }
    links.dedup();
    Ok(links)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}
