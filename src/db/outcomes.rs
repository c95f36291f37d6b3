//! What the CRM later said about the deals our captures created: won, lost or still open,
//! and their value, one row per deal, against the conversation whose capture created the
//! deal (or the lead the deal was converted from).

use diesel::prelude::*;

use super::schema::{crm_outcomes, outbox};
use super::{DbConn, DbError, new_id};

/// Deal statuses as Pipedrive names them.
pub mod status {
    pub const OPEN: &str = "open";
    pub const WON: &str = "won";
    pub const LOST: &str = "lost";
}

/// What the CRM said about one deal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DealNews<'a> {
    pub deal_id: i64,
    /// The lead the deal was converted from, if it was.
    pub lead_id: Option<&'a str>,
    pub status: &'a str,
    pub value_cents: i64,
    pub currency: &'a str,
}

/// The conversation whose capture created this deal, or the lead it came from: a deal
/// already recorded (a lead's deal is matched once, then known by its id), else the
/// capture rows' stored progress (`result` holds `"deal_id":N` or `"lead_id":"UUID"`).
pub fn conversation_of(
    conn: &mut DbConn,
    company_id: &str,
    deal_id: i64,
    lead_id: Option<&str>,
) -> Result<Option<String>, DbError> {
    let recorded: Option<String> = crm_outcomes::table
        .filter(crm_outcomes::company_id.eq(company_id))
        .filter(crm_outcomes::deal_id.eq(deal_id))
        .select(crm_outcomes::conversation_id)
        .first(conn)
        .optional()?;
    if recorded.is_some() {
        return Ok(recorded);
    }
    let mut patterns = vec![
        format!("%\"deal_id\":{deal_id}}}%"),
        format!("%\"deal_id\":{deal_id},%"),
    ];
    if let Some(lead) = lead_id {
        // A lead id is a UUID: no LIKE wildcard can be in it once checked.
        if lead.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            patterns.push(format!("%\"lead_id\":\"{lead}\"%"));
        }
    }
    for pattern in patterns {
        let found: Option<Option<String>> = outbox::table
            .filter(outbox::company_id.eq(company_id))
            .filter(outbox::kind.eq("capture"))
            .filter(outbox::result.like(pattern))
            .filter(outbox::conversation_id.is_not_null())
            .select(outbox::conversation_id)
            .first(conn)
            .optional()?;
        if let Some(Some(id)) = found {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Did a capture of the company create a lead (so a deal may have come from one of ours)?
pub fn made_leads(conn: &mut DbConn, company_id: &str) -> Result<bool, DbError> {
    let found: Option<String> = outbox::table
        .filter(outbox::company_id.eq(company_id))
        .filter(outbox::kind.eq("capture"))
        .filter(outbox::result.like("%\"lead_id\"%"))
        .select(outbox::id)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}

/// Record the deal's news against `conversation_id` (the latest news wins).
pub fn record(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
    news: &DealNews<'_>,
    now: i64,
) -> Result<(), DbError> {
    let updated = diesel::update(
        crm_outcomes::table
            .filter(crm_outcomes::company_id.eq(company_id))
            .filter(crm_outcomes::deal_id.eq(news.deal_id)),
    )
    .set((
        crm_outcomes::status.eq(news.status),
        crm_outcomes::value_cents.eq(news.value_cents),
        crm_outcomes::currency.eq(news.currency),
        crm_outcomes::updated_at.eq(now),
    ))
    .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(crm_outcomes::table)
            .values((
                crm_outcomes::id.eq(new_id()),
                crm_outcomes::company_id.eq(company_id),
                crm_outcomes::conversation_id.eq(conversation_id),
                crm_outcomes::deal_id.eq(news.deal_id),
                crm_outcomes::lead_id.eq(news.lead_id),
                crm_outcomes::status.eq(news.status),
                crm_outcomes::value_cents.eq(news.value_cents),
                crm_outcomes::currency.eq(news.currency),
                crm_outcomes::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}
