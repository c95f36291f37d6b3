//! The HTML of a report as the settings page shows it: each chart (SVG drawn here) with
//! the table of its numbers, figures formatted for people. Askama escapes every text; the
//! SVG comes from `reports::chart`, which escapes its own.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;

use crate::reports::load::PlaybookReport;
use crate::reports::{Money, Report, chart};
use crate::web::AppError;
use crate::web::pages::html;

/// A rate as a percentage with one decimal.
fn percent(rate: f64) -> String {
    format!("{:.1} %", rate * 100.0)
}

/// A duration in ms as `M:SS` (or `—` when there is none).
fn duration(ms: Option<i64>) -> String {
    match ms {
        Some(ms) => {
            let s = (ms.max(0) + 500) / 1000;
            format!("{}:{:02}", s / 60, s % 60)
        }
        None => "—".to_owned(),
    }
}

/// Cents as an amount with two decimals and the currency.
fn money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", c / 100, c % 100)
        .trim_end()
        .to_owned()
}

/// Amounts per currency, one after the other (never added up); `—` for none.
fn amounts(values: &[Money]) -> String {
    if values.is_empty() {
        return "—".to_owned();
    }
    values
        .iter()
        .map(|m| money(m.cents, &m.currency))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The headline figures in words, for the summary table and the comparison.
fn headline(r: &Report) -> Vec<(&'static str, String)> {
    let t = &r.totals;
    let l = &r.live;
    vec![
        ("Shown", t.shown.to_string()),
        ("Engaged", t.engaged.to_string()),
        ("Converted (confirmed by the CRM)", t.converted.to_string()),
        ("Engagement rate", percent(t.engagement_rate)),
        ("Conversion rate", percent(t.conversion_rate)),
        ("Captures queued", t.captures_queued.to_string()),
        ("Completed", t.completed.to_string()),
        ("Deals won", t.deals_won.to_string()),
        ("Value won", amounts(&t.value_won)),
        ("Deals lost", t.deals_lost.to_string()),
        ("Leads converted to deals", t.leads_converted.to_string()),
        ("Leads archived", t.leads_archived.to_string()),
        ("Leads deleted", t.leads_deleted.to_string()),
        ("Live chats offered", l.offered.to_string()),
        ("Live chats taken", l.taken.to_string()),
        ("Live chats missed", l.missed.to_string()),
        ("Wait until taken, median", duration(l.wait_median_ms)),
        ("Wait until taken, 90th percentile", duration(l.wait_p90_ms)),
        (
            "First response, median",
            duration(l.first_response_median_ms),
        ),
        (
            "First response, 90th percentile",
            duration(l.first_response_p90_ms),
        ),
    ]
}

struct PathLine {
    path: String,
    won: i64,
    lost: i64,
    value: String,
}

struct RepLine {
    name: String,
    taken: i64,
    wait: String,
    first: String,
}

#[derive(Template)]
#[template(path = "app/_report.html")]
struct OneView<'a> {
    r: &'a PlaybookReport,
    headline: Vec<(&'static str, String)>,
    series_svg: String,
    funnel_svg: String,
    waits_svg: String,
    reps: Vec<RepLine>,
    deal_paths: Vec<PathLine>,
}

/// One report.
pub fn one(r: &PlaybookReport) -> Result<HttpResponse, AppError> {
    let report = &r.report;
    let view = OneView {
        r,
        headline: headline(report),
        series_svg: chart::series(&report.series),
        funnel_svg: chart::funnel(&report.funnel),
        waits_svg: chart::waits(&report.live.waits),
        reps: report
            .live
            .reps
            .iter()
            .map(|p| RepLine {
                name: p.name.clone(),
                taken: p.taken,
                wait: duration(p.wait_median_ms),
                first: duration(p.first_response_median_ms),
            })
            .collect(),
        deal_paths: report
            .deal_paths
            .iter()
            .map(|p| PathLine {
                path: p.cards.join(" → "),
                won: p.deals_won,
                lost: p.deals_lost,
                value: amounts(&p.value_won),
            })
            .collect(),
    };
    html(StatusCode::OK, &view)
}

struct CompareLine {
    label: String,
    a: String,
    b: String,
}

#[derive(Template)]
#[template(path = "app/_report_compare.html")]
struct CompareView<'a> {
    a: &'a PlaybookReport,
    version_a: i32,
    version_b: i32,
    lines: Vec<CompareLine>,
    cards: Vec<CompareLine>,
}

/// Two versions side by side: the headline figures and the funnel.
pub fn compare(a: &PlaybookReport, b: &PlaybookReport) -> Result<HttpResponse, AppError> {
    let lines = headline(&a.report)
        .into_iter()
        .zip(headline(&b.report))
        .map(|((label, a), (_, b))| CompareLine {
            label: label.to_owned(),
            a,
            b,
        })
        .collect();
    let mut cards: Vec<CompareLine> = Vec::new();
    for c in a.report.funnel.iter().chain(&b.report.funnel) {
        if cards.iter().any(|l| l.label == c.card) {
            continue;
        }
        let reached = |r: &PlaybookReport| {
            r.report
                .funnel
                .iter()
                .find(|f| f.card == c.card)
                .map_or_else(|| "—".to_owned(), |f| f.reached.to_string())
        };
        cards.push(CompareLine {
            label: c.card.clone(),
            a: reached(a),
            b: reached(b),
        });
    }
    let view = CompareView {
        a,
        version_a: a.filter.version.unwrap_or_default(),
        version_b: b.filter.version.unwrap_or_default(),
        lines,
        cards,
    };
    html(StatusCode::OK, &view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_as_people_write_them() {
        assert_eq!(percent(0.3333), "33.3 %");
        assert_eq!(duration(Some(95_400)), "1:35");
        assert_eq!(duration(None), "—");
        assert_eq!(money(123_456, "EUR"), "1234.56 EUR");
        assert_eq!(money(-5, ""), "-0.05");
        let two = [
            Money {
                currency: "EUR".into(),
                cents: 150_000,
            },
            Money {
                currency: "USD".into(),
                cents: 2_000,
            },
        ];
        assert_eq!(amounts(&two), "1500.00 EUR, 20.00 USD");
        assert_eq!(amounts(&[]), "—");
    }
}
