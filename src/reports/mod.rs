//! Reports of one playbook: what the stored figures mean, computed from the rows the
//! database layer (`db::reports`) reads. Pure: no I/O, no clock (the caller passes `now`).
//!
//! Definitions (stated on the settings page too), counted once per conversation:
//! - **shown**: the playbook's first card was displayed;
//! - **engaged**: the visitor answered it at least once;
//! - **converted**: a capture of the conversation created a lead or deal that the CRM
//!   confirmed (its id came back), not merely queued;
//! - engagement rate = engaged ÷ shown, conversion rate = converted ÷ engaged.

pub mod chart;
pub mod csv;
mod deals;
mod funnel;
mod live;
pub mod load;
pub mod stats;

use serde::Serialize;
use utoipa::ToSchema;

use crate::db::analytics::kind;
use crate::db::analytics::rollup::{CONFIRMED, Daily};
use crate::db::outcomes::lead_status;
use crate::playbook::Playbook;

pub use crate::db::reports::{LeadRow, OutcomeRow, PathRow, StoppedRow};
pub use deals::{DealPath, Money};
pub use funnel::{AnswerCard, AnswerOption, FunnelCard};
pub use live::{LiveChat, RepFigures, WaitBucket};

/// Which events a report counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Filter {
    /// Only this published version.
    pub version: Option<i32>,
    /// Only known (identified) visitors, or only unknown ones.
    pub known: Option<bool>,
    /// Only returning visitors, or only new ones.
    pub returning: Option<bool>,
}

impl Filter {
    /// Does an event of this version and audience count?
    pub fn admits(&self, version: i32, known: bool, returning: bool) -> bool {
        self.version.is_none_or(|v| v == version)
            && self.known.is_none_or(|k| k == known)
            && self.returning.is_none_or(|r| r == returning)
    }
}

/// Everything a report is computed from.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    /// The playbook version whose cards name the funnel and the buttons' options.
    pub document: Option<&'a Playbook>,
    pub filter: &'a Filter,
    /// First and last day (UTC day numbers) of the range.
    pub from_day: i64,
    pub to_day: i64,
    /// Roll-up rows (events and confirmed conversions) of the playbook and range.
    pub daily: &'a [Daily],
    /// The CRM's outcomes of the deals of conversions in the range.
    pub outcomes: &'a [OutcomeRow],
    /// The CRM's news of the leads of conversions in the range.
    pub leads: &'a [LeadRow],
    /// The cards the conversations of those outcomes reached.
    pub paths: &'a [PathRow],
    pub stopped: &'a [StoppedRow],
    /// `(id, name)` of the reps the roll-ups' live chat rows name.
    pub rep_names: &'a [(String, String)],
}

/// The headline figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Totals {
    pub shown: i64,
    pub engaged: i64,
    /// Conversions the CRM confirmed.
    pub converted: i64,
    /// Captures queued, confirmed or not yet.
    pub captures_queued: i64,
    /// engaged ÷ shown (0 when nothing was shown).
    pub engagement_rate: f64,
    /// converted ÷ engaged (0 when nobody engaged).
    pub conversion_rate: f64,
    /// Flows that reached an ending (visitors who left are not counted).
    pub completed: i64,
    pub deals_won: i64,
    pub deals_lost: i64,
    /// Value of the deals won, per currency (amounts in different currencies are never
    /// added up), by currency code.
    pub value_won: Vec<Money>,
    /// Leads of these conversions that the CRM converted to deals (those deals count in
    /// deals won and lost).
    pub leads_converted: i64,
    /// Leads archived in the CRM (and not back in its inbox since).
    pub leads_archived: i64,
    /// Leads deleted in the CRM without becoming a deal.
    pub leads_deleted: i64,
}

/// One day of the time series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DayFigures {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub shown: i64,
    pub engaged: i64,
    pub converted: i64,
}

/// A score and how many flows ended with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ScoreCount {
    pub score: i64,
    pub count: i64,
}

/// A whole report.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Report {
    pub totals: Totals,
    pub series: Vec<DayFigures>,
    pub funnel: Vec<FunnelCard>,
    pub answers: Vec<AnswerCard>,
    pub scores: Vec<ScoreCount>,
    pub live: LiveChat,
    /// Deals won and lost per path of cards that led to them, most deals won first.
    pub deal_paths: Vec<DealPath>,
}

/// Compute a report.
pub fn compute(inputs: &Inputs<'_>) -> Report {
    let f = inputs.filter;
    let daily: Vec<&Daily> = inputs
        .daily
        .iter()
        .filter(|d| d.day >= inputs.from_day && d.day <= inputs.to_day)
        .filter(|d| f.admits(d.version, d.known, d.visitor_returning))
        .collect();
    let sum = |k: &str| -> i64 { daily.iter().filter(|d| d.kind == k).map(|d| d.count).sum() };
    let (shown, engaged, converted) = (sum(kind::SHOWN), sum(kind::ENGAGED), sum(CONFIRMED));
    let outcomes: Vec<&OutcomeRow> = inputs
        .outcomes
        .iter()
        .filter(|o| f.admits(o.version, o.known, o.returning))
        .collect();
    let won: Vec<&OutcomeRow> = outcomes
        .iter()
        .copied()
        .filter(|o| o.status == crate::db::outcomes::status::WON)
        .collect();
    let leads_with = |status: &str| -> i64 {
        inputs
            .leads
            .iter()
            .filter(|l| l.status == status && f.admits(l.version, l.known, l.returning))
            .count() as i64
    };
    let totals = Totals {
        shown,
        engaged,
        converted,
        captures_queued: sum(kind::CONVERTED),
        engagement_rate: stats::rate(engaged, shown),
        conversion_rate: stats::rate(converted, engaged),
        completed: (sum(kind::COMPLETED) - sum(kind::LEFT)).max(0),
        deals_won: won.len() as i64,
        deals_lost: outcomes
            .iter()
            .filter(|o| o.status == crate::db::outcomes::status::LOST)
            .count() as i64,
        value_won: deals::value_won(&won),
        leads_converted: leads_with(lead_status::CONVERTED),
        leads_archived: leads_with(lead_status::ARCHIVED),
        leads_deleted: leads_with(lead_status::DELETED),
    };
    let series = (inputs.from_day..=inputs.to_day)
        .map(|day| {
            let of = |k: &str| -> i64 {
                daily
                    .iter()
                    .filter(|d| d.day == day && d.kind == k)
                    .map(|d| d.count)
                    .sum()
            };
            DayFigures {
                day: stats::day_label(day),
                shown: of(kind::SHOWN),
                engaged: of(kind::ENGAGED),
                converted: of(CONFIRMED),
            }
        })
        .collect();
    let stopped: Vec<&StoppedRow> = inputs
        .stopped
        .iter()
        .filter(|s| f.admits(s.version, s.known, s.returning))
        .collect();
    let mut scores: Vec<ScoreCount> = Vec::new();
    for d in daily.iter().filter(|d| d.kind == kind::SCORED) {
        match scores.iter_mut().find(|s| s.score == d.value) {
            Some(s) => s.count += d.count,
            None => scores.push(ScoreCount {
                score: d.value,
                count: d.count,
            }),
        }
    }
    scores.sort_by_key(|s| s.score);
    Report {
        totals,
        series,
        funnel: funnel::funnel(inputs.document, &daily, &stopped),
        answers: funnel::answers(inputs.document, &daily),
        scores,
        live: live::live_chat(&daily, inputs.rep_names),
        deal_paths: deals::paths(&outcomes, inputs.paths),
    }
}
