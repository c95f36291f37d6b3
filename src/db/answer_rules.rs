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
    /// The keywords; unreadable JSON is an error naming the rule.
    pub fn keywords(&self) -> Result<Vec<String>, DbError> {
        super::stored_json("answer_rules", &self.id, "keywords", &self.keywords)
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

/// Every rule of the company (switched off ones too), in order.
pub fn list(conn: &mut DbConn, company_id: &str) -> Result<Vec<AnswerRuleRow>, DbError> {
    Ok(answer_rules::table
        .filter(answer_rules::company_id.eq(company_id))
        .order((answer_rules::position.asc(), answer_rules::created_at.asc()))
        .select(AnswerRuleRow::as_select())
        .load(conn)?)
}

/// One rule of the company.
pub fn by_id(
    conn: &mut DbConn,
    company_id: &str,
    id: &str,
) -> Result<Option<AnswerRuleRow>, DbError> {
    Ok(answer_rules::table
        .find(id)
        .filter(answer_rules::company_id.eq(company_id))
        .select(AnswerRuleRow::as_select())
        .first(conn)
        .optional()?)
}

/// Change a rule of the company; false when it has no such rule.
pub fn update(
    conn: &mut DbConn,
    company_id: &str,
    id: &str,
    keywords: &[String],
    reply: &str,
    enabled: bool,
    position: i32,
) -> Result<bool, DbError> {
    let keywords = serde_json::to_string(keywords).map_err(|e| DbError::Corrupt(e.to_string()))?;
    let n = diesel::update(
        answer_rules::table
            .find(id)
            .filter(answer_rules::company_id.eq(company_id)),
    )
    .set((
        answer_rules::keywords.eq(keywords),
        answer_rules::reply.eq(reply),
        answer_rules::enabled.eq(enabled),
        answer_rules::position.eq(position),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Delete a rule of the company; false when it has no such rule.
pub fn delete(conn: &mut DbConn, company_id: &str, id: &str) -> Result<bool, DbError> {
    let n = diesel::delete(
        answer_rules::table
            .find(id)
            .filter(answer_rules::company_id.eq(company_id)),
    )
    .execute(conn)?;
    Ok(n == 1)
}
