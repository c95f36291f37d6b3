//! Durable timers (the live chat wait): rows with a due time, armed and cancelled in the
//! transaction of the engine step that asks for it, fired later by the timer worker
//! (`chat::timers`).
//!
//! Claiming differs per backend, here and nowhere else: PostgreSQL selects due timers
//! `FOR UPDATE SKIP LOCKED`, so workers on several nodes never take the same one; SQLite
//! serialises writers with `BEGIN IMMEDIATE`. Both then set a lease (`locked_until`) that
//! only grows, and firing names the lease it holds ([`take`]): a worker whose lease was
//! taken over fires nothing.

use diesel::prelude::*;

use super::schema::timers;
use super::{DbConn, DbError, new_id, write_tx};

/// Timer states.
pub mod status {
    pub const ARMED: &str = "armed";
    pub const FIRED: &str = "fired";
    pub const CANCELLED: &str = "cancelled";
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = timers)]
pub struct TimerRow {
    pub id: String,
    pub company_id: String,
    pub conversation_id: String,
    /// `playbook::effect::TimerKind::as_str`.
    pub kind: String,
    /// The card that armed it.
    pub card: String,
    pub due_at: i64,
    pub status: String,
    pub locked_until: Option<i64>,
    pub created_at: i64,
    pub fired_at: Option<i64>,
}

/// Arm a timer, replacing an armed one of the same kind for the conversation.
pub fn arm(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
    kind: &str,
    card: &str,
    due_at: i64,
    now: i64,
) -> Result<TimerRow, DbError> {
    cancel(conn, company_id, conversation_id, kind)?;
    add(conn, company_id, conversation_id, kind, card, due_at, now)
}

/// Arm a timer beside the conversation's others of its kind (the caller knows they are
/// cancelled or stale: the one firing now, when an offer's expiry makes the next offer).
pub fn add(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
    kind: &str,
    card: &str,
    due_at: i64,
    now: i64,
) -> Result<TimerRow, DbError> {
    let row = TimerRow {
        id: new_id(),
        company_id: company_id.to_owned(),
        conversation_id: conversation_id.to_owned(),
        kind: kind.to_owned(),
        card: card.to_owned(),
        due_at,
        status: status::ARMED.to_owned(),
        locked_until: None,
        created_at: now,
        fired_at: None,
    };
    diesel::insert_into(timers::table)
        .values(&row)
        .execute(conn)?;
    Ok(row)
}

/// Cancel the conversation's armed timers of this kind. Returns how many were armed.
pub fn cancel(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
    kind: &str,
) -> Result<usize, DbError> {
    Ok(diesel::update(
        timers::table
            .filter(timers::company_id.eq(company_id))
            .filter(timers::conversation_id.eq(conversation_id))
            .filter(timers::kind.eq(kind))
            .filter(timers::status.eq(status::ARMED)),
    )
    .set(timers::status.eq(status::CANCELLED))
    .execute(conn)?)
}

/// Cancel the armed timers of this kind of these conversations (of any company: a
/// conversation id names one conversation), in one statement. Returns how many were armed.
pub fn cancel_many(
    conn: &mut DbConn,
    conversation_ids: &[String],
    kind: &str,
) -> Result<usize, DbError> {
    if conversation_ids.is_empty() {
        return Ok(0);
    }
    Ok(diesel::update(
        timers::table
            .filter(timers::conversation_id.eq_any(conversation_ids))
            .filter(timers::kind.eq(kind))
            .filter(timers::status.eq(status::ARMED)),
    )
    .set(timers::status.eq(status::CANCELLED))
    .execute(conn)?)
}

/// The conversation's timers, newest first.
pub fn for_conversation(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
) -> Result<Vec<TimerRow>, DbError> {
    Ok(timers::table
        .filter(timers::company_id.eq(company_id))
        .filter(timers::conversation_id.eq(conversation_id))
        .order(timers::created_at.desc())
        .select(TimerRow::as_select())
        .load(conn)?)
}

/// Armed timers due at `now` and not leased by a live claim, earliest first.
macro_rules! due_timers {
    ($now:expr) => {
        timers::table
            .filter(timers::status.eq(status::ARMED))
            .filter(timers::due_at.le($now))
            .filter(
                timers::locked_until
                    .is_null()
                    .or(timers::locked_until.le($now)),
            )
            .order((timers::due_at.asc(), timers::id.asc()))
    };
}

/// Set the lease of the claimed rows (on either connection type).
macro_rules! lease {
    ($conn:expr, $rows:expr, $lease_until:expr) => {
        if !$rows.is_empty() {
            let ids: Vec<&str> = $rows.iter().map(|r| r.id.as_str()).collect();
            diesel::update(timers::table.filter(timers::id.eq_any(ids)))
                .set(timers::locked_until.eq(Some($lease_until)))
                .execute($conn)?;
        }
    };
}

/// Claim up to `limit` due timers of every company until `lease_until` (Unix ms), earliest
/// first. The rows come back with their new lease.
pub fn claim(
    conn: &mut DbConn,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<TimerRow>, DbError> {
    let mut rows: Vec<TimerRow> = match conn {
        // Backend-specific: row locks that concurrent claimers skip.
        DbConn::Pg(pg) => pg.transaction(|pg| {
            let rows: Vec<TimerRow> = due_timers!(now)
                .limit(limit)
                .select(TimerRow::as_select())
                .for_update()
                .skip_locked()
                .load(pg)?;
            lease!(pg, rows, lease_until);
            Ok::<_, diesel::result::Error>(rows)
        })?,
        DbConn::Sqlite(_) => write_tx(conn, |conn| {
            let rows: Vec<TimerRow> = due_timers!(now)
                .limit(limit)
                .select(TimerRow::as_select())
                .load(conn)?;
            lease!(conn, rows, lease_until);
            Ok::<_, DbError>(rows)
        })?,
    };
    for row in &mut rows {
        row.locked_until = Some(lease_until);
    }
    Ok(rows)
}

/// When the next armed timer that nobody holds falls due (Unix ms), if any. Timers under
/// a live lease are left out: their worker fires them.
pub fn next_due(conn: &mut DbConn, now: i64) -> Result<Option<i64>, DbError> {
    Ok(timers::table
        .filter(timers::status.eq(status::ARMED))
        .filter(
            timers::locked_until
                .is_null()
                .or(timers::locked_until.le(now)),
        )
        .order(timers::due_at.asc())
        .select(timers::due_at)
        .first(conn)
        .optional()?)
}

/// Give claimed timers back unfired (the node is stopping): their leases end now, so
/// another node fires them at once. Timers whose lease changed hands are left alone.
pub fn release(conn: &mut DbConn, ids: &[String], held: i64) -> Result<usize, DbError> {
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(diesel::update(
        timers::table
            .filter(timers::id.eq_any(ids))
            .filter(timers::status.eq(status::ARMED))
            .filter(timers::locked_until.eq(held)),
    )
    .set(timers::locked_until.eq(None::<i64>))
    .execute(conn)?)
}

/// The columns of a timer fired at `now`: no longer leased.
macro_rules! fired_at {
    ($now:expr) => {
        (
            timers::status.eq(status::FIRED),
            timers::fired_at.eq(Some($now)),
            timers::locked_until.eq(None::<i64>),
        )
    };
}

/// Mark a claimed timer fired, if it is still armed and still under the lease `held`.
/// `false` when it was cancelled (a rep took the chat) or another worker holds it now.
pub fn take(conn: &mut DbConn, timer: &TimerRow, held: i64, now: i64) -> Result<bool, DbError> {
    let n = diesel::update(
        timers::table
            .filter(timers::id.eq(&timer.id))
            .filter(timers::company_id.eq(&timer.company_id))
            .filter(timers::status.eq(status::ARMED))
            .filter(timers::locked_until.eq(held)),
    )
    .set(fired_at!(now))
    .execute(conn)?;
    Ok(n == 1)
}

/// [`take`] for claimed timers of several conversations: one statement per lease held
/// (one for the timers of one claim). The ids of the timers marked fired; the others were
/// cancelled or are held by another worker now.
pub fn take_many(
    conn: &mut DbConn,
    claimed: &[&TimerRow],
    now: i64,
) -> Result<Vec<String>, DbError> {
    let mut taken = Vec::with_capacity(claimed.len());
    for (held, ids) in by_lease(claimed) {
        let marked = diesel::update(
            timers::table
                .filter(timers::id.eq_any(ids))
                .filter(timers::status.eq(status::ARMED))
                .filter(timers::locked_until.eq(held)),
        )
        .set(fired_at!(now))
        .returning(timers::id);
        // Backend branch: diesel's `RETURNING` is implemented per backend.
        taken.extend(match conn {
            DbConn::Sqlite(c) => marked.get_results::<String>(c)?,
            DbConn::Pg(c) => marked.get_results::<String>(c)?,
        });
    }
    Ok(taken)
}

/// Undo [`take_many`] for timers whose step failed afterwards in the same transaction:
/// armed again under the lease they were claimed with, so they are tried again once it
/// has passed (as a timer whose step failed after [`take`] in a savepoint of its own).
pub fn untake(conn: &mut DbConn, claimed: &[&TimerRow]) -> Result<usize, DbError> {
    let mut n = 0;
    for (held, ids) in by_lease(claimed) {
        n += diesel::update(
            timers::table
                .filter(timers::id.eq_any(ids))
                .filter(timers::status.eq(status::FIRED)),
        )
        .set((
            timers::status.eq(status::ARMED),
            timers::fired_at.eq(None::<i64>),
            timers::locked_until.eq(Some(held)),
        ))
        .execute(conn)?;
    }
    Ok(n)
}

/// The ids of claimed timers by the lease they hold (none: not claimed, left out).
fn by_lease<'a>(claimed: &[&'a TimerRow]) -> std::collections::BTreeMap<i64, Vec<&'a str>> {
    let mut by_lease: std::collections::BTreeMap<i64, Vec<&'a str>> = Default::default();
    for t in claimed {
        if let Some(held) = t.locked_until {
            by_lease.entry(held).or_default().push(&t.id);
        }
    }
    by_lease
}
