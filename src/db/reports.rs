//! What the reports read besides the daily roll-ups (`db::analytics::rollup`): the CRM's outcomes of
//! the deals a playbook's conversations created and the cards those conversations
//! reached, the conversations that stopped answering (through the partial index of
//! waiting conversations), and the chats reps took. Filters by version and audience are
//! applied by `reports::compute` on these (few) rows.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text};

use super::analytics::kind;
use super::{DbConn, DbError};

/// What the CRM said later about a deal a conversation of the report created, with the
/// version and audience of its conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRow {
    pub conversation_id: String,
    pub status: String,
    pub value_cents: i64,
    pub currency: String,
    pub version: i32,
    pub known: bool,
    pub returning: bool,
}

/// The cards a conversation reached in a playbook, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRow {
    pub conversation_id: String,
    pub cards: Vec<String>,
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
struct OutcomeSql {
    #[diesel(sql_type = Text)]
    conversation_id: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    value_cents: i64,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Nullable<Integer>)]
    version: Option<i32>,
    #[diesel(sql_type = Bool)]
    visitor_known: bool,
    #[diesel(sql_type = Bool)]
    visitor_returning: bool,
}

/// What the CRM said about the deals of the playbook's conversions in the range. Read
/// from the company's outcomes (one row per deal, few beside the events), each joined to
/// its conversation's converted event: `CROSS JOIN` keeps that order on SQLite, and
/// `playbook_id || ''` keeps SQLite from reading each deal's event through the playbook's
/// index (every conversion of the range) instead of the conversation's.
pub fn outcomes(conn: &mut DbConn, s: Scope<'_>) -> Result<Vec<OutcomeRow>, DbError> {
    // `$n` placeholders are read by both backends. SQLite numbers them in the order they
    // first appear, so in every query here `$1`, `$2`, … first appear in that order.
    let sql = "SELECT o.conversation_id, o.status, o.value_cents, o.currency, e.version, \
                      e.visitor_known, e.visitor_returning \
               FROM crm_outcomes o CROSS JOIN analytics_events e \
               WHERE o.company_id = $1 AND e.conversation_id = o.conversation_id \
                 AND e.playbook_id || '' = $2 AND e.kind = $3 AND e.company_id = $1 \
                 AND e.created_at >= $4 AND e.created_at < $5";
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
            version: r.version.unwrap_or(0),
            known: r.visitor_known,
            returning: r.visitor_returning,
        })
        .collect())
}

/// The cards each of these conversations reached in the playbook, in the order reached.
pub fn paths(
    conn: &mut DbConn,
    s: Scope<'_>,
    conversation_ids: &[&str],
) -> Result<Vec<PathRow>, DbError> {
    use super::schema::analytics_events as e;
    let mut out: Vec<PathRow> = Vec::new();
    for chunk in conversation_ids.chunks(500) {
        // The playbook is compared here, not in SQL, and the company through `|| ''`, so
        // the conversations' index is the one SQLite reads (not every event of the
        // playbook or the company).
        let reached: Vec<(Option<String>, Option<String>, Option<String>)> = e::table
            .filter(e::conversation_id.eq_any(chunk))
            .filter(e::kind.eq(kind::REACHED))
            .filter(e::company_id.concat("").eq(s.company_id))
            .order((e::conversation_id, e::created_at, e::id))
            .select((e::conversation_id, e::card, e::playbook_id))
            .load(conn)?;
        for (conversation, card, playbook) in reached {
            let (Some(conversation), Some(card)) = (conversation, card) else {
                continue;
            };
            if playbook.as_deref() != Some(s.playbook_id) {
                continue;
            }
            match out.last_mut() {
                Some(p) if p.conversation_id == conversation => p.cards.push(card),
                _ => out.push(PathRow {
                    conversation_id: conversation,
                    cards: vec![card],
                }),
            }
        }
    }
    Ok(out)
}

#[derive(QueryableByName)]
struct StoppedSql {
    #[diesel(sql_type = Text)]
    id: String,
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
    let sql = "SELECT c.id, c.engine_state, v.version, vis.known, vis.visits \
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
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        // `conversations.engine_state` is `{"state": {"at": CARD, ...}, ...}`.
        let flow: serde_json::Value =
            super::stored_json("conversations", &r.id, "engine_state", &r.engine_state)?;
        if let Some(card) = flow.pointer("/state/at").and_then(|at| at.as_str()) {
            out.push(StoppedRow {
                card: card.to_owned(),
                version: r.version,
                known: r.known,
                returning: r.visits > 1,
            });
        }
    }
    Ok(out)
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
