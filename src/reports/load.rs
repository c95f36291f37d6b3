//! Reading one report: the range and filters an admin chose, the rows from the database
//! (`db::analytics::rollup`, `db::reports`), then [`super::compute`]. The counts come from the daily
//! roll-ups, or for a check from the events themselves ([`Source`]). The only part of `reports`
//! that does I/O.

use serde::Serialize;
use utoipa::ToSchema;

use super::{Filter, Inputs, Report, compute, stats};
use crate::db::analytics::{kind, rollup};
use crate::db::reports::{self as rows, Scope};
use crate::db::{DbConn, DbError, playbooks};
use crate::playbook::Playbook;

/// A flow waiting for the visitor this long has stopped answering.
pub const STOPPED_AFTER_MS: i64 = 30 * 60 * 1000;
/// The longest custom range.
pub const MAX_DAYS: i64 = 366;

/// A range of whole UTC days, first and last included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub from_day: i64,
    pub to_day: i64,
}

impl DayRange {
    /// The last `days` days up to and including today.
    pub fn last(days: i64, now_ms: i64) -> DayRange {
        let today = crate::db::analytics::day_of(now_ms);
        DayRange {
            from_day: today - (days.max(1) - 1),
            to_day: today,
        }
    }

    /// `from`..=`to` as `YYYY-MM-DD`; `None` when unreadable, reversed or too long.
    pub fn custom(from: &str, to: &str) -> Option<DayRange> {
        let (from_day, to_day) = (stats::parse_day(from)?, stats::parse_day(to)?);
        (from_day <= to_day && to_day - from_day < MAX_DAYS)
            .then_some(DayRange { from_day, to_day })
    }

    fn start_ms(self) -> i64 {
        self.from_day * 86_400_000
    }

    fn end_ms(self) -> i64 {
        (self.to_day + 1) * 86_400_000
    }
}

/// The playbook a report is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PlaybookRef {
    pub id: String,
    pub slug: String,
    pub name: String,
    /// Its published versions, newest first.
    pub versions: Vec<i32>,
}

/// A report with what it is about.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PlaybookReport {
    pub playbook: PlaybookRef,
    /// First day of the range (`YYYY-MM-DD`, UTC).
    pub from: String,
    /// Last day of the range, included.
    pub to: String,
    pub filter: Filter,
    pub report: Report,
}

/// Where a report's counts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The daily roll-ups: what the app reads.
    RollUps,
    /// The events and capture rows themselves, read one by one: what the roll-ups must
    /// always equal (the tests' check).
    Events,
}

/// The report of a company's playbook; `None` when the company has no such playbook.
pub fn playbook_report(
    conn: &mut DbConn,
    company_id: &str,
    playbook_id: &str,
    range: DayRange,
    filter: &Filter,
    now_ms: i64,
) -> Result<Option<PlaybookReport>, DbError> {
    report_from(
        conn,
        company_id,
        playbook_id,
        range,
        filter,
        now_ms,
        Source::RollUps,
    )
}

/// [`playbook_report`] with its counts read from `source`.
pub fn report_from(
    conn: &mut DbConn,
    company_id: &str,
    playbook_id: &str,
    range: DayRange,
    filter: &Filter,
    now_ms: i64,
    source: Source,
) -> Result<Option<PlaybookReport>, DbError> {
    let Some(row) = playbooks::by_id(conn, company_id, playbook_id)? else {
        return Ok(None);
    };
    let versions = playbooks::versions(conn, company_id, playbook_id)?;
    let chosen = match filter.version {
        Some(v) => versions.iter().find(|r| r.version == v),
        None => versions.first(),
    };
    let document: Option<Playbook> = chosen.map(|v| v.playbook()).transpose()?;
    let scope = Scope {
        company_id,
        playbook_id,
        from_ms: range.start_ms(),
        to_ms: range.end_ms(),
    };
    let read = match source {
        Source::RollUps => rollup::rows,
        Source::Events => rollup::from_events,
    };
    let daily = read(conn, company_id, playbook_id, range.from_day, range.to_day)?;
    let outcomes = rows::outcomes(conn, scope)?;
    let conversations: Vec<&str> = outcomes
        .iter()
        .map(|o| o.conversation_id.as_str())
        .collect();
    let paths = rows::paths(conn, scope, &conversations)?;
    let leads = rows::leads(conn, scope)?;
    let stopped = rows::stopped(conn, scope, now_ms - STOPPED_AFTER_MS)?;
    let mut reps: Vec<&str> = daily
        .iter()
        .filter(|d| d.kind == kind::CHAT_TAKEN || d.kind == kind::FIRST_RESPONSE)
        .map(|d| d.card.as_str())
        .collect();
    reps.sort_unstable();
    reps.dedup();
    let rep_names = rows::rep_names(conn, company_id, &reps)?;
    let report = compute(&Inputs {
        document: document.as_ref(),
        filter,
        from_day: range.from_day,
        to_day: range.to_day,
        daily: &daily,
        outcomes: &outcomes,
        leads: &leads,
        paths: &paths,
        stopped: &stopped,
        rep_names: &rep_names,
    });
    Ok(Some(PlaybookReport {
        playbook: PlaybookRef {
            id: row.id,
            slug: row.slug,
            name: row.name,
            versions: versions.iter().map(|v| v.version).collect(),
        },
        from: stats::day_label(range.from_day),
        to: stats::day_label(range.to_day),
        filter: filter.clone(),
        report,
    }))
}
