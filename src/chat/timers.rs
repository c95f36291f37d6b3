//! The timer worker: fires durable timers (the live chat wait) once, close to their due
//! time, also after a restart and with several nodes on one PostgreSQL.
//!
//! Timers are rows (`db::timers`), armed in the transaction of the engine step that
//! reached a live chat card. Each node runs one worker, which:
//!
//! - **claims** up to `batch` due timers, earliest first, with a lease (`FOR UPDATE SKIP
//!   LOCKED` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite), so no two workers hold one timer;
//! - **fires** them a `chunk` at a time, one write transaction per chunk (several chunks
//!   at once on PostgreSQL). Firing a timer locks its conversation, marks the timer fired —
//!   only if it is still armed and still under this worker's lease — and runs the engine's
//!   "wait expired" event for the card that armed it (the offline message, which records
//!   the chat as missed, and the offline branch). The wait timers of a chunk do this
//!   together, a few statements for all of them ([`fire_all`]). A rep who assigns the chat
//!   cancels the timer in the assignment's transaction, under the same conversation lock,
//!   so exactly one of the two happens. After the commit the outcome is delivered like a
//!   visitor turn's;
//! - **sleeps** until the next due time (`min(due_at)` of the unleased armed timers), at
//!   most `idle`, so timers armed on other nodes are noticed; a turn on this node that arms
//!   an earlier timer wakes it ([`TimerWake`]). There is no polling in between.
//!
//! Timers that fell due while no worker ran are simply due: the first round after a start
//! fires them. A worker that is stopped (a graceful stop of the node) finishes the chunks
//! it is firing and releases the timers it claimed but has not fired, so another node
//! fires them at once; a worker that dies holding a lease leaves its timers to the others
//! once the lease has passed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio::sync::{Notify, watch};

use super::turn::{self, Fired, Outcome};
use super::versions::VersionCache;
use super::{Chat, ChatError};
use crate::db::conversations::{self as convs, Conversation};
use crate::db::timers::{self as store, TimerRow};
use crate::db::visitors;
use crate::db::{self, Backend, DbConn, DbError};
use crate::playbook::Event;
use crate::playbook::effect::TimerKind;

/// How the worker paces itself.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Timers claimed per round.
    pub batch: usize,
    /// Timers fired per transaction.
    pub chunk: usize,
    /// Transactions at once (PostgreSQL; SQLite has one writer).
    pub parallel: usize,
    /// Longest sleep: timers armed on other nodes are noticed within it.
    pub idle: Duration,
    /// How long a claimed timer stays reserved for this worker.
    pub lease: Duration,
}

impl Default for WorkerConfig {
    fn default() -> WorkerConfig {
        WorkerConfig {
            batch: 512,
            chunk: 128,
            parallel: 4,
            idle: Duration::from_secs(30),
            lease: Duration::from_secs(15),
        }
    }
}

/// Wakes the worker early when a timer is armed before the time it sleeps until.
#[derive(Debug)]
pub struct TimerWake {
    notify: Notify,
    /// Until when the worker sleeps (Unix ms); `i64::MAX` while it works, so that a timer
    /// armed meanwhile leaves a wake-up for its next sleep.
    sleeping_until: AtomicI64,
}

impl Default for TimerWake {
    fn default() -> TimerWake {
        TimerWake {
            notify: Notify::new(),
            sleeping_until: AtomicI64::new(i64::MAX),
        }
    }
}

impl TimerWake {
    /// A timer due at `due_at` (Unix ms) was armed and committed.
    pub fn armed(&self, due_at: i64) {
        if due_at < self.sleeping_until.load(Ordering::SeqCst) {
            self.notify.notify_one();
        }
    }

    fn working(&self) {
        self.sleeping_until.store(i64::MAX, Ordering::SeqCst);
    }

    fn sleeping(&self, until: i64) {
        self.sleeping_until.store(until, Ordering::SeqCst);
    }
}

/// See the module documentation.
pub struct Worker {
    chat: Chat,
    config: WorkerConfig,
    /// Set when stopping: claimed timers not fired yet are given back.
    halt: Arc<AtomicBool>,
}

/// A running worker; [`WorkerHandle::stop`] stops it.
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    halt: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl WorkerHandle {
    /// Stop after the chunks being fired and wait for that; claimed timers not fired yet
    /// are released (their lease ends now), so another node fires them at once.
    pub async fn stop(self) {
        self.halt.store(true, Ordering::SeqCst);
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Stop at once (claimed timers wait for their lease to pass).
    pub fn abort(self) {
        self.task.abort();
    }
}

impl Worker {
    pub fn new(chat: Chat, config: WorkerConfig) -> Worker {
        Worker {
            chat,
            config,
            halt: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Run on the current runtime until stopped.
    pub fn spawn(self) -> WorkerHandle {
        let (stop, stopped) = watch::channel(false);
        let halt = self.halt.clone();
        let task = tokio::spawn(self.run(stopped));
        WorkerHandle { stop, halt, task }
    }

    async fn run(self, mut stopped: watch::Receiver<bool>) {
        let wake = self.chat.timer_wake.clone();
        loop {
            if *stopped.borrow() {
                break;
            }
            wake.working();
            let until = match self.round().await {
                Ok(Some(until)) => until,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "timer worker cannot claim timers");
                    db::now_ms() + 1000
                }
            };
            wake.sleeping(until);
            let wait = u64::try_from(until - db::now_ms()).unwrap_or(0);
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
                _ = wake.notify.notified() => {}
                _ = stopped.changed() => {}
            }
        }
    }

    /// Fire what is due; when to look again (Unix ms), or `None` for at once (the batch
    /// was full, more may be due).
    async fn round(&self) -> Result<Option<i64>, ChatError> {
        if self.run_once().await? >= self.config.batch.max(1) {
            return Ok(None);
        }
        let now = db::now_ms();
        let next = self
            .chat
            .db
            .run(move |conn| store::next_due(conn, now))
            .await?;
        let idle = now + millis(self.config.idle);
        Ok(Some(match next {
            // Armed after the claim with a time already past, or being claimed by another
            // node right now: look again in a moment.
            Some(due) if due <= now => now + 2,
            Some(due) => due.min(idle),
            None => idle,
        }))
    }

    /// Claim one batch of due timers and fire them. Returns how many were claimed.
    pub async fn run_once(&self) -> Result<usize, ChatError> {
        let now = db::now_ms();
        let lease_until = now + millis(self.config.lease);
        let limit = i64::try_from(self.config.batch.max(1)).unwrap_or(256);
        let claimed = self
            .chat
            .db
            .run(move |conn| store::claim(conn, now, lease_until, limit))
            .await?;
        let count = claimed.len();
        let parallel = match self.chat.db.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => self.config.parallel.max(1),
        };
        // Spread over the transactions run at once, each at most a chunk.
        let size = count.div_ceil(parallel).clamp(1, self.config.chunk.max(1));
        let chunks: Vec<Vec<TimerRow>> = claimed.chunks(size).map(<[TimerRow]>::to_vec).collect();
        let unfired: Vec<String> = futures_util::stream::iter(chunks)
            .map(|chunk| async move {
                if self.halt.load(Ordering::SeqCst) {
                    return chunk.into_iter().map(|t| t.id).collect();
                }
                self.fire_chunk(chunk).await;
                Vec::new()
            })
            .buffer_unordered(parallel)
            .concat()
            .await;
        if !unfired.is_empty() {
            let n = unfired.len();
            let released = self
                .chat
                .db
                .run(move |conn| store::release(conn, &unfired, lease_until))
                .await;
            if let Err(e) = released {
                tracing::warn!(error = %e, timers = n, "cannot release claimed timers");
            }
        }
        Ok(count)
    }

    /// Fire a chunk in one transaction; if that transaction fails as a whole, each timer
    /// alone, so one bad timer does not hold back the others until the lease passes.
    async fn fire_chunk(&self, chunk: Vec<TimerRow>) {
        let single = chunk.len() == 1;
        let Err(e) = self.chat.fire_timers(chunk.clone()).await else {
            return;
        };
        if single {
            tracing::warn!(error = %e, timer = %chunk[0].id, "cannot fire a timer");
            return;
        }
        for timer in chunk {
            let id = timer.id.clone();
            if let Err(e) = self.chat.fire_timers(vec![timer]).await {
                tracing::warn!(error = %e, timer = %id, "cannot fire a timer");
            }
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

/// Why a timer was not fired.
#[derive(Debug)]
enum Skip {
    /// Cancelled (a rep took the chat) or held by another worker now: nothing to do.
    Stale,
    Failed(ChatError),
}

impl From<diesel::result::Error> for Skip {
    fn from(e: diesel::result::Error) -> Skip {
        Skip::Failed(ChatError::from(e))
    }
}

impl From<DbError> for Skip {
    fn from(e: DbError) -> Skip {
        Skip::Failed(ChatError::Db(e))
    }
}

impl From<ChatError> for Skip {
    fn from(e: ChatError) -> Skip {
        Skip::Failed(e)
    }
}

/// Fire claimed timers inside the caller's write transaction. The outcomes of those that
/// fired.
///
/// The wait timers of the batch whose conversation has no other timer in it are fired
/// together, in a few statements for all of them: their conversations are locked and read
/// in one statement (before any timer, the assignment's order), their visitors in one,
/// and the timers still armed under this worker's lease are marked fired in one (the
/// conversations being locked, no assignment can cancel them meanwhile). Their steps then
/// run with their rows gathered ([`turn::wait_expired_gathered`]) and written in one
/// statement per kind of row; the company and who is online are read once per company,
/// and the analytics events and roll-up counts of every timer fired are written at the
/// end ([`turn::Shared`]). A step that writes other rows (its offline branch sets a
/// variable, ends, waits again…) runs in a savepoint of its own after the gathered rows
/// are written, as do the batch's other timers, one by one ([`fire`]). A timer marked
/// fired whose step then failed is armed again under its lease (tried again once the
/// lease has passed), as a step rolled back to its savepoint leaves it.
pub(super) fn fire_all(
    conn: &mut DbConn,
    versions: &VersionCache,
    claimed: &[TimerRow],
    now: DateTime<Utc>,
) -> Result<Vec<Outcome>, ChatError> {
    use diesel::Connection;

    let mut per_conversation: HashMap<&str, usize> = HashMap::new();
    for timer in claimed {
        *per_conversation
            .entry(timer.conversation_id.as_str())
            .or_default() += 1;
    }
    let together = |t: &TimerRow| {
        t.kind == TimerKind::LiveChatWait.as_str()
            && per_conversation[t.conversation_id.as_str()] == 1
    };
    let ids: Vec<String> = claimed
        .iter()
        .filter(|t| together(t))
        .map(|t| t.conversation_id.clone())
        .collect();
    let mut locked: HashMap<String, Conversation> = convs::lock_many(conn, &ids)?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let visitor_ids: Vec<String> = locked.values().map(|c| c.visitor_id.clone()).collect();
    let mut visitors = visitors::get_many(conn, &visitor_ids)?;
    let mut prepared: Vec<(&TimerRow, Conversation)> = Vec::with_capacity(claimed.len());
    let mut single: Vec<&TimerRow> = Vec::new();
    for timer in claimed {
        match locked.remove(&timer.conversation_id) {
            Some(conv) if together(timer) && conv.company_id == timer.company_id => {
                prepared.push((timer, conv));
            }
            _ => single.push(timer),
        }
    }
    let taking: Vec<&TimerRow> = prepared.iter().map(|(t, _)| *t).collect();
    let taken: HashSet<String> = store::take_many(conn, &taking, now.timestamp_millis())?
        .into_iter()
        .collect();

    let mut shared = turn::Shared::default();
    let mut fired: Vec<(&TimerRow, Outcome)> = Vec::with_capacity(claimed.len());
    let mut alone = Vec::new();
    let mut failed: Vec<(&TimerRow, ChatError)> = Vec::new();
    for (timer, conv) in prepared {
        if !taken.contains(&timer.id) {
            // Cancelled (a rep took the chat first) or held by another worker now.
            continue;
        }
        let Some(visitor) = visitors.remove(&conv.visitor_id) else {
            failed.push((timer, ChatError::NotFound));
            continue;
        };
        let mark = shared.mark();
        let step = turn::wait_expired_gathered(
            conn,
            versions,
            conv,
            visitor,
            &timer.card,
            now,
            &mut shared,
        );
        match step {
            Ok(Fired::Gathered(outcome)) => fired.push((timer, *outcome)),
            Ok(Fired::Alone(given)) => alone.push((timer, given)),
            Err(e) => {
                shared.undo(mark);
                failed.push((timer, e));
            }
        }
    }
    shared.write_gathered(conn)?;
    for (timer, given) in alone {
        let (conv, visitor) = *given;
        let mark = shared.mark();
        let step = conn.transaction(|conn| {
            wait_expired(conn, versions, timer, conv, visitor, &mut shared, now)
        });
        match step {
            Ok(outcome) => fired.push((timer, outcome)),
            Err(e) => {
                shared.undo(mark);
                failed.push((timer, e));
            }
        }
    }
    let untaken: Vec<&TimerRow> = failed.iter().map(|(t, _)| *t).collect();
    store::untake(conn, &untaken)?;
    for (timer, e) in &failed {
        // Left under its lease: tried again once the lease has passed.
        tracing::warn!(error = %e, timer = %timer.id, "cannot fire a timer");
    }

    for timer in single {
        let mark = shared.mark();
        match conn.transaction(|conn| fire(conn, versions, timer, &mut shared, now)) {
            Ok(outcome) => fired.push((timer, outcome)),
            Err(Skip::Stale) => shared.undo(mark),
            Err(Skip::Failed(e)) => {
                shared.undo(mark);
                // Left under its lease: tried again once the lease has passed.
                tracing::warn!(error = %e, timer = %timer.id, "cannot fire a timer");
            }
        }
    }
    shared.finish(conn)?;
    for (timer, _) in &fired {
        crate::metrics::timer_fired(timer.due_at, now.timestamp_millis());
    }
    Ok(fired.into_iter().map(|(_, outcome)| outcome).collect())
}

/// Fire one timer: its conversation locked first (the order of the assignment's
/// transaction too), the timer marked fired under the lease held (the conversation is
/// locked, so a rep's assignment cannot cancel it meanwhile), then the engine's event for
/// the card that armed it (whose step records a chat nobody took as missed). Marked
/// before the step: a step that arms a timer of the same kind (an offline branch that
/// reaches another live chat card) cancels the conversation's armed timers, and the one
/// firing is no longer among them. Its analytics go with the batch's (`shared`).
fn fire(
    conn: &mut DbConn,
    versions: &VersionCache,
    timer: &TimerRow,
    shared: &mut turn::Shared,
    now: DateTime<Utc>,
) -> Result<Outcome, Skip> {
    let conv = convs::lock(conn, &timer.company_id, &timer.conversation_id)?;
    let held = timer.locked_until.ok_or(Skip::Stale)?;
    if !store::take(conn, timer, held, now.timestamp_millis())? {
        return Err(Skip::Stale);
    }
    Ok(match timer.kind.as_str() {
        k if k == TimerKind::LiveChatWait.as_str() => {
            let visitor = visitors::get(conn, &conv.company_id, &conv.visitor_id)?
                .ok_or(Skip::Failed(ChatError::NotFound))?;
            wait_expired(conn, versions, timer, conv, visitor, shared, now)?
        }
        k if k == TimerKind::LiveChatOffer.as_str() => {
            turn::locked(
                conn,
                versions,
                &timer.company_id,
                &timer.conversation_id,
                now,
                |t| super::turn::offers::lapse(t, timer.due_at),
            )?
            .0
        }
        _ => {
            tracing::warn!(timer = %timer.id, kind = %timer.kind, "a timer of an unknown kind is dropped");
            Outcome::default()
        }
    })
}

/// The engine's "wait expired" for the card that armed `timer`, on its conversation locked
/// and read with its visitor, writing its rows itself; its analytics go with the batch's.
fn wait_expired(
    conn: &mut DbConn,
    versions: &VersionCache,
    timer: &TimerRow,
    conv: Conversation,
    visitor: visitors::Visitor,
    shared: &mut turn::Shared,
    now: DateTime<Utc>,
) -> Result<Outcome, ChatError> {
    turn::event_on(
        conn,
        versions,
        conv,
        visitor,
        &Event::WaitExpired,
        Some(&timer.card),
        now,
        Some(shared),
    )
}
