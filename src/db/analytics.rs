//! Analytics events: one row per thing the reports count, written in the transaction of
//! the step that caused it.

use diesel::prelude::*;

use super::rollup;
use super::schema::analytics_events;
use super::{DbConn, DbError, new_id};

/// Event kinds.
pub mod kind {
    /// A playbook started for a visitor (its first card was shown).
    pub const SHOWN: &str = "shown";
    /// The visitor answered a playbook at least once (once per run).
    pub const ENGAGED: &str = "engaged";
    /// The flow arrived at a card (`card`), for the per-card funnel.
    pub const REACHED: &str = "reached";
    /// The flow reached a capture card (`card`): a lead or deal is queued.
    pub const CONVERTED: &str = "converted";
    /// The flow reached its end.
    pub const COMPLETED: &str = "completed";
    /// A live chat card handed the visitor to the reps.
    pub const CHAT_OFFERED: &str = "chat_offered";
    /// A live chat card went offline (nobody online, or nobody took it in time).
    pub const CHAT_MISSED: &str = "chat_missed";
    /// An answer rule replied (`card` holds the rule id).
    pub const ANSWERED: &str = "answered";
    /// Nothing matched a visitor's text: the fallback reply.
    pub const FALLBACK: &str = "fallback";
    /// The visitor pressed a button of a buttons card (`card`; `value` is the option's
    /// index).
    pub const ANSWER: &str = "answer";
    /// The visitor left the flow at `card`; `value` says how ([`super::left`]).
    pub const LEFT: &str = "left";
    /// The flow ended with this score (`value`).
    pub const SCORED: &str = "scored";

    /// Counted once per conversation and playbook, however often the playbook restarts.
    pub const ONCE: [&str; 3] = [SHOWN, ENGAGED, CONVERTED];
}

/// How a visitor left a flow: the `value` of a [`kind::LEFT`] event.
pub mod left {
    /// The widget's close button.
    pub const CLOSED: i64 = 1;
    /// One of the playbook's exit words.
    pub const EXIT_WORD: i64 = 2;
}

/// The day (UTC) of a Unix-millisecond time, as roll-ups count it.
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(86_400_000)
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = analytics_events)]
pub struct AnalyticsEvent {
    pub id: String,
    pub company_id: String,
    pub playbook_id: Option<String>,
    pub conversation_id: Option<String>,
    pub visitor_known: bool,
    pub kind: String,
    pub card: Option<String>,
    pub value: Option<i64>,
    pub created_at: i64,
    pub version: Option<i32>,
    pub visitor_returning: bool,
}

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
        rollup::add(conn, &rollup::counting(event, playbook_id, &event.kind))?;
        if confirmed && event.kind == kind::CONVERTED {
            rollup::add(
                conn,
                &rollup::counting(event, playbook_id, rollup::CONFIRMED),
            )?;
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
