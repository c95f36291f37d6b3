//! What the reports read besides the daily roll-ups (`db::analytics::rollup`): the CRM's
//! outcomes of the deals a playbook's conversations created and the cards those
//! conversations reached, the conversations that stopped answering (through the partial
//! index of waiting conversations), and the names of the reps the roll-ups name. Every row
//! carries the version and audience of an event recorded when it happened (never the
//! visitor's flags of today); filters by version and audience are applied by
//! `reports::compute` on these (few) rows.

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

/// What the CRM said about a lead a conversation of the report created (one of
/// `db::outcomes::lead_status`), with the version and audience of its conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadRow {
    pub status: String,
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
/// its conversation's converted event ([`joined_to_conversion`]).
pub fn outcomes(conn: &mut DbConn, s: Scope<'_>) -> Result<Vec<OutcomeRow>, DbError> {
    let rows: Vec<OutcomeSql> = joined_to_conversion(
        conn,
        s,
        "o.conversation_id, o.status, o.value_cents, o.currency",
        "crm_outcomes",
    )?;
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

#[derive(QueryableByName)]
struct LeadSql {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Integer>)]
    version: Option<i32>,
    #[diesel(sql_type = Bool)]
    visitor_known: bool,
    #[diesel(sql_type = Bool)]
    visitor_returning: bool,
}

/// What the CRM said about the leads of the playbook's conversions in the range, read as
/// [`outcomes`] reads the deals ([`joined_to_conversion`]).
pub fn leads(conn: &mut DbConn, s: Scope<'_>) -> Result<Vec<LeadRow>, DbError> {
    let rows: Vec<LeadSql> = joined_to_conversion(conn, s, "o.status", "crm_lead_outcomes")?;
    Ok(rows
        .into_iter()
        .map(|r| LeadRow {
            status: r.status,
            version: r.version.unwrap_or(0),
            known: r.visitor_known,
            returning: r.visitor_returning,
        })
        .collect())
}

/// `columns` of the company's rows of `table` (one per deal or lead, as `o`), each with the
/// version and audience of its conversation's converted event in the playbook and range.
/// `CROSS JOIN` keeps that order on SQLite, and `playbook_id || ''` keeps SQLite from
/// reading each row's event through the playbook's index (every conversion of the range)
/// instead of the conversation's.
fn joined_to_conversion<T>(
    conn: &mut DbConn,
    s: Scope<'_>,
    columns: &str,
    table: &str,
) -> Result<Vec<T>, DbError>
where
    T: QueryableByName<<DbConn as diesel::Connection>::Backend> + 'static,
{
    // `$n` placeholders are read by both backends. SQLite numbers them in the order they
    // first appear, so in every query here `$1`, `$2`, … first appear in that order.
    let sql = format!(
        "SELECT {columns}, e.version, e.visitor_known, e.visitor_returning \
         FROM {table} o CROSS JOIN analytics_events e \
         WHERE o.company_id = $1 AND e.conversation_id = o.conversation_id \
           AND e.playbook_id || '' = $2 AND e.kind = $3 AND e.company_id = $1 \
           AND e.created_at >= $4 AND e.created_at < $5"
    );
    Ok(diesel::sql_query(sql)
        .bind::<Text, _>(s.company_id)
        .bind::<Text, _>(s.playbook_id)
        .bind::<Text, _>(kind::CONVERTED)
        .bind::<BigInt, _>(s.from_ms)
        .bind::<BigInt, _>(s.to_ms)
        .load(conn)?)
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
}

/// The playbook's conversations started in the range whose flow still waits for the
/// visitor, untouched since `idle_before` (Unix ms): where each stopped, with the version
/// and audience of the last card it reached (the `reached` event recorded then).
pub fn stopped(
    conn: &mut DbConn,
    s: Scope<'_>,
    idle_before: i64,
) -> Result<Vec<StoppedRow>, DbError> {
    use super::schema::analytics_events as e;
    let sql = "SELECT c.id, c.engine_state \
               FROM conversations c \
               JOIN playbook_versions v ON v.id = c.playbook_version_id \
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
    let mut waiting: Vec<(String, String)> = Vec::with_capacity(rows.len());
    for r in rows {
        // `conversations.engine_state` is `{"state": {"at": CARD, ...}, ...}`.
        let flow: serde_json::Value =
            super::stored_json("conversations", &r.id, "engine_state", &r.engine_state)?;
        if let Some(card) = flow.pointer("/state/at").and_then(|at| at.as_str()) {
            waiting.push((r.id, card.to_owned()));
        }
    }
    let mut out = Vec::with_capacity(waiting.len());
    for chunk in waiting.chunks(500) {
        let ids: Vec<&str> = chunk.iter().map(|(id, _)| id.as_str()).collect();
        // The last card each reached, newest last; the playbook compared here and the
        // company through `|| ''` so SQLite reads the conversations' index.
        type Reached = (Option<String>, Option<String>, Option<i32>, bool, bool);
        let reached: Vec<Reached> = e::table
            .filter(e::conversation_id.eq_any(&ids))
            .filter(e::kind.eq(kind::REACHED))
            .filter(e::company_id.concat("").eq(s.company_id))
            .order((e::conversation_id, e::created_at, e::id))
            .select((
                e::conversation_id,
                e::playbook_id,
                e::version,
                e::visitor_known,
                e::visitor_returning,
            ))
            .load(conn)?;
        for (id, card) in chunk {
            let last = reached
                .iter()
                .rev()
                .find(|r| r.0.as_deref() == Some(id) && r.1.as_deref() == Some(s.playbook_id));
            // A flow with no card reached was never shown: it counts nowhere.
            if let Some((_, _, version, known, returning)) = last {
                out.push(StoppedRow {
                    card: card.clone(),
                    version: version.unwrap_or(0),
                    known: *known,
                    returning: *returning,
                });
            }
        }
    }
    Ok(out)
}

/// `(id, name)` of these reps of the company: the roll-ups name a rep by the CRM's user id
/// (`crm_users.crm_user_id`, written in decimal), which an uninstall and a new install
/// keep. An id that is no CRM user id, or a user the CRM no longer lists, gets no name.
pub fn rep_names(
    conn: &mut DbConn,
    company_id: &str,
    ids: &[&str],
) -> Result<Vec<(String, String)>, DbError> {
    use super::schema::crm_users as u;
    let crm_ids: Vec<i64> = ids.iter().filter_map(|id| id.parse().ok()).collect();
    let mut out = Vec::with_capacity(crm_ids.len());
    for chunk in crm_ids.chunks(500) {
        let found: Vec<(i64, String)> = u::table
            .filter(u::company_id.eq(company_id))
            .filter(u::crm_user_id.eq_any(chunk))
            .select((u::crm_user_id, u::name))
            .load(conn)?;
        out.extend(found.into_iter().map(|(id, name)| (id.to_string(), name)));
    }
    Ok(out)
}
