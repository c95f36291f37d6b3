//! Daily roll-ups of analytics events: one row per (playbook, day, version, audience, kind,
//! card, value) with a count, kept up to date in the transaction that records the events,
//! so a report of a month reads a few hundred rows however many events there are.

use diesel::prelude::*;
use diesel::upsert::excluded;

use super::schema::analytics_daily as d;
use super::{DbConn, DbError};

/// One roll-up row.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
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

/// Rebuild the company's roll-ups from its events (after a bulk load of events).
pub fn rebuild(conn: &mut DbConn, company_id: &str) -> Result<(), DbError> {
    diesel::delete(d::table.filter(d::company_id.eq(company_id))).execute(conn)?;
    let sql = "INSERT INTO analytics_daily \
         (company_id, playbook_id, version, day, known, visitor_returning, kind, card, value, count) \
         SELECT company_id, playbook_id, COALESCE(version, 0), created_at / 86400000, \
                visitor_known, visitor_returning, kind, COALESCE(card, ''), COALESCE(value, 0), \
                COUNT(*) \
         FROM analytics_events WHERE company_id = $1 AND playbook_id IS NOT NULL \
         GROUP BY company_id, playbook_id, COALESCE(version, 0), created_at / 86400000, \
                visitor_known, visitor_returning, kind, COALESCE(card, ''), COALESCE(value, 0)";
    // `$1` is a placeholder on both backends (SQLite reads it as a numbered parameter).
    diesel::sql_query(sql)
        .bind::<diesel::sql_types::Text, _>(company_id)
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
