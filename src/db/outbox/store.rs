//! The outbox workers' database side: claiming due rows of one kind (captures for the CRM
//! worker, e-mails for the mail worker in `crate::mail`), recording progress and outcomes,
//! and the sync log the settings page shows.
//!
//! Claiming differs per backend, here and nowhere else: PostgreSQL selects due rows
//! `FOR UPDATE SKIP LOCKED` so that concurrent workers on several nodes never take the same
//! row; SQLite serialises writers with `BEGIN IMMEDIATE`. Both then set a lease
//! (`locked_until`). The lease doubles as a fencing token: it only ever grows (a row is
//! claimed again only after its lease has passed, with a later one), and every write of a
//! worker names the lease it holds, so a worker whose lease was taken over writes nothing.

use diesel::prelude::*;

use super::{Kind, OutboxRow, status};
use crate::db::schema::outbox;
use crate::db::{DbConn, DbError, write_tx};

diesel::alias!(outbox as earlier: EarlierOutbox);

/// Due, unleased rows of one kind that are the oldest pending one of that kind in their
/// conversation (a conversation's rows of a kind are delivered in order).
macro_rules! due_rows {
    ($kind:expr, $now:expr) => {
        outbox::table
            .filter(outbox::kind.eq($kind))
            .filter(outbox::status.eq(status::PENDING))
            .filter(outbox::next_attempt_at.le($now))
            .filter(
                outbox::locked_until
                    .is_null()
                    .or(outbox::locked_until.le($now)),
            )
            .filter(diesel::dsl::not(diesel::dsl::exists(
                earlier
                    .filter(
                        earlier
                            .field(outbox::conversation_id)
                            .eq(outbox::conversation_id),
                    )
                    .filter(earlier.field(outbox::kind).eq($kind))
                    .filter(earlier.field(outbox::status).eq(status::PENDING))
                    .filter(
                        earlier
                            .field(outbox::created_at)
                            .lt(outbox::created_at)
                            .or(earlier
                                .field(outbox::created_at)
                                .eq(outbox::created_at)
                                .and(earlier.field(outbox::id).lt(outbox::id))),
                    ),
            )))
            .order((outbox::next_attempt_at.asc(), outbox::id.asc()))
    };
}

/// Set the lease of the claimed rows (on either connection type).
macro_rules! lease {
    ($conn:expr, $ids:expr, $lease_until:expr) => {
        if !$ids.is_empty() {
            diesel::update(outbox::table.filter(outbox::id.eq_any(&$ids)))
                .set(outbox::locked_until.eq(Some($lease_until)))
                .execute($conn)?;
        }
    };
}

/// Claim up to `limit` due capture rows until `lease_until` (Unix ms).
pub fn claim(
    conn: &mut DbConn,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<OutboxRow>, DbError> {
    claim_kind(conn, Kind::Capture, now, lease_until, limit)
}

/// Claim up to `limit` due rows of `kind` until `lease_until` (Unix ms). Each worker claims
/// only its own kind, so an e-mail never waits for the CRM and a capture never for SMTP.
pub fn claim_kind(
    conn: &mut DbConn,
    kind: Kind,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<OutboxRow>, DbError> {
    let kind = kind.as_str();
    let ids: Vec<String> = match conn {
        // Backend-specific: row locks that concurrent claimers skip.
        DbConn::Pg(pg) => pg.transaction(|pg| {
            let ids: Vec<String> = due_rows!(kind, now)
                .select(outbox::id)
                .limit(limit)
                .for_update()
                .skip_locked()
                .load(pg)?;
            lease!(pg, ids, lease_until);
            Ok::<_, diesel::result::Error>(ids)
        })?,
        DbConn::Sqlite(_) => write_tx(conn, |conn| {
            let ids: Vec<String> = due_rows!(kind, now)
                .select(outbox::id)
                .limit(limit)
                .load(conn)?;
            lease!(conn, ids, lease_until);
            Ok::<_, DbError>(ids)
        })?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(outbox::table
        .filter(outbox::id.eq_any(&ids))
        .filter(outbox::locked_until.eq(lease_until))
        .order((outbox::next_attempt_at.asc(), outbox::id.asc()))
        .select(OutboxRow::as_select())
        .load(conn)?)
}

/// Record progress and extend the lease. `false` when the lease was lost. Progress that
/// names the lead or deal notes the conversation's conversion: call inside a write
/// transaction (`Db::write`).
pub fn save_progress(
    conn: &mut DbConn,
    id: &str,
    held: i64,
    new_lease: i64,
    result: &str,
    now: i64,
) -> Result<bool, DbError> {
    let n = diesel::update(
        outbox::table
            .filter(outbox::id.eq(id))
            .filter(outbox::locked_until.eq(held)),
    )
    .set((
        outbox::result.eq(Some(result)),
        outbox::locked_until.eq(Some(new_lease)),
        outbox::updated_at.eq(now),
    ))
    .execute(conn)?;
    if n == 1 {
        super::note_confirmation(conn, id, result, now)?;
    }
    Ok(n == 1)
}

/// Give claimed rows back untouched (the node is stopping): their leases end now, so
/// another node takes them at once. Rows whose lease changed hands are left alone.
pub fn release(conn: &mut DbConn, ids: &[String], held: i64) -> Result<usize, DbError> {
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(diesel::update(
        outbox::table
            .filter(outbox::id.eq_any(ids))
            .filter(outbox::locked_until.eq(held)),
    )
    .set(outbox::locked_until.eq(None::<i64>))
    .execute(conn)?)
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done,
    /// Try again at this time (Unix ms), keeping the error for the sync log.
    Retry {
        at: i64,
        error: String,
    },
    /// Try again at this time without counting an attempt (the budget was spent before
    /// anything was sent).
    Postpone {
        at: i64,
        error: Option<String>,
    },
    /// The CRM refused for good: kept for the sync log and its retry button.
    Failed {
        error: String,
    },
}

/// Record the end of an attempt and release the lease. `false` when the lease was lost.
/// A capture's progress that names the lead or deal notes the conversation's conversion:
/// call inside a write transaction (`Db::write`) for captures.
pub fn finish(
    conn: &mut DbConn,
    id: &str,
    held: i64,
    result: &str,
    outcome: &Outcome,
    now: i64,
) -> Result<bool, DbError> {
    let row = outbox::table
        .filter(outbox::id.eq(id))
        .filter(outbox::locked_until.eq(held));
    let n = match outcome {
        Outcome::Done => diesel::update(row)
            .set((
                outbox::status.eq(status::DONE),
                outbox::attempts.eq(outbox::attempts + 1),
                outbox::locked_until.eq(None::<i64>),
                outbox::result.eq(Some(result)),
                outbox::last_error.eq(None::<String>),
                outbox::updated_at.eq(now),
            ))
            .execute(conn)?,
        Outcome::Retry { at, error } => diesel::update(row)
            .set((
                outbox::attempts.eq(outbox::attempts + 1),
                outbox::next_attempt_at.eq(*at),
                outbox::locked_until.eq(None::<i64>),
                outbox::result.eq(Some(result)),
                outbox::last_error.eq(Some(error)),
                outbox::updated_at.eq(now),
            ))
            .execute(conn)?,
        Outcome::Postpone { at, error } => diesel::update(row)
            .set((
                outbox::next_attempt_at.eq(*at),
                outbox::locked_until.eq(None::<i64>),
                outbox::result.eq(Some(result)),
                outbox::last_error.eq(error.as_deref()),
                outbox::updated_at.eq(now),
            ))
            .execute(conn)?,
        Outcome::Failed { error } => diesel::update(row)
            .set((
                outbox::status.eq(status::FAILED),
                outbox::attempts.eq(outbox::attempts + 1),
                outbox::locked_until.eq(None::<i64>),
                outbox::result.eq(Some(result)),
                outbox::last_error.eq(Some(error)),
                outbox::updated_at.eq(now),
            ))
            .execute(conn)?,
    };
    if n == 1 {
        super::note_confirmation(conn, id, result, now)?;
    }
    Ok(n == 1)
}

/// A new install of the company: its waiting capture rows (postponed while the CRM was not
/// connected, or backing off) become due now. Leased rows are left to their worker; the
/// number of rows made due is returned.
pub fn wake_company(conn: &mut DbConn, company_id: &str, now: i64) -> Result<usize, DbError> {
    Ok(diesel::update(
        outbox::table
            .filter(outbox::company_id.eq(company_id))
            .filter(outbox::kind.eq(Kind::Capture.as_str()))
            .filter(outbox::status.eq(status::PENDING))
            .filter(outbox::next_attempt_at.gt(now))
            .filter(
                outbox::locked_until
                    .is_null()
                    .or(outbox::locked_until.le(now)),
            ),
    )
    .set((outbox::next_attempt_at.eq(now), outbox::updated_at.eq(now)))
    .execute(conn)?)
}

/// The company's capture rows that wait or failed, oldest first.
pub fn unfinished(
    conn: &mut DbConn,
    company_id: &str,
    limit: i64,
) -> Result<Vec<OutboxRow>, DbError> {
    unfinished_of(conn, company_id, &[Kind::Capture], limit)
}

/// The company's rows of these kinds that wait or failed, oldest first.
pub fn unfinished_of(
    conn: &mut DbConn,
    company_id: &str,
    kinds: &[Kind],
    limit: i64,
) -> Result<Vec<OutboxRow>, DbError> {
    let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    Ok(outbox::table
        .filter(outbox::company_id.eq(company_id))
        .filter(outbox::kind.eq_any(kinds))
        .filter(outbox::status.eq_any([status::PENDING, status::FAILED]))
        .order((outbox::created_at.asc(), outbox::id.asc()))
        .limit(limit)
        .select(OutboxRow::as_select())
        .load(conn)?)
}

/// The company's most recently delivered capture rows, newest capture first (the order
/// of the time the sync log shows).
pub fn delivered(
    conn: &mut DbConn,
    company_id: &str,
    limit: i64,
) -> Result<Vec<OutboxRow>, DbError> {
    delivered_of(conn, company_id, &[Kind::Capture], limit)
}

/// The company's most recently delivered rows of these kinds, newest row first.
pub fn delivered_of(
    conn: &mut DbConn,
    company_id: &str,
    kinds: &[Kind],
    limit: i64,
) -> Result<Vec<OutboxRow>, DbError> {
    let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    let mut rows: Vec<OutboxRow> = outbox::table
        .filter(outbox::company_id.eq(company_id))
        .filter(outbox::kind.eq_any(kinds))
        .filter(outbox::status.eq(status::DONE))
        .order((outbox::updated_at.desc(), outbox::id.desc()))
        .limit(limit)
        .select(OutboxRow::as_select())
        .load(conn)?;
    rows.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    Ok(rows)
}

/// Per kind: the rows not delivered yet, and the age in seconds of the oldest one that is
/// due (0 when none is), across every company: for `/metrics`.
pub fn backlog(conn: &mut DbConn, now: i64) -> Result<Vec<(String, i64, f64)>, DbError> {
    let counts: Vec<(String, i64)> = outbox::table
        .filter(outbox::status.eq(status::PENDING))
        .group_by(outbox::kind)
        .select((outbox::kind, diesel::dsl::count_star()))
        .load(conn)?;
    let oldest: Vec<(String, Option<i64>)> = outbox::table
        .filter(outbox::status.eq(status::PENDING))
        .filter(outbox::next_attempt_at.le(now))
        .group_by(outbox::kind)
        .select((outbox::kind, diesel::dsl::min(outbox::next_attempt_at)))
        .load(conn)?;
    Ok([Kind::Capture, Kind::Email]
        .into_iter()
        .map(|kind| {
            let kind = kind.as_str();
            let n = counts
                .iter()
                .find(|(k, _)| k == kind)
                .map_or(0, |(_, n)| *n);
            let due = oldest.iter().find(|(k, _)| k == kind).and_then(|(_, m)| *m);
            let age = due.map_or(0.0, |d| (now - d).max(0) as f64 / 1000.0);
            (kind.to_owned(), n, age)
        })
        .collect())
}

/// One capture row of the company.
pub fn get(conn: &mut DbConn, company_id: &str, id: &str) -> Result<Option<OutboxRow>, DbError> {
    Ok(outbox::table
        .filter(outbox::company_id.eq(company_id))
        .filter(outbox::id.eq(id))
        .filter(outbox::kind.eq(Kind::Capture.as_str()))
        .select(OutboxRow::as_select())
        .first(conn)
        .optional()?)
}

/// The sync log's retry button: a failed capture or e-mail of the company becomes due
/// again. `false` when there is no such failed row.
pub fn retry_failed(
    conn: &mut DbConn,
    company_id: &str,
    id: &str,
    now: i64,
) -> Result<bool, DbError> {
    let n = diesel::update(
        outbox::table
            .filter(outbox::company_id.eq(company_id))
            .filter(outbox::id.eq(id))
            .filter(outbox::kind.eq_any([Kind::Capture.as_str(), Kind::Email.as_str()]))
            .filter(outbox::status.eq(status::FAILED)),
    )
    .set((
        outbox::status.eq(status::PENDING),
        outbox::attempts.eq(0),
        outbox::next_attempt_at.eq(now),
        outbox::locked_until.eq(None::<i64>),
        outbox::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Counts of the company's capture rows by status (for the settings page and tests).
pub fn counts(conn: &mut DbConn, company_id: &str) -> Result<Vec<(String, i64)>, DbError> {
    counts_of(conn, company_id, Kind::Capture)
}

/// Counts of the company's rows of `kind` by status.
pub fn counts_of(
    conn: &mut DbConn,
    company_id: &str,
    kind: Kind,
) -> Result<Vec<(String, i64)>, DbError> {
    Ok(outbox::table
        .filter(outbox::company_id.eq(company_id))
        .filter(outbox::kind.eq(kind.as_str()))
        .group_by(outbox::status)
        .select((outbox::status, diesel::dsl::count_star()))
        .order(outbox::status.asc())
        .load(conn)?)
}

/// The CRM user who owns what a capture creates: the rep who chatted (for `rep`), else the
/// playbook's owner; a fixed user when the card names one. `None` leaves it to the CRM.
pub fn owner_of(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: Option<&str>,
    owner: crate::playbook::model::Owner,
) -> Result<Option<i64>, DbError> {
    use crate::db::schema::{conversations, crm_users, playbook_versions, playbooks};
    use crate::playbook::model::Owner;

    if let Owner::User(id) = owner {
        return Ok(Some(id));
    }
    let Some(conversation_id) = conversation_id else {
        return Ok(None);
    };
    if owner == Owner::Rep {
        let rep: Option<i64> = conversations::table
            .inner_join(
                crm_users::table.on(conversations::assigned_to.eq(crm_users::id.nullable())),
            )
            .filter(conversations::id.eq(conversation_id))
            .filter(conversations::company_id.eq(company_id))
            .filter(crm_users::company_id.eq(company_id))
            .select(crm_users::crm_user_id)
            .first(conn)
            .optional()?;
        if rep.is_some() {
            return Ok(rep);
        }
    }
    let playbook_owner: Option<Option<i64>> = conversations::table
        .inner_join(
            playbook_versions::table
                .on(conversations::playbook_version_id.eq(playbook_versions::id.nullable())),
        )
        .inner_join(playbooks::table.on(playbook_versions::playbook_id.eq(playbooks::id)))
        .filter(conversations::id.eq(conversation_id))
        .filter(conversations::company_id.eq(company_id))
        .filter(playbooks::company_id.eq(company_id))
        .select(playbooks::owner_crm_user_id)
        .first(conn)
        .optional()?;
    Ok(playbook_owner.flatten())
}
