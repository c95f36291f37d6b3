//! Analytics events: one row per thing the reports count, written in the transaction of
//! the step that caused it.

use diesel::prelude::*;

use super::schema::analytics_events;
use super::{DbConn, DbError, new_id};

pub mod rollup;
mod row;

pub use row::{AnalyticsEvent, day_of, kind, left};

/// What one event says; the row gets its id and time when recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent<'a> {
    pub kind: &'static str,
    pub playbook_id: Option<&'a str>,
    pub card: Option<&'a str>,
    pub value: Option<i64>,
    /// The published version of the playbook that ran.
    pub version: Option<i32>,
}

/// Who the visitor was when the events happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Audience {
    pub known: bool,
    pub returning: bool,
}

/// Record events of one conversation, with their daily roll-ups. The kinds in
/// [`kind::ONCE`] are kept only the first time per conversation and playbook.
pub fn record(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: Option<&str>,
    audience: Audience,
    events: &[NewEvent<'_>],
    now: i64,
) -> Result<(), DbError> {
    let mut counts = rollup::Pending::default();
    record_counting(
        conn,
        company_id,
        conversation_id,
        audience,
        events,
        now,
        &mut counts,
    )?;
    counts.write(conn)
}

/// [`record`], with the roll-up counts left in `counts` for the caller to write once for
/// several conversations (the timers fired in one transaction): a roll-up row is then
/// locked once, just before the commit, not from the first conversation on.
pub fn record_counting(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: Option<&str>,
    audience: Audience,
    events: &[NewEvent<'_>],
    now: i64,
    counts: &mut rollup::Pending,
) -> Result<(), DbError> {
    if events.is_empty() {
        return Ok(());
    }
    let mut seen: Vec<(String, String)> = match conversation_id {
        Some(conv) if events.iter().any(|e| kind::ONCE.contains(&e.kind)) => {
            analytics_events::table
                .filter(analytics_events::conversation_id.eq(conv))
                .filter(analytics_events::kind.eq_any(kind::ONCE.to_vec()))
                .filter(analytics_events::playbook_id.is_not_null())
                .select((
                    analytics_events::kind,
                    analytics_events::playbook_id.assume_not_null(),
                ))
                .load(conn)?
        }
        _ => Vec::new(),
    };
    let mut kept: Vec<&NewEvent<'_>> = Vec::with_capacity(events.len());
    for e in events {
        if kind::ONCE.contains(&e.kind) && conversation_id.is_some() {
            let key = (
                e.kind.to_owned(),
                e.playbook_id.unwrap_or_default().to_owned(),
            );
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
        }
        kept.push(e);
    }
    if kept.is_empty() {
        return Ok(());
    }
    let rows: Vec<AnalyticsEvent> = kept
        .iter()
        .map(|e| AnalyticsEvent {
            id: new_id(),
            company_id: company_id.to_owned(),
            playbook_id: e.playbook_id.map(str::to_owned),
            conversation_id: conversation_id.map(str::to_owned),
            visitor_known: audience.known,
            kind: e.kind.to_owned(),
            card: e.card.map(str::to_owned),
            value: e.value,
            created_at: now,
            version: e.version,
            visitor_returning: audience.returning,
        })
        .collect();
    // Backend branch: diesel's multi-row insert is implemented per backend.
    match conn {
        DbConn::Sqlite(c) => diesel::insert_into(analytics_events::table)
            .values(&rows)
            .execute(c)?,
        DbConn::Pg(c) => diesel::insert_into(analytics_events::table)
            .values(&rows)
            .execute(c)?,
    };
    // Events without a playbook are not rolled up (answer rules and the fallback are not
    // part of a playbook's report). A conversion of a conversation whose capture the CRM
    // already confirmed counts as confirmed at once (`rollup::confirm` counted the earlier
    // ones; the turn holds the conversation's lock, so the two never miss each other).
    let confirmed = match conversation_id {
        Some(conv) if rows.iter().any(|r| r.kind == kind::CONVERTED) => {
            rollup::is_confirmed(conn, conv)?
        }
        _ => false,
    };
    for event in &rows {
        let Some(playbook_id) = &event.playbook_id else {
            continue;
        };
        counts.add(rollup::counting(event, playbook_id, &event.kind));
        if confirmed && event.kind == kind::CONVERTED {
            counts.add(rollup::counting(event, playbook_id, rollup::CONFIRMED));
        }
    }
    Ok(())
}

/// The conversation's events, oldest first.
pub fn for_conversation(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
) -> Result<Vec<AnalyticsEvent>, DbError> {
    Ok(analytics_events::table
        .filter(analytics_events::company_id.eq(company_id))
        .filter(analytics_events::conversation_id.eq(conversation_id))
        .order((
            analytics_events::created_at.asc(),
            analytics_events::id.asc(),
        ))
        .select(AnalyticsEvent::as_select())
        .load(conn)?)
}

/// How many events of each kind each playbook of the company had since `since` (Unix ms):
/// `(playbook id, kind, count)` for the kinds asked.
pub fn counts_since(
    conn: &mut DbConn,
    company_id: &str,
    kinds: &[&str],
    since: i64,
) -> Result<Vec<(String, String, i64)>, DbError> {
    let rows: Vec<(Option<String>, String, i64)> = analytics_events::table
        .filter(analytics_events::company_id.eq(company_id))
        .filter(analytics_events::created_at.ge(since))
        .filter(analytics_events::kind.eq_any(kinds))
        .filter(analytics_events::playbook_id.is_not_null())
        .group_by((analytics_events::playbook_id, analytics_events::kind))
        .select((
            analytics_events::playbook_id,
            analytics_events::kind,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(p, k, n)| Some((p?, k, n)))
        .collect())
}
