//! What a capture card queues for the CRM, every template filled in.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use super::super::effect::{ActivityData, CrmWrite, OrgData, PersonData};
use super::super::model::{CaptureCard, Money};
use super::super::vars::{Vars, value_number};
use super::render;

/// Variable families whose values go into the note as the collected answers.
const ANSWER_PREFIXES: [&str; 4] = ["person.", "org.", "deal.", "vars."];

/// The CRM write for capture card `card_id`, from the conversation's variables at `now`.
pub(super) fn write(card_id: &str, c: &CaptureCard, vars: &Vars, now: DateTime<Utc>) -> CrmWrite {
    let today = now.date_naive();
    CrmWrite {
        card: card_id.to_owned(),
        create: c.create,
        title: render::text(&c.title, vars),
        person: PersonData {
            name: text(vars, "person.name"),
            email: text(vars, "person.email"),
            phone: text(vars, "person.phone"),
        },
        org: text(vars, "org.name").map(|name| OrgData {
            name,
            address: text(vars, "org.address"),
        }),
        value: c.value.clone().or_else(|| deal_value(vars)),
        expected_close_date: match c.expected_close_days {
            Some(days) => days_after(today, days),
            None => text(vars, "deal.expected_close_date")
                .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()),
        },
        owner: c.owner,
        label: c.label.clone(),
        activity: c.activity.as_ref().map(|a| ActivityData {
            subject: render::text(&a.subject, vars),
            kind: a.kind.clone(),
            due_date: days_after(today, a.due_in_days).unwrap_or(today),
        }),
        note: c.note,
        answers: vars
            .values
            .iter()
            .filter(|(path, _)| ANSWER_PREFIXES.iter().any(|p| path.starts_with(p)))
            .filter_map(|(path, _)| Some((path.clone(), text(vars, path)?)))
            .collect(),
    }
}

/// A variable as non-empty text.
fn text(vars: &Vars, path: &str) -> Option<String> {
    vars.get_text(path).filter(|t| !t.trim().is_empty())
}

/// `deal.value` (a number, or text that reads as one) with `deal.currency`. Without a
/// currency the amount is still written; the currency is then empty and the CRM uses the
/// company's default.
fn deal_value(vars: &Vars) -> Option<Money> {
    let amount = value_number(&vars.get("deal.value")?).filter(|n| n.is_finite())?;
    Some(Money {
        amount,
        currency: text(vars, "deal.currency").unwrap_or_default(),
    })
}

fn days_after(day: NaiveDate, days: u32) -> Option<NaiveDate> {
    day.checked_add_signed(TimeDelta::days(i64::from(days)))
}
