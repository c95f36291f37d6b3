//! What the CRM later said about the deals and leads our captures created, against the
//! conversation whose capture created them: per deal, won, lost or still open and its value
//! (`crm_outcomes`; a deal converted from one of our leads counts for that lead's
//! conversation); per lead, open, archived, deleted or converted to a deal
//! (`crm_lead_outcomes`).

use diesel::prelude::*;

use super::schema::{crm_lead_outcomes, crm_outcomes, outbox};
use super::{DbConn, DbError, new_id};

/// Deal statuses as Pipedrive names them.
pub mod status {
    pub const OPEN: &str = "open";
    pub const WON: &str = "won";
    pub const LOST: &str = "lost";
}

/// What became of a lead.
pub mod lead_status {
    /// In the leads inbox.
    pub const OPEN: &str = "open";
    /// Archived (it can come back: then open again).
    pub const ARCHIVED: &str = "archived";
    /// Deleted without becoming a deal (as far as the CRM told us).
    pub const DELETED: &str = "deleted";
    /// Converted to a deal. Final: Pipedrive deletes a lead it converts, and that
    /// deletion's notice may come before or after the deal's.
    pub const CONVERTED: &str = "converted";
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
    patterns.extend(lead_id.and_then(lead_pattern));
    capture_matching(conn, company_id, patterns)
}

/// The `LIKE` pattern of a capture row's progress naming this lead; `None` unless the id
/// is a UUID's characters (so no wildcard can be in it).
fn lead_pattern(lead_id: &str) -> Option<String> {
    (!lead_id.is_empty() && lead_id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
        .then(|| format!("%\"lead_id\":\"{lead_id}\"%"))
}

/// The conversation of the first capture row whose stored progress matches a pattern.
fn capture_matching(
    conn: &mut DbConn,
    company_id: &str,
    patterns: Vec<String>,
) -> Result<Option<String>, DbError> {
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

/// Is this deal recorded already (so its own notices keep it up to date)?
pub fn knows_deal(conn: &mut DbConn, company_id: &str, deal_id: i64) -> Result<bool, DbError> {
    let found: Option<String> = crm_outcomes::table
        .filter(crm_outcomes::company_id.eq(company_id))
        .filter(crm_outcomes::deal_id.eq(deal_id))
        .select(crm_outcomes::id)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}

/// What is recorded of this lead: one of [`lead_status`], `None` before its first news.
pub fn lead_status_of(
    conn: &mut DbConn,
    company_id: &str,
    lead_id: &str,
) -> Result<Option<String>, DbError> {
    Ok(crm_lead_outcomes::table
        .filter(crm_lead_outcomes::company_id.eq(company_id))
        .filter(crm_lead_outcomes::lead_id.eq(lead_id))
        .select(crm_lead_outcomes::status)
        .first(conn)
        .optional()?)
}

/// The person and organization a capture made this lead with (its stored progress), or
/// `(None, None)`.
pub fn lead_links(
    conn: &mut DbConn,
    company_id: &str,
    lead_id: &str,
) -> Result<(Option<i64>, Option<i64>), DbError> {
    let Some(pattern) = lead_pattern(lead_id) else {
        return Ok((None, None));
    };
    let found: Option<(String, Option<String>)> = outbox::table
        .filter(outbox::company_id.eq(company_id))
        .filter(outbox::kind.eq("capture"))
        .filter(outbox::result.like(pattern))
        .select((outbox::id, outbox::result))
        .first(conn)
        .optional()?;
    let Some((id, Some(result))) = found else {
        return Ok((None, None));
    };
    let progress: serde_json::Value = super::stored_json("outbox", &id, "result", &result)?;
    let int = |key: &str| progress.get(key).and_then(serde_json::Value::as_i64);
    Ok((int("person_id"), int("org_id")))
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

/// What the CRM said about one lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadNews<'a> {
    pub lead_id: &'a str,
    /// One of [`lead_status`].
    pub status: &'a str,
    /// The deal it became, when converted.
    pub deal_id: Option<i64>,
}

/// The conversation whose capture created this lead: a lead already recorded, else the
/// capture rows' stored progress (`"lead_id":"UUID"`).
pub fn conversation_of_lead(
    conn: &mut DbConn,
    company_id: &str,
    lead_id: &str,
) -> Result<Option<String>, DbError> {
    let recorded: Option<String> = crm_lead_outcomes::table
        .filter(crm_lead_outcomes::company_id.eq(company_id))
        .filter(crm_lead_outcomes::lead_id.eq(lead_id))
        .select(crm_lead_outcomes::conversation_id)
        .first(conn)
        .optional()?;
    if recorded.is_some() {
        return Ok(recorded);
    }
    capture_matching(
        conn,
        company_id,
        lead_pattern(lead_id).into_iter().collect(),
    )
}

/// Record the lead's news against `conversation_id`. The latest news wins, except that a
/// lead converted to a deal stays converted (its deletion by the conversion, told before
/// or after the deal, changes nothing). Two notices about one new lead at once (the
/// conversion's two) both land: the second insert waits for the first and updates.
pub fn record_lead(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
    news: &LeadNews<'_>,
    now: i64,
) -> Result<(), DbError> {
    let fresh = (
        crm_lead_outcomes::id.eq(new_id()),
        crm_lead_outcomes::company_id.eq(company_id),
        crm_lead_outcomes::conversation_id.eq(conversation_id),
        crm_lead_outcomes::lead_id.eq(news.lead_id),
        crm_lead_outcomes::status.eq(news.status),
        crm_lead_outcomes::deal_id.eq(news.deal_id),
        crm_lead_outcomes::updated_at.eq(now),
    );
    // Backend branch: diesel's `on_conflict_do_nothing` is implemented per backend.
    let inserted = match conn {
        DbConn::Sqlite(c) => diesel::insert_into(crm_lead_outcomes::table)
            .values(fresh)
            .on_conflict_do_nothing()
            .execute(c)?,
        DbConn::Pg(c) => diesel::insert_into(crm_lead_outcomes::table)
            .values(fresh)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    if inserted > 0 {
        return Ok(());
    }
    let row = crm_lead_outcomes::table
        .filter(crm_lead_outcomes::company_id.eq(company_id))
        .filter(crm_lead_outcomes::lead_id.eq(news.lead_id));
    if news.status == lead_status::CONVERTED {
        diesel::update(row)
            .set((
                crm_lead_outcomes::status.eq(news.status),
                crm_lead_outcomes::deal_id.eq(news.deal_id),
                crm_lead_outcomes::updated_at.eq(now),
            ))
            .execute(conn)?;
    } else {
        diesel::update(row.filter(crm_lead_outcomes::status.ne(lead_status::CONVERTED)))
            .set((
                crm_lead_outcomes::status.eq(news.status),
                crm_lead_outcomes::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}
