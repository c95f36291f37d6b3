//! Durable timers (the live chat wait): rows with a due time, armed and cancelled in the
//! transaction of the engine step that asks for it, fired later by a worker.

use diesel::prelude::*;

use super::schema::timers;
use super::{DbConn, DbError, new_id};

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
