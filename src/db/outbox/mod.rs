//! The outbox: CRM writes and e-mails recorded in the same transaction as the state change
//! that caused them, delivered later by a worker. A row is never deleted while pending.
//! Every query of the table is here: writing and reading rows (this module) and the
//! workers' claims, leases, outcomes and the sync log ([`store`]).

pub mod store;

use diesel::prelude::*;

use super::schema::outbox;
use super::{DbConn, DbError, new_id, rollup};

/// What a row asks for. The payload's shape depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A capture card's writes: `playbook::effect::CrmWrite` as JSON. The worker creates
    /// organization and person, then the lead or deal, then the activity and the note,
    /// keeping every created CRM id in `result`.
    Capture,
    /// `playbook::effect::Email` as JSON.
    Email,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Capture => "capture",
            Kind::Email => "email",
        }
    }
}

/// Row states.
pub mod status {
    pub const PENDING: &str = "pending";
    pub const DONE: &str = "done";
    /// Permanently refused; kept for the sync log and its retry button.
    pub const FAILED: &str = "failed";
    /// Stopped by an uninstall; never delivered.
    pub const CANCELLED: &str = "cancelled";
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: String,
    pub company_id: String,
    pub conversation_id: Option<String>,
    pub kind: String,
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub locked_until: Option<i64>,
    /// JSON: what has been done so far (created CRM ids).
    pub result: Option<String>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Record a pending row, due now. Call inside the transaction of the change that causes it.
pub fn enqueue(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: Option<&str>,
    kind: Kind,
    payload: &serde_json::Value,
    now: i64,
) -> Result<OutboxRow, DbError> {
    let row = OutboxRow {
        id: new_id(),
        company_id: company_id.to_owned(),
        conversation_id: conversation_id.map(str::to_owned),
        kind: kind.as_str().to_owned(),
        payload: payload.to_string(),
        status: status::PENDING.to_owned(),
        attempts: 0,
        next_attempt_at: now,
        locked_until: None,
        result: None,
        last_error: None,
        created_at: now,
        updated_at: now,
    };
    diesel::insert_into(outbox::table)
        .values(&row)
        .execute(conn)?;
    Ok(row)
}

/// The company's rows, newest first.
pub fn for_company(
    conn: &mut DbConn,
    company_id: &str,
    limit: i64,
) -> Result<Vec<OutboxRow>, DbError> {
    Ok(outbox::table
        .filter(outbox::company_id.eq(company_id))
        .order(outbox::created_at.desc())
        .limit(limit)
        .select(OutboxRow::as_select())
        .load(conn)?)
}

/// Set a row's `result` (the progress a delivery starts from). A capture's progress that
/// names a lead or deal notes its conversation's conversion ([`rollup::confirm`]): call
/// it inside a write transaction.
pub fn set_result(
    conn: &mut DbConn,
    company_id: &str,
    id: &str,
    result: &str,
) -> Result<(), DbError> {
    let n = diesel::update(
        outbox::table
            .find(id)
            .filter(outbox::company_id.eq(company_id)),
    )
    .set(outbox::result.eq(Some(result)))
    .execute(conn)?;
    if n == 1 {
        note_confirmation(conn, id, result, super::now_ms())?;
    }
    Ok(())
}

/// After `result` was stored on row `id`: when it is a capture whose progress names the
/// lead or deal the CRM made, note its conversation's conversion for the reports.
pub(crate) fn note_confirmation(
    conn: &mut DbConn,
    id: &str,
    result: &str,
    now: i64,
) -> Result<(), DbError> {
    if !rollup::names_a_record(result) {
        return Ok(());
    }
    let row: Option<(String, String, Option<String>)> = outbox::table
        .find(id)
        .select((outbox::kind, outbox::company_id, outbox::conversation_id))
        .first(conn)
        .optional()?;
    if let Some((kind, company_id, Some(conversation_id))) = row
        && kind == Kind::Capture.as_str()
    {
        rollup::confirm(conn, &company_id, &conversation_id, now)?;
    }
    Ok(())
}

/// One row of the company.
pub fn get(conn: &mut DbConn, company_id: &str, id: &str) -> Result<Option<OutboxRow>, DbError> {
    Ok(outbox::table
        .find(id)
        .filter(outbox::company_id.eq(company_id))
        .select(OutboxRow::as_select())
        .first(conn)
        .optional()?)
}
