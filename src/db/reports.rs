//! What the reports read besides the daily roll-ups: the captures of a playbook's
//! conversations and whether the CRM confirmed them, the CRM's later outcomes, the
//! conversations that stopped answering, and the chats reps took. Filters by version and
//! audience are applied by `reports::compute` on these (few) rows.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text};

use super::analytics::kind;
use super::{DbConn, DbError};

/// A capture of a conversation of the report (one row per conversation that queued one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureRow {
    pub conversation_id: String,
    pub version: i32,
    pub known: bool,
    pub returning: bool,
    /// When the capture was queued (Unix ms).
    pub at: i64,
    /// The CRM confirmed the lead or deal (its id is stored).
    pub confirmed: bool,
}

/// What the CRM said later about a deal a conversation created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRow {
    pub conversation_id: String,
    pub status: String,
    pub value_cents: i64,
    pub currency: String,
}

/// A conversation that stopped answering: where its flow waits, and its audience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoppedRow {
    pub card: String,
    pub version: i32,
    pub known: bool,
    pub returning: bool,
}

/// A chat a rep took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakeRow {
    pub rep_id: String,
    pub rep_name: String,
    pub version: i32,
    pub known: bool,
    pub returning: bool,
    /// From the hand-off until the rep took the chat.
    pub waited_ms: i64,
    /// From the hand-off until the rep's first message, if they wrote one.
    pub first_response_ms: Option<i64>,
}

/// A playbook and a time range `[from_ms, to_ms)`.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub company_id: &'a str,
    pub playbook_id: &'a str,
    pub from_ms: i64,
    pub to_ms: i64,
}

#[derive(QueryableByName)]
struct CaptureSql {
    #[diesel(sql_type = Text)]
    conversation_id: String,
    #[diesel(sql_type = Nullable<Integer>)]
    version: Option<i32>,
    #[diesel(sql_type = Bool)]
    visitor_known: bool,
    #[diesel(sql_type = Bool)]
    visitor_returning: bool,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
    #[diesel(sql_type = Bool)]
    confirmed: bool,
}

/// The playbook's conversions in the range: one row per conversation with a capture, and
/// whether one of its captures has the CRM id of a lead or deal (the CRM confirmed it).
pub fn captures(conn: &mut DbConn, s: Scope<'_>) -> Result<Vec<CaptureRow>, DbError> {
    // `$n` placeholders are read by both backends. SQLite numbers them in the order they
    // first appear, so in every query here `$1`, `$2`, … first appear in that order.
    let sql = "SELECT e.conversation_id, e.version, e.visitor_known, e.visitor_returning, \
                      e.created_at, \
                      EXISTS (SELECT 1 FROM outbox o WHERE o.conversation_id = e.conversation_id \
                              AND o.kind = 'capture' AND o.company_id = $1 \
                              AND (o.result LIKE '%\"lead_id\"%' OR o.result LIKE '%\"deal_id\"%')) \
                        AS confirmed \
               FROM analytics_events e \
               WHERE e.playbook_id = $2 AND e.kind = $3 AND e.company_id = $1 \
                 AND e.created_at >= $4 AND e.created_at < $5 \
                 AND e.conversation_id IS NOT NULL";
    let rows: Vec<CaptureSql> = diesel::sql_query(sql)
        .bind::<Text, _>(s.company_id)
        .bind::<Text, _>(s.playbook_id)
        .bind::<Text, _>(kind::CONVERTED)
        .bind::<BigInt, _>(s.from_ms)
        .bind::<BigInt, _>(s.to_ms)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| CaptureRow {
            conversation_id: r.conversation_id,
            version: r.version.unwrap_or(0),
            known: r.visitor_known,
            returning: r.visitor_returning,
            at: r.created_at,
            confirmed: r.confirmed,
        })
        .collect())
}

#[derive(QueryableByName)]
struct OutcomeSql {
    #[diesel(sql_type = Text)]
    conversation_id: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    value_cents: i64,
    #[diesel(sql_type = Text)]
    currency: String,
}

/// What the CRM said about the deals of the playbook's conversions in the range.
pub fn outcomes(conn: &mut DbConn, s: Scope<'_>) -> Result<Vec<OutcomeRow>, DbError> {
    let sql = "SELECT o.conversation_id, o.status, o.value_cents, o.currency \
               FROM crm_outcomes o \
               WHERE o.company_id = $1 AND o.conversation_id IN ( \
                   SELECT e.conversation_id FROM analytics_events e \
                   WHERE e.playbook_id = $2 AND e.kind = $3 AND e.company_id = $1 \
                     AND e.created_at >= $4 AND e.created_at < $5)";
    let rows: Vec<OutcomeSql> = diesel::sql_query(sql)
        .bind::<Text, _>(s.company_id)
        .bind::<Text, _>(s.playbook_id)
        .bind::<Text, _>(kind::CONVERTED)
        .bind::<BigInt, _>(s.from_ms)
        .bind::<BigInt, _>(s.to_ms)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| OutcomeRow {
            conversation_id: r.conversation_id,
            status: r.status,
            value_cents: r.value_cents,
            currency: r.currency,
        })
        .collect())
}

#[derive(QueryableByName)]
struct StoppedSql {
    #[diesel(sql_type = Text)]
    engine_state: String,
    #[diesel(sql_type = Integer)]
    version: i32,
    #[diesel(sql_type = Bool)]
    known: bool,
    #[diesel(sql_type = Integer)]
    visits: i32,
}

/// The playbook's conversations started in the range whose flow still waits for the
/// visitor, untouched since `idle_before` (Unix ms): where each stopped.
pub fn stopped(
    conn: &mut DbConn,
    s: Scope<'_>,
    idle_before: i64,
) -> Result<Vec<StoppedRow>, DbError> {
    let sql = "SELECT c.engine_state, v.version, vis.known, vis.visits \
               FROM conversations c \
               JOIN playbook_versions v ON v.id = c.playbook_version_id \
               JOIN visitors vis ON vis.id = c.visitor_id \
               WHERE c.company_id = $1 AND v.playbook_id = $2 \
                 AND c.updated_at < $3 AND c.created_at >= $4 AND c.created_at < $5 \
                 AND c.engine_state LIKE '%\"phase\":\"awaiting_input\"%'";
    let rows: Vec<StoppedSql> = diesel::sql_query(sql)
        .bind::<Text, _>(s.company_id)
        .bind::<Text, _>(s.playbook_id)
        .bind::<BigInt, _>(idle_before)
        .bind::<BigInt, _>(s.from_ms)
        .bind::<BigInt, _>(s.to_ms)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            // `conversations.engine_state` is `{"state": {"at": CARD, ...}, ...}`.
            let flow: serde_json::Value = serde_json::from_str(&r.engine_state).ok()?;
            Some(StoppedRow {
                card: flow.pointer("/state/at")?.as_str()?.to_owned(),
                version: r.version,
                known: r.known,
                returning: r.visits > 1,
            })
        })
        .collect())
}

#[derive(QueryableByName)]
struct TakeSql {
    #[diesel(sql_type = Text)]
    rep_id: String,
    #[diesel(sql_type = Text)]
    rep_name: String,
    #[diesel(sql_type = Integer)]
    version: i32,
    #[diesel(sql_type = Bool)]
    known: bool,
    #[diesel(sql_type = Integer)]
    visits: i32,
    #[diesel(sql_type = BigInt)]
    waited_ms: i64,
    #[diesel(sql_type = BigInt)]
    handed_off_at: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    first_rep_message_at: Option<i64>,
}

/// The chats of the playbook's conversations that reps took in the range, with the time
/// of each rep's first message after the hand-off.
pub fn takes(conn: &mut DbConn, s: Scope<'_>) -> Result<Vec<TakeRow>, DbError> {
    let sql = "SELECT t.crm_user_id AS rep_id, u.name AS rep_name, v.version, vis.known, \
                      vis.visits, t.waited_ms, t.taken_at - t.waited_ms AS handed_off_at, \
                      (SELECT MIN(m.created_at) FROM messages m \
                       WHERE m.conversation_id = t.conversation_id AND m.author = 'rep' \
                         AND m.created_at >= t.taken_at - t.waited_ms) AS first_rep_message_at \
               FROM chat_takes t \
               JOIN conversations c ON c.id = t.conversation_id \
               JOIN playbook_versions v ON v.id = c.playbook_version_id \
               JOIN visitors vis ON vis.id = c.visitor_id \
               JOIN crm_users u ON u.id = t.crm_user_id \
               WHERE t.company_id = $1 AND v.playbook_id = $2 \
                 AND t.taken_at >= $3 AND t.taken_at < $4";
    let rows: Vec<TakeSql> = diesel::sql_query(sql)
        .bind::<Text, _>(s.company_id)
        .bind::<Text, _>(s.playbook_id)
        .bind::<BigInt, _>(s.from_ms)
        .bind::<BigInt, _>(s.to_ms)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| TakeRow {
            rep_id: r.rep_id,
            rep_name: r.rep_name,
            version: r.version,
            known: r.known,
            returning: r.visits > 1,
            waited_ms: r.waited_ms,
            first_response_ms: r.first_rep_message_at.map(|at| at - r.handed_off_at),
        })
        .collect())
}
