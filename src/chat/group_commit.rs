//! Group commit of visitor turns: turns that arrive together commit together.
//!
//! A visitor turn does not open a transaction of its own: it joins the queue of its node's
//! [`GroupCommit`]. A writer takes the turns waiting there (at most [`MAX_BATCH`]), runs
//! them inside one write transaction ([`turn::visitor_batch`]: a turn that fails is rolled
//! back alone and gets its error, see below), announces what the kept
//! turns produced with that transaction ([`Chat::write_announced`]), commits once, and
//! only then answers each turn and sends what follows a commit (the reps' notifications,
//! the timer wake-up, http calls).
//!
//! - **A lone turn is never delayed.** A turn that finds a writer free starts one at once
//!   with whatever waits (often only itself); nothing waits for company on a timer. Turns
//!   that arrive while every writer is busy wait for the next free one, which takes them
//!   all (up to [`MAX_BATCH`]): the busier the node, the larger the batches, and the wait
//!   of a turn is bounded by the batches ahead of it.
//! - **Writers.** SQLite has one writer per file, so one batch at a time. On PostgreSQL a
//!   node runs up to [`PG_WRITERS`] batches at once (bounded by half its pool, so reads
//!   keep connections): each batch locks its conversations in id order and adds its
//!   analytics roll-up counts at its end in key order, so two batches never wait on each
//!   other in a circle.
//! - **Savepoints only when needed.** A batch is first written without savepoints, two
//!   statements (round trips on PostgreSQL) fewer per turn. When one of its turns fails,
//!   that transaction is rolled back whole and the batch written again with each turn in
//!   a savepoint of its own, so the failing turn is undone alone and gets its error. No
//!   turn is answered from the attempt that was rolled back. A lone turn needs no
//!   savepoint at all: its failure rolls back its own transaction.
//! - **A batch that fails as a whole** (its commit, or the announcement before it) is run
//!   again one turn per transaction, so one turn's trouble does not fail the others; a
//!   turn that fails alone gets its error.

use std::collections::VecDeque;
use std::sync::Mutex;

use chrono::Utc;
use tokio::sync::oneshot;

use super::turn::{self, Apart, Input, Outcome};
use super::{Chat, ChatError};
use crate::db::{Backend, DbError};

/// Most turns in one transaction.
pub const MAX_BATCH: usize = 64;
/// Most batches at once on one node with PostgreSQL.
pub const PG_WRITERS: usize = 4;

/// One visitor turn waiting to be written.
struct Waiting {
    company_id: String,
    visitor_id: String,
    input: Input,
    answer: oneshot::Sender<Result<Outcome, ChatError>>,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Waiting>,
    /// Writers running now.
    writers: usize,
    stats: Stats,
}

/// What a node's queue has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Batches taken by writers.
    pub batches: u64,
    /// Turns in them.
    pub turns: u64,
    /// The most turns one batch took.
    pub largest: usize,
    /// Batches written again with a savepoint per turn, after a turn failed the first
    /// attempt.
    pub redone: u64,
    /// Turns waiting for a writer now.
    pub waiting: usize,
}

/// The queue of a node's visitor turns and its writers (see the module documentation).
pub struct GroupCommit {
    queue: Mutex<Queue>,
    max_writers: usize,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("max_writers", &self.max_writers)
            .finish()
    }
}

impl GroupCommit {
    /// The queue of a node on `backend` whose pool has `pool_size` connections.
    pub fn new(backend: Backend, pool_size: usize) -> GroupCommit {
        let max_writers = match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => (pool_size / 2).clamp(1, PG_WRITERS),
        };
        GroupCommit {
            queue: Mutex::default(),
            max_writers,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // The queue stays consistent whatever panicked while holding it.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run a visitor's turn with the turns arriving with it; its outcome once committed.
    pub async fn turn(
        chat: &Chat,
        company_id: &str,
        visitor_id: &str,
        input: Input,
    ) -> Result<Outcome, ChatError> {
        let (answer, answered) = oneshot::channel();
        let start = {
            let mut queue = chat.group.lock();
            queue.waiting.push_back(Waiting {
                company_id: company_id.to_owned(),
                visitor_id: visitor_id.to_owned(),
                input,
                answer,
            });
            let start = queue.writers < chat.group.max_writers;
            if start {
                queue.writers += 1;
            }
            start
        };
        if start {
            tokio::spawn(write(chat.clone()));
        }
        answered
            .await
            .map_err(|_| ChatError::Db(DbError::Task("the turn's writer stopped".into())))?
    }

    /// The next batch, or none (and this writer stops) when nothing waits.
    fn next_batch(&self) -> Vec<Waiting> {
        let mut queue = self.lock();
        if queue.waiting.is_empty() {
            queue.writers -= 1;
            return Vec::new();
        }
        let n = queue.waiting.len().min(MAX_BATCH);
        queue.stats.batches += 1;
        queue.stats.turns += n as u64;
        queue.stats.largest = queue.stats.largest.max(n);
        queue.waiting.drain(..n).collect()
    }

    /// What the queue has done so far, and how many turns wait now.
    pub fn stats(&self) -> Stats {
        let queue = self.lock();
        Stats {
            waiting: queue.waiting.len(),
            ..queue.stats
        }
    }
}

/// Counts a writer out if its task ends by a panic, so the queue starts another.
struct Running<'a>(&'a GroupCommit, bool);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if !self.1 {
            self.0.lock().writers -= 1;
        }
    }
}

/// One writer: batches until nothing waits.
async fn write(chat: Chat) {
    let group = chat.group.clone();
    let mut running = Running(&group, false);
    loop {
        let batch = group.next_batch();
        if batch.is_empty() {
            // `next_batch` counted this writer out.
            running.1 = true;
            return;
        }
        run_batch(&chat, batch).await;
    }
}

/// Write one batch and answer its turns; a batch that fails as a whole is written again a
/// turn at a time.
async fn run_batch(chat: &Chat, batch: Vec<Waiting>) {
    let alone = batch.len() == 1;
    let (turns, answers): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .map(|w| ((w.company_id, w.visitor_id, w.input), w.answer))
        .unzip();
    let retry = (!alone).then(|| turns.clone());
    match commit(chat, turns).await {
        Ok(outcomes) => answer(chat, outcomes, answers),
        Err(e) => match retry {
            None => {
                if let Some(a) = answers.into_iter().next() {
                    let _ = a.send(Err(e));
                }
            }
            Some(turns) => {
                tracing::warn!(error = %e, turns = turns.len(), "a batch of turns failed; writing them one by one");
                for (one, a) in turns.into_iter().zip(answers) {
                    match commit(chat, vec![one]).await {
                        Ok(outcomes) => answer(chat, outcomes, vec![a]),
                        Err(e) => {
                            let _ = a.send(Err(e));
                        }
                    }
                }
            }
        },
    }
}

/// The turns in one write transaction, announced with it: each turn's own result. First
/// without savepoints (two statements fewer per turn); when a turn of several fails, the
/// transaction is rolled back and the batch written again with a savepoint per turn, so
/// that the failing turn is undone alone. A lone turn needs no savepoint: its transaction
/// is its own, and its failure is its answer.
async fn commit(
    chat: &Chat,
    turns: Vec<(String, String, Input)>,
) -> Result<Vec<Result<Outcome, ChatError>>, ChatError> {
    if turns.len() == 1 {
        return attempt(chat, turns, Apart::Together).await;
    }
    match attempt(chat, turns.clone(), Apart::Together).await {
        Ok(outcomes) => Ok(outcomes),
        Err(_) => {
            chat.group.lock().stats.redone += 1;
            attempt(chat, turns, Apart::Savepoints).await
        }
    }
}

/// One write transaction of `turns`, kept apart as `apart` says.
async fn attempt(
    chat: &Chat,
    turns: Vec<(String, String, Input)>,
    apart: Apart,
) -> Result<Vec<Result<Outcome, ChatError>>, ChatError> {
    let versions = chat.versions.clone();
    chat.write_announced(move |conn, notices| {
        let outcomes = turn::visitor_batch(conn, &versions, &turns, Utc::now(), apart)?;
        for outcome in outcomes.iter().flatten() {
            outcome.announce(notices);
        }
        Ok::<_, ChatError>(outcomes)
    })
    .await
}

/// After the commit: what follows it for the kept turns, then every turn's answer.
fn answer(
    chat: &Chat,
    outcomes: Vec<Result<Outcome, ChatError>>,
    answers: Vec<oneshot::Sender<Result<Outcome, ChatError>>>,
) {
    let mut kept = Vec::with_capacity(outcomes.len());
    let mut failed = Vec::new();
    for (outcome, a) in outcomes.into_iter().zip(answers) {
        match outcome {
            Ok(o) => kept.push((o, a)),
            Err(e) => failed.push((e, a)),
        }
    }
    let (outcomes, answers): (Vec<Outcome>, Vec<_>) = kept.into_iter().unzip();
    chat.committed(&outcomes);
    for (outcome, a) in outcomes.into_iter().zip(answers) {
        let _ = a.send(Ok(outcome));
    }
    for (e, a) in failed {
        let _ = a.send(Err(e));
    }
}
