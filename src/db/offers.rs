//! Automatic assignment's offers: per waiting conversation, the rep it is offered to now
//! and until when, and the reps who let an offer lapse or declined it. Written only under
//! the conversation's lock (inside a turn), so read-then-write is safe on both backends.

use std::collections::HashMap;

use diesel::prelude::*;

use super::schema::chat_offers;
use super::{DbConn, DbError};

/// A conversation's offer state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Offer {
    /// The rep (`crm_users.id`) it is offered to now.
    pub offered_to: Option<String>,
    /// When that offer lapses (Unix ms); the due time of its timer.
    pub expires_at: Option<i64>,
    /// Reps (`crm_users.id`) not to offer it to again.
    pub skipped: Vec<String>,
}

pub fn get(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
) -> Result<Option<Offer>, DbError> {
    let row: Option<(Option<String>, Option<i64>, String)> = chat_offers::table
        .filter(chat_offers::company_id.eq(company_id))
        .filter(chat_offers::conversation_id.eq(conversation_id))
        .select((
            chat_offers::offered_to,
            chat_offers::expires_at,
            chat_offers::skipped,
        ))
        .first(conn)
        .optional()?;
    row.map(|(offered_to, expires_at, skipped)| {
        Ok(Offer {
            offered_to,
            expires_at,
            skipped: super::stored_json("chat_offers", conversation_id, "skipped", &skipped)?,
        })
    })
    .transpose()
}

/// Store the conversation's offer state.
pub fn put(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
    offer: &Offer,
    now: i64,
) -> Result<(), DbError> {
    let skipped =
        serde_json::to_string(&offer.skipped).map_err(|e| DbError::Corrupt(e.to_string()))?;
    let n = diesel::update(
        chat_offers::table
            .filter(chat_offers::company_id.eq(company_id))
            .filter(chat_offers::conversation_id.eq(conversation_id)),
    )
    .set((
        chat_offers::offered_to.eq(&offer.offered_to),
        chat_offers::expires_at.eq(offer.expires_at),
        chat_offers::skipped.eq(&skipped),
        chat_offers::updated_at.eq(now),
    ))
    .execute(conn)?;
    if n == 0 {
        diesel::insert_into(chat_offers::table)
            .values((
                chat_offers::conversation_id.eq(conversation_id),
                chat_offers::company_id.eq(company_id),
                chat_offers::offered_to.eq(&offer.offered_to),
                chat_offers::expires_at.eq(offer.expires_at),
                chat_offers::skipped.eq(&skipped),
                chat_offers::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Forget the conversation's offers (it was taken).
pub fn clear(conn: &mut DbConn, company_id: &str, conversation_id: &str) -> Result<(), DbError> {
    diesel::delete(
        chat_offers::table
            .filter(chat_offers::company_id.eq(company_id))
            .filter(chat_offers::conversation_id.eq(conversation_id)),
    )
    .execute(conn)?;
    Ok(())
}

/// [`clear`] for several conversations (of any company: a conversation id names one
/// conversation), in one statement.
pub fn clear_many(conn: &mut DbConn, conversation_ids: &[String]) -> Result<(), DbError> {
    if conversation_ids.is_empty() {
        return Ok(());
    }
    diesel::delete(
        chat_offers::table.filter(chat_offers::conversation_id.eq_any(conversation_ids)),
    )
    .execute(conn)?;
    Ok(())
}

/// Offers standing now per rep (row id → count).
pub fn pending(conn: &mut DbConn, company_id: &str) -> Result<HashMap<String, i64>, DbError> {
    let rows: Vec<Option<String>> = chat_offers::table
        .filter(chat_offers::company_id.eq(company_id))
        .filter(chat_offers::offered_to.is_not_null())
        .select(chat_offers::offered_to)
        .load(conn)?;
    let mut out = HashMap::new();
    for id in rows.into_iter().flatten() {
        *out.entry(id).or_insert(0) += 1;
    }
    Ok(out)
}

/// The offers standing to one rep (`crm_users.id`) and not yet lapsed at `now`, earliest
/// expiry first: (conversation id, expiry).
pub fn standing_to(
    conn: &mut DbConn,
    company_id: &str,
    rep_id: &str,
    now: i64,
) -> Result<Vec<(String, i64)>, DbError> {
    let rows: Vec<(String, Option<i64>)> = chat_offers::table
        .filter(chat_offers::company_id.eq(company_id))
        .filter(chat_offers::offered_to.eq(rep_id))
        .filter(chat_offers::expires_at.gt(now))
        .order(chat_offers::expires_at.asc())
        .select((chat_offers::conversation_id, chat_offers::expires_at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, at)| Some((id, at?)))
        .collect())
}
