//! Read-only views of conversations for the CRM note and the inbox list.

use diesel::prelude::*;

use super::schema::{conversations, messages, visitors};
use super::{DbConn, DbError};

/// One line of a transcript.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Line {
    /// `visitor`, `bot`, `rep` or `system`.
    pub author: String,
    /// As written: rich-text source, never HTML.
    pub body: String,
    pub created_at: i64,
}

/// The messages of one conversation of the company, in order. Empty when the
/// conversation is gone or belongs to another company.
pub fn lines(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
) -> Result<Vec<Line>, DbError> {
    Ok(messages::table
        .filter(messages::company_id.eq(company_id))
        .filter(messages::conversation_id.eq(conversation_id))
        .order(messages::seq.asc())
        .select((messages::author, messages::body, messages::created_at))
        .load(conn)?)
}

/// A row of the inbox list.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct OpenConversation {
    pub id: String,
    pub status: String,
    pub visitor_name: Option<String>,
    pub visitor_email: Option<String>,
    pub updated_at: i64,
}

/// The company's open conversations, most recently active first.
pub fn open_conversations(
    conn: &mut DbConn,
    company_id: &str,
    limit: i64,
) -> Result<Vec<OpenConversation>, DbError> {
    Ok(conversations::table
        .inner_join(visitors::table)
        .filter(conversations::company_id.eq(company_id))
        .filter(visitors::company_id.eq(company_id))
        .filter(conversations::closed_at.is_null())
        .order(conversations::updated_at.desc())
        .limit(limit)
        .select((
            conversations::id,
            conversations::status,
            visitors::name,
            visitors::email,
            conversations::updated_at,
        ))
        .load(conn)?)
}
