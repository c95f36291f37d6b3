//! Answer rules: keyword(s) → one reply, per company, checked in `position` order.

use diesel::prelude::*;

use super::schema::answer_rules;
use super::{DbConn, DbError, new_id, now_ms};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = answer_rules)]
pub struct AnswerRuleRow {
    pub id: String,
    pub company_id: String,
    /// The keywords as a JSON list of texts.
    pub keywords: String,
    /// Rich-text source.
    pub reply: String,
    pub position: i32,
    pub enabled: bool,
    pub created_at: i64,
}

impl AnswerRuleRow {
    /// The keywords (none when the stored JSON is unreadable).
    pub fn keywords(&self) -> Vec<String> {
        serde_json::from_str(&self.keywords).unwrap_or_default()
    }
}

/// Add a rule after the company's others.
pub fn create(
    conn: &mut DbConn,
    company_id: &str,
    keywords: &[String],
    reply: &str,
) -> Result<AnswerRuleRow, DbError> {
    let last: Option<i32> = answer_rules::table
        .filter(answer_rules::company_id.eq(company_id))
        .select(diesel::dsl::max(answer_rules::position))
        .first(conn)?;
    let row = AnswerRuleRow {
        id: new_id(),
        company_id: company_id.to_owned(),
        keywords: serde_json::to_string(keywords).map_err(|e| DbError::Corrupt(e.to_string()))?,
        reply: reply.to_owned(),
        position: last.map_or(0, |p| p + 1),
        enabled: true,
        created_at: now_ms(),
    };
    diesel::insert_into(answer_rules::table)
        .values(&row)
        .execute(conn)?;
    Ok(row)
}

/// The company's enabled rules, in order.
pub fn enabled(conn: &mut DbConn, company_id: &str) -> Result<Vec<AnswerRuleRow>, DbError> {
    Ok(answer_rules::table
        .filter(answer_rules::company_id.eq(company_id))
        .filter(answer_rules::enabled.eq(true))
        .order((answer_rules::position.asc(), answer_rules::created_at.asc()))
        .select(AnswerRuleRow::as_select())
        .load(conn)?)
}
