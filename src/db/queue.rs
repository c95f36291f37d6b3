//! The queries of the live chat queue: the waiting chats, the take history the expected
//! wait is learned from, and the wait timers that bound it.

use std::collections::HashMap;

use diesel::prelude::*;

use super::conversations::status;
use super::schema::{chat_takes, conversations};
use super::{DbConn, DbError};

/// The company's waiting chats, longest waiting first: (id, waiting since).
pub fn waiting(conn: &mut DbConn, company_id: &str) -> Result<Vec<(String, i64)>, DbError> {
    let rows: Vec<(String, Option<i64>, i64)> = conversations::table
        .filter(conversations::company_id.eq(company_id))
        .filter(conversations::status.eq(status::UNASSIGNED))
        .order((
            conversations::waiting_since.asc(),
            conversations::created_at.asc(),
        ))
        .select((
            conversations::id,
            conversations::waiting_since,
            conversations::created_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, since, created)| (id, since.unwrap_or(created)))
        .collect())
}

/// Of these chats, the company's waiting ones: (id, waiting since).
pub fn waiting_among(
    conn: &mut DbConn,
    company_id: &str,
    ids: &[String],
) -> Result<Vec<(String, i64)>, DbError> {
    let rows: Vec<(String, Option<i64>, i64)> = conversations::table
        .filter(conversations::company_id.eq(company_id))
        .filter(conversations::status.eq(status::UNASSIGNED))
        .filter(conversations::id.eq_any(ids))
        .select((
            conversations::id,
            conversations::waiting_since,
            conversations::created_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, since, created)| (id, since.unwrap_or(created)))
        .collect())
}

/// Since when each of the company's waiting chats waits, earliest first.
pub fn waiting_times(conn: &mut DbConn, company_id: &str) -> Result<Vec<i64>, DbError> {
    let rows: Vec<(Option<i64>, i64)> = conversations::table
        .filter(conversations::company_id.eq(company_id))
        .filter(conversations::status.eq(status::UNASSIGNED))
        .select((conversations::waiting_since, conversations::created_at))
        .load(conn)?;
    let mut times: Vec<i64> = rows
        .into_iter()
        .map(|(since, created)| since.unwrap_or(created))
        .collect();
    times.sort_unstable();
    Ok(times)
}

/// How long chats waited before one of `reps` took them, since `since`, newest first (at
/// most `limit`).
pub fn recent_takes(
    conn: &mut DbConn,
    company_id: &str,
    reps: &[String],
    since: i64,
    limit: i64,
) -> Result<Vec<i64>, DbError> {
    if reps.is_empty() {
        return Ok(Vec::new());
    }
    Ok(chat_takes::table
        .filter(chat_takes::company_id.eq(company_id))
        .filter(chat_takes::crm_user_id.eq_any(reps))
        .filter(chat_takes::taken_at.ge(since))
        .order(chat_takes::taken_at.desc())
        .limit(limit)
        .select(chat_takes::waited_ms)
        .load(conn)?)
}

/// When the armed live chat wait timers of the company's conversations are due.
pub fn wait_dues(
    conn: &mut DbConn,
    company_id: &str,
    among: Option<&[String]>,
) -> Result<HashMap<String, i64>, DbError> {
    use super::schema::timers;
    let mut query = timers::table
        .filter(timers::company_id.eq(company_id))
        .filter(timers::kind.eq("live_chat_wait"))
        .filter(timers::status.eq("armed"))
        .into_boxed();
    if let Some(ids) = among {
        query = query.filter(timers::conversation_id.eq_any(ids.to_vec()));
    }
    let rows: Vec<(String, i64)> = query
        .select((timers::conversation_id, timers::due_at))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}
