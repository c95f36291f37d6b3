//! Daily roll-ups of analytics events: one row per (playbook, day, version, audience, kind,
//! card, value) with a count, kept up to date in the transaction that records the events,
//! so a report of a month reads a few hundred rows however many events there are.
//!
//! Besides the event kinds, the roll-ups count [`CONFIRMED`]: the converted events of
//! conversations whose capture the CRM confirmed (a capture row's stored progress holds a
//! `lead_id` or `deal_id`). A conversation is noted once in `conversions_confirmed`
//! ([`confirm`], in the transaction that stores the CRM's answer) and its converted events
//! are counted then; a converted event recorded later for a conversation already noted is
//! counted as it is recorded. [`from_events`] computes the same rows from the events and
//! the capture rows themselves, what the roll-ups must always equal.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::upsert::excluded;

use super::row::{AnalyticsEvent, day_of, kind};
use crate::db::schema::conversions_confirmed;
use crate::db::schema::{analytics_daily as d, analytics_events as e, conversations as c};
use crate::db::{DbConn, DbError};

/// The roll-up kind of converted events whose capture the CRM confirmed.
pub const CONFIRMED: &str = "confirmed";

/// One roll-up row.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = d)]
pub struct Daily {
    pub company_id: String,
    pub playbook_id: String,
    pub version: i32,
    pub day: i64,
    pub known: bool,
    pub visitor_returning: bool,
    pub kind: String,
    pub card: String,
    pub value: i64,
    pub count: i64,
}

/// Add `row.count` to the roll-up row of the same playbook, day, version, audience, kind,
/// card and value.
pub fn add(conn: &mut DbConn, row: &Daily) -> Result<(), DbError> {
    let upsert = || {
        diesel::insert_into(d::table)
            .values(row)
            .on_conflict((
                d::company_id,
                d::playbook_id,
                d::day,
                d::version,
                d::known,
                d::visitor_returning,
                d::kind,
                d::card,
                d::value,
            ))
            .do_update()
            .set(d::count.eq(d::count + excluded(d::count)))
    };
    // Backend branch: diesel's upsert is implemented per backend, not for the enum.
    match conn {
        DbConn::Sqlite(c) => upsert().execute(c)?,
        DbConn::Pg(c) => upsert().execute(c)?,
    };
    Ok(())
}

/// Roll-up counts not written yet: added up by row, then written in the rows' key order
/// (two transactions writing the same rows take their locks in one order).
#[derive(Debug, Default)]
pub struct Pending {
    rows: Vec<Daily>,
}

impl Pending {
    /// Count one row more (its `count`).
    pub fn add(&mut self, row: Daily) {
        self.rows.push(row);
    }

    /// How many rows were added: a mark to go back to with [`Pending::truncate`].
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Forget what was added after the mark (the step that added it was rolled back).
    pub fn truncate(&mut self, mark: usize) {
        self.rows.truncate(mark);
    }

    /// Write the counts: one upsert per distinct row.
    pub fn write(self, conn: &mut DbConn) -> Result<(), DbError> {
        let mut summed: std::collections::BTreeMap<Key, Daily> = Default::default();
        for row in self.rows {
            summed
                .entry(Key::of(&row))
                .and_modify(|r| r.count += row.count)
                .or_insert(row);
        }
        for row in summed.values() {
            add(conn, row)?;
        }
        Ok(())
    }
}

/// A roll-up row's primary key, in its order.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key(String, String, i64, i32, bool, bool, String, String, i64);

impl Key {
    fn of(r: &Daily) -> Key {
        Key(
            r.company_id.clone(),
            r.playbook_id.clone(),
            r.day,
            r.version,
            r.known,
            r.visitor_returning,
            r.kind.clone(),
            r.card.clone(),
            r.value,
        )
    }
}

/// The roll-up row that counts one event once more, as `kind`.
pub fn counting(event: &AnalyticsEvent, playbook_id: &str, kind: &str) -> Daily {
    Daily {
        company_id: event.company_id.clone(),
        playbook_id: playbook_id.to_owned(),
        version: event.version.unwrap_or(0),
        day: day_of(event.created_at),
        known: event.visitor_known,
        visitor_returning: event.visitor_returning,
        kind: kind.to_owned(),
        card: event.card.clone().unwrap_or_default(),
        value: event.value.unwrap_or(0),
        count: 1,
    }
}

/// Has the CRM confirmed a capture of this conversation (is it noted)?
pub fn is_confirmed(conn: &mut DbConn, conversation_id: &str) -> Result<bool, DbError> {
    Ok(conversions_confirmed::table
        .find(conversation_id)
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

/// The CRM confirmed a capture of the conversation: note it, and count its converted
/// events as [`CONFIRMED`], unless it was noted before. Call inside the transaction that
/// stores the CRM's answer. The conversation's row is locked first (as a turn locks it),
/// so a turn recording a converted event and this note never miss each other.
pub fn confirm(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
    now: i64,
) -> Result<(), DbError> {
    if is_confirmed(conn, conversation_id)? {
        return Ok(());
    }
    // The no-op update takes the row lock on PostgreSQL, as `conversations::lock` does.
    let present = diesel::update(
        c::table
            .find(conversation_id)
            .filter(c::company_id.eq(company_id)),
    )
    .set(c::last_seq.eq(c::last_seq))
    .execute(conn)?;
    if present == 0 {
        return Ok(());
    }
    let row = (
        conversions_confirmed::conversation_id.eq(conversation_id),
        conversions_confirmed::company_id.eq(company_id),
        conversions_confirmed::confirmed_at.eq(now),
    );
    // Backend branch: diesel's `on_conflict_do_nothing` is implemented per backend.
    let inserted = match conn {
        DbConn::Sqlite(c) => diesel::insert_into(conversions_confirmed::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
        DbConn::Pg(c) => diesel::insert_into(conversions_confirmed::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    if inserted == 0 {
        return Ok(());
    }
    let converted: Vec<AnalyticsEvent> = e::table
        .filter(e::conversation_id.eq(conversation_id))
        .filter(e::kind.eq(kind::CONVERTED))
        .filter(e::company_id.eq(company_id))
        .filter(e::playbook_id.is_not_null())
        .select(AnalyticsEvent::as_select())
        .load(conn)?;
    for event in &converted {
        if let Some(playbook_id) = &event.playbook_id {
            add(conn, &counting(event, playbook_id, CONFIRMED))?;
        }
    }
    Ok(())
}

/// Drop the company's counts of confirmed conversions (its conversations were deleted).
pub fn forget_confirmed(conn: &mut DbConn, company_id: &str) -> Result<(), DbError> {
    diesel::delete(
        d::table
            .filter(d::company_id.eq(company_id))
            .filter(d::kind.eq(CONFIRMED)),
    )
    .execute(conn)?;
    Ok(())
}

/// Does a capture row's stored progress say the CRM made its lead or deal?
pub fn names_a_record(result: &str) -> bool {
    result.contains("\"lead_id\"") || result.contains("\"deal_id\"")
}

/// The roll-up rows computed from the events (and, for [`CONFIRMED`], the capture rows):
/// `SELECT` columns of `analytics_daily`, for the events matching `filter` (SQL on `e`).
fn grouped(filter: &str) -> String {
    let columns = "e.company_id, e.playbook_id, COALESCE(e.version, 0), e.created_at / 86400000, \
                   e.visitor_known, e.visitor_returning";
    let named = "e.company_id AS company_id, e.playbook_id AS playbook_id, \
                 COALESCE(e.version, 0) AS version, e.created_at / 86400000 AS day, \
                 e.visitor_known AS known, e.visitor_returning AS visitor_returning";
    let rest = "COALESCE(e.card, ''), COALESCE(e.value, 0)";
    let named_rest = "COALESCE(e.card, '') AS card, COALESCE(e.value, 0) AS value";
    format!(
        "SELECT {named}, e.kind AS kind, {named_rest}, COUNT(*) AS count \
         FROM analytics_events e WHERE e.playbook_id IS NOT NULL AND {filter} \
         GROUP BY {columns}, e.kind, {rest} \
         UNION ALL \
         SELECT {columns}, '{CONFIRMED}', {rest}, COUNT(*) \
         FROM analytics_events e WHERE e.playbook_id IS NOT NULL AND {filter} \
           AND e.kind = '{converted}' AND e.conversation_id IS NOT NULL \
           AND EXISTS (SELECT 1 FROM outbox o WHERE o.conversation_id = e.conversation_id \
                       AND o.kind = 'capture' AND o.company_id = e.company_id \
                       AND (o.result LIKE '%\"lead_id\"%' OR o.result LIKE '%\"deal_id\"%')) \
         GROUP BY {columns}, {rest}",
        converted = kind::CONVERTED,
    )
}

/// Rebuild the company's roll-ups (and its noted conversions) from its events and capture
/// rows (after a bulk load of events).
pub fn rebuild(conn: &mut DbConn, company_id: &str) -> Result<(), DbError> {
    diesel::delete(d::table.filter(d::company_id.eq(company_id))).execute(conn)?;
    diesel::delete(
        conversions_confirmed::table.filter(conversions_confirmed::company_id.eq(company_id)),
    )
    .execute(conn)?;
    // `$1` is a placeholder on both backends (SQLite reads it as a numbered parameter).
    let noted = "INSERT INTO conversions_confirmed (conversation_id, company_id, confirmed_at) \
                 SELECT o.conversation_id, MIN(o.company_id), MIN(o.updated_at) FROM outbox o \
                 WHERE o.company_id = $1 AND o.kind = 'capture' \
                   AND o.conversation_id IS NOT NULL \
                   AND (o.result LIKE '%\"lead_id\"%' OR o.result LIKE '%\"deal_id\"%') \
                 GROUP BY o.conversation_id";
    diesel::sql_query(noted)
        .bind::<Text, _>(company_id)
        .execute(conn)?;
    let sql = format!(
        "INSERT INTO analytics_daily \
         (company_id, playbook_id, version, day, known, visitor_returning, kind, card, value, count) \
         {}",
        grouped("e.company_id = $1")
    );
    diesel::sql_query(sql)
        .bind::<Text, _>(company_id)
        .execute(conn)?;
    Ok(())
}

/// The roll-up rows of one playbook for days `from..=to` (UTC day numbers).
pub fn rows(
    conn: &mut DbConn,
    company_id: &str,
    playbook_id: &str,
    from_day: i64,
    to_day: i64,
) -> Result<Vec<Daily>, DbError> {
    Ok(d::table
        .filter(d::company_id.eq(company_id))
        .filter(d::playbook_id.eq(playbook_id))
        .filter(d::day.ge(from_day))
        .filter(d::day.le(to_day))
        .select(Daily::as_select())
        .load(conn)?)
}

/// What [`rows`] must answer, computed from the events and capture rows themselves (the
/// check of the roll-ups; a read of every event of the range).
pub fn from_events(
    conn: &mut DbConn,
    company_id: &str,
    playbook_id: &str,
    from_day: i64,
    to_day: i64,
) -> Result<Vec<Daily>, DbError> {
    let sql = grouped(
        "e.company_id = $1 AND e.playbook_id = $2 AND e.created_at >= $3 AND e.created_at < $4",
    );
    Ok(diesel::sql_query(sql)
        .bind::<Text, _>(company_id)
        .bind::<Text, _>(playbook_id)
        .bind::<BigInt, _>(from_day * 86_400_000)
        .bind::<BigInt, _>((to_day + 1) * 86_400_000)
        .load(conn)?)
}
