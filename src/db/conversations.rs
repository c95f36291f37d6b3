//! Conversations, their messages (numbered per conversation) and their variables.
//!
//! A visitor has at most one open conversation (`closed_at IS NULL`), which a unique
//! partial index enforces. Messages carry a per-conversation `seq` that the real-time
//! channel uses as its event id, so a reconnecting widget resumes where it stopped.

use diesel::prelude::*;
use diesel::upsert::excluded;
use serde::{Deserialize, Serialize};

use super::schema::{conversations, messages, variables};
use super::{DbConn, DbError, new_id, stored_json};

/// Conversation states.
pub mod status {
    /// Between the visitor and the bot (or nobody yet).
    pub const BOT: &str = "bot";
    /// Handed to live chat, waiting in the Unassigned folder.
    pub const UNASSIGNED: &str = "unassigned";
    /// A rep took it.
    pub const ASSIGNED: &str = "assigned";
    /// Over; never reopened.
    pub const CLOSED: &str = "closed";
}

/// How a conversation ended besides a close.
pub mod outcome {
    /// Nobody took the chat before the live chat card's wait ended.
    pub const MISSED: &str = "missed";
}

/// Who wrote a message.
pub mod author {
    pub const VISITOR: &str = "visitor";
    pub const BOT: &str = "bot";
    pub const REP: &str = "rep";
    pub const SYSTEM: &str = "system";
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = conversations)]
pub struct Conversation {
    pub id: String,
    pub company_id: String,
    pub visitor_id: String,
    pub status: String,
    /// The playbook version the current flow runs on.
    pub playbook_version_id: Option<String>,
    /// The flow's state as JSON (see `chat::turn`).
    pub engine_state: String,
    pub assigned_to: Option<String>,
    /// The `seq` of the newest message.
    pub last_seq: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    /// Since when it waits in Unassigned (set while its status is `unassigned`).
    pub waiting_since: Option<i64>,
    /// When the current rep took it.
    pub assigned_at: Option<i64>,
    /// How it ended besides a close: `missed` when nobody took it in time.
    pub outcome: Option<String>,
    /// The team whose reps see it in Unassigned (none: every rep).
    pub team: Option<String>,
    /// The side panel as a rep edited it (JSON); none: prefilled from the variables.
    pub panel: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = messages)]
pub struct MessageRow {
    pub id: String,
    pub conversation_id: String,
    pub company_id: String,
    pub seq: i64,
    /// One of [`author`].
    pub author: String,
    /// The rep (`crm_users.id`) who wrote it, for rep messages.
    pub author_id: Option<String>,
    /// The text as written: rich-text source, never HTML.
    pub body: String,
    /// [`Payload`] as JSON.
    pub payload: String,
    pub created_at: i64,
}

impl MessageRow {
    /// The payload. Every loader of this module checks it ([`checked`]): a stored row with
    /// an unreadable payload is an error when read, so the empty payload here is reached
    /// only by a row built in code with bad JSON.
    pub fn payload(&self) -> Payload {
        serde_json::from_str(&self.payload).unwrap_or_default()
    }
}

/// Loaded messages whose payloads can be read; otherwise an error naming the message.
fn checked(rows: Vec<MessageRow>) -> Result<Vec<MessageRow>, DbError> {
    for m in &rows {
        stored_json::<Payload>("messages", &m.id, "payload", &m.payload)?;
    }
    Ok(rows)
}

/// What a message carries besides its text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Payload {
    /// The card that said it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect: Option<String>,
}

/// A message about to be stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewMessage {
    pub author: &'static str,
    pub author_id: Option<String>,
    pub body: String,
    pub payload: Payload,
}

/// The visitor's open conversation, if any.
pub fn open_for_visitor(
    conn: &mut DbConn,
    company_id: &str,
    visitor_id: &str,
) -> Result<Option<Conversation>, DbError> {
    Ok(conversations::table
        .filter(conversations::company_id.eq(company_id))
        .filter(conversations::visitor_id.eq(visitor_id))
        .filter(conversations::closed_at.is_null())
        .select(Conversation::as_select())
        .first(conn)
        .optional()?)
}

/// One conversation of the company.
pub fn get(conn: &mut DbConn, company_id: &str, id: &str) -> Result<Option<Conversation>, DbError> {
    Ok(conversations::table
        .find(id)
        .filter(conversations::company_id.eq(company_id))
        .select(Conversation::as_select())
        .first(conn)
        .optional()?)
}

/// The visitor's newest conversation closed at or after `since` (Unix ms), if any: the
/// widget may still show a chat a rep just closed.
pub fn recently_closed(
    conn: &mut DbConn,
    company_id: &str,
    visitor_id: &str,
    since: i64,
) -> Result<Option<Conversation>, DbError> {
    Ok(conversations::table
        .filter(conversations::company_id.eq(company_id))
        .filter(conversations::visitor_id.eq(visitor_id))
        .filter(conversations::closed_at.ge(since))
        .order(conversations::closed_at.desc())
        .select(Conversation::as_select())
        .first(conn)
        .optional()?)
}

/// The conversation a visitor's widget shows: the open one, else the newest closed at or
/// after `closed_since` (Unix ms), so a chat that just ended still shows how it ended.
pub fn current_for_visitor(
    conn: &mut DbConn,
    company_id: &str,
    visitor_id: &str,
    closed_since: i64,
) -> Result<Option<Conversation>, DbError> {
    match open_for_visitor(conn, company_id, visitor_id)? {
        Some(open) => Ok(Some(open)),
        None => recently_closed(conn, company_id, visitor_id, closed_since),
    }
}

/// Open a conversation. Fails with a unique violation when the visitor already has one
/// open (someone else opened it first).
pub fn create(
    conn: &mut DbConn,
    company_id: &str,
    visitor_id: &str,
    now: i64,
) -> Result<Conversation, DbError> {
    let conversation = Conversation {
        id: new_id(),
        company_id: company_id.to_owned(),
        visitor_id: visitor_id.to_owned(),
        status: status::BOT.to_owned(),
        playbook_version_id: None,
        engine_state: "{}".to_owned(),
        assigned_to: None,
        last_seq: 0,
        created_at: now,
        updated_at: now,
        closed_at: None,
        waiting_since: None,
        assigned_at: None,
        outcome: None,
        team: None,
        panel: None,
    };
    diesel::insert_into(conversations::table)
        .values(&conversation)
        .execute(conn)?;
    Ok(conversation)
}

/// Read a conversation for a change, locking its row until the transaction ends (the
/// no-op update takes the row lock on PostgreSQL; SQLite's write transaction already holds
/// the database lock), so two turns of one conversation never interleave.
pub fn lock(conn: &mut DbConn, company_id: &str, id: &str) -> Result<Conversation, DbError> {
    diesel::update(
        conversations::table
            .find(id)
            .filter(conversations::company_id.eq(company_id)),
    )
    .set(conversations::last_seq.eq(conversations::last_seq))
    .execute(conn)?;
    Ok(conversations::table
        .find(id)
        .filter(conversations::company_id.eq(company_id))
        .select(Conversation::as_select())
        .first(conn)?)
}

/// Lock these conversations (of any company) and read them, in one statement: for
/// update in id order on PostgreSQL, so two such lockers never wait on each other in a
/// circle; on SQLite the caller's write transaction already excludes every other writer.
pub fn lock_many(conn: &mut DbConn, ids: &[String]) -> Result<Vec<Conversation>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(match conn {
        // Backend-specific: row locks.
        DbConn::Pg(pg) => conversations::table
            .filter(conversations::id.eq_any(ids))
            .order(conversations::id.asc())
            .select(Conversation::as_select())
            .for_update()
            .load(pg)?,
        DbConn::Sqlite(_) => conversations::table
            .filter(conversations::id.eq_any(ids))
            .select(Conversation::as_select())
            .load(conn)?,
    })
}

/// Store the conversation's state columns (status, flow, state, last seq, times, the
/// assignment and the wait; the panel has its own writer).
pub fn save(conn: &mut DbConn, c: &Conversation) -> Result<(), DbError> {
    diesel::update(
        conversations::table
            .find(&c.id)
            .filter(conversations::company_id.eq(&c.company_id)),
    )
    .set((
        conversations::status.eq(&c.status),
        conversations::playbook_version_id.eq(&c.playbook_version_id),
        conversations::engine_state.eq(&c.engine_state),
        conversations::last_seq.eq(c.last_seq),
        conversations::updated_at.eq(c.updated_at),
        conversations::closed_at.eq(c.closed_at),
        conversations::assigned_to.eq(&c.assigned_to),
        conversations::waiting_since.eq(c.waiting_since),
        conversations::assigned_at.eq(c.assigned_at),
        conversations::outcome.eq(&c.outcome),
        conversations::team.eq(&c.team),
    ))
    .execute(conn)?;
    Ok(())
}

/// [`save`] for several conversations (of any company), in one statement: an update
/// joined to a list of the new values, one row per conversation.
pub fn save_many(conn: &mut DbConn, rows: &[Conversation]) -> Result<(), DbError> {
    use diesel::sql_types::{BigInt, Nullable, Text};
    const COLUMNS: usize = 13;
    // Well below both backends' limits on a statement's parameters.
    for chunk in rows.chunks(500) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let params: Vec<String> = (1..=COLUMNS)
                    .map(|k| format!("${}", i * COLUMNS + k))
                    .collect();
                format!("({})", params.join(", "))
            })
            .collect();
        // `UPDATE … FROM` and `$n` parameters read the same on both backends.
        let sql = format!(
            "WITH v (id, company_id, status, playbook_version_id, engine_state, last_seq, \
             updated_at, closed_at, assigned_to, waiting_since, assigned_at, outcome, team) \
             AS (VALUES {}) \
             UPDATE conversations SET status = v.status, \
             playbook_version_id = v.playbook_version_id, engine_state = v.engine_state, \
             last_seq = v.last_seq, updated_at = v.updated_at, closed_at = v.closed_at, \
             assigned_to = v.assigned_to, waiting_since = v.waiting_since, \
             assigned_at = v.assigned_at, outcome = v.outcome, team = v.team \
             FROM v WHERE conversations.id = v.id AND conversations.company_id = v.company_id",
            values.join(", ")
        );
        let mut query = diesel::sql_query(sql).into_boxed::<super::MultiBackend>();
        for c in chunk {
            query = query
                .bind::<Text, _>(&c.id)
                .bind::<Text, _>(&c.company_id)
                .bind::<Text, _>(&c.status)
                .bind::<Nullable<Text>, _>(&c.playbook_version_id)
                .bind::<Text, _>(&c.engine_state)
                .bind::<BigInt, _>(c.last_seq)
                .bind::<BigInt, _>(c.updated_at)
                .bind::<Nullable<BigInt>, _>(c.closed_at)
                .bind::<Nullable<Text>, _>(&c.assigned_to)
                .bind::<Nullable<BigInt>, _>(c.waiting_since)
                .bind::<Nullable<BigInt>, _>(c.assigned_at)
                .bind::<Nullable<Text>, _>(&c.outcome)
                .bind::<Nullable<Text>, _>(&c.team);
        }
        query.execute(conn)?;
    }
    Ok(())
}

/// Append a message with the conversation's next `seq` (kept in `c`; [`save`] stores it).
pub fn append(
    conn: &mut DbConn,
    c: &mut Conversation,
    message: NewMessage,
    now: i64,
) -> Result<MessageRow, DbError> {
    let row = next_message(c, message, now)?;
    insert_messages(conn, std::slice::from_ref(&row))?;
    Ok(row)
}

/// The row of a message with the conversation's next `seq` (kept in `c`), for
/// [`insert_messages`].
pub fn next_message(
    c: &mut Conversation,
    message: NewMessage,
    now: i64,
) -> Result<MessageRow, DbError> {
    c.last_seq += 1;
    c.updated_at = now;
    Ok(MessageRow {
        id: new_id(),
        conversation_id: c.id.clone(),
        company_id: c.company_id.clone(),
        seq: c.last_seq,
        author: message.author.to_owned(),
        author_id: message.author_id,
        body: message.body,
        payload: serde_json::to_string(&message.payload)
            .map_err(|e| DbError::Corrupt(e.to_string()))?,
        created_at: now,
    })
}

/// Store messages in one statement.
pub fn insert_messages(conn: &mut DbConn, rows: &[MessageRow]) -> Result<(), DbError> {
    if rows.is_empty() {
        return Ok(());
    }
    // Backend branch: diesel's multi-row insert is implemented per backend.
    match conn {
        DbConn::Sqlite(c) => diesel::insert_into(messages::table)
            .values(rows)
            .execute(c)?,
        DbConn::Pg(c) => diesel::insert_into(messages::table)
            .values(rows)
            .execute(c)?,
    };
    Ok(())
}

/// Messages with `seq > after`, oldest first, at most `limit`.
pub fn messages_after(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<MessageRow>, DbError> {
    messages_after_since(conn, company_id, conversation_id, after, i64::MIN, limit)
}

/// Messages with `seq > after` made at or after `since` (Unix ms), oldest first, at most
/// `limit`.
pub fn messages_after_since(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
    after: i64,
    since: i64,
    limit: i64,
) -> Result<Vec<MessageRow>, DbError> {
    checked(
        messages::table
            .filter(messages::company_id.eq(company_id))
            .filter(messages::conversation_id.eq(conversation_id))
            .filter(messages::seq.gt(after))
            .filter(messages::created_at.ge(since))
            .order(messages::seq.asc())
            .limit(limit)
            .select(MessageRow::as_select())
            .load(conn)?,
    )
}

/// The newest `limit` messages, oldest first.
pub fn latest_messages(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
    limit: i64,
) -> Result<Vec<MessageRow>, DbError> {
    let mut rows: Vec<MessageRow> = messages::table
        .filter(messages::company_id.eq(company_id))
        .filter(messages::conversation_id.eq(conversation_id))
        .order(messages::seq.desc())
        .limit(limit)
        .select(MessageRow::as_select())
        .load(conn)?;
    rows.reverse();
    checked(rows)
}

/// One message of the conversation.
pub fn message(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
    message_id: &str,
) -> Result<Option<MessageRow>, DbError> {
    let row = messages::table
        .find(message_id)
        .filter(messages::company_id.eq(company_id))
        .filter(messages::conversation_id.eq(conversation_id))
        .select(MessageRow::as_select())
        .first(conn)
        .optional()?;
    Ok(checked(row.into_iter().collect())?.pop())
}

/// The newest message not written by the visitor, if any.
pub fn last_reply(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
) -> Result<Option<MessageRow>, DbError> {
    let row = messages::table
        .filter(messages::company_id.eq(company_id))
        .filter(messages::conversation_id.eq(conversation_id))
        .filter(messages::author.ne(author::VISITOR))
        .order(messages::seq.desc())
        .select(MessageRow::as_select())
        .first(conn)
        .optional()?;
    Ok(checked(row.into_iter().collect())?.pop())
}

/// Store variables' values (JSON), each replacing the previous one: `(path, value)` in
/// the order they were set (the last value of a path wins). One multi-row upsert on
/// PostgreSQL; one statement per variable on SQLite, where a statement is no round trip.
pub fn set_variables(
    conn: &mut DbConn,
    conversation_id: &str,
    values: &[(String, serde_json::Value)],
    now: i64,
) -> Result<(), DbError> {
    // One row per path, its last value: an upsert may not touch a row twice.
    let mut last: std::collections::BTreeMap<&str, String> = Default::default();
    for (path, value) in values {
        last.insert(path.as_str(), value.to_string());
    }
    if last.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = last
        .iter()
        .map(|(path, value)| {
            (
                variables::conversation_id.eq(conversation_id),
                variables::path.eq(*path),
                variables::value.eq(value.as_str()),
                variables::updated_at.eq(now),
            )
        })
        .collect();
    // The same upsert of some rows, whatever holds them.
    macro_rules! upsert {
        ($values:expr) => {
            diesel::insert_into(variables::table)
                .values($values)
                .on_conflict((variables::conversation_id, variables::path))
                .do_update()
                .set((
                    variables::value.eq(excluded(variables::value)),
                    variables::updated_at.eq(excluded(variables::updated_at)),
                ))
        };
    }
    // Backend branch: diesel's upsert is implemented per backend, not for the enum, and
    // for SQLite one row at a time.
    match conn {
        DbConn::Sqlite(c) => {
            for row in &rows {
                upsert!(*row).execute(c)?;
            }
        }
        DbConn::Pg(c) => {
            upsert!(&rows).execute(c)?;
        }
    }
    Ok(())
}

/// Every variable of the company's conversation, by path.
pub fn variables(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
) -> Result<Vec<(String, serde_json::Value)>, DbError> {
    let rows: Vec<(String, String)> = variables::table
        .inner_join(conversations::table)
        .filter(variables::conversation_id.eq(conversation_id))
        .filter(conversations::company_id.eq(company_id))
        .order(variables::path.asc())
        .select((variables::path, variables::value))
        .load(conn)?;
    rows.into_iter()
        .map(|(path, value)| {
            // A variable's row is named by its conversation and path.
            let row = format!("{conversation_id} {path}");
            let value = stored_json("variables", &row, "value", &value)?;
            Ok((path, value))
        })
        .collect()
}
