//! What a capture card queues for the CRM, every template filled in.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde_json::Value;

use super::super::effect::{ActivityData, CrmWrite, OrgData, PersonData};
use super::super::model::{CaptureCard, Card, CardKind, Money, Playbook};
use super::super::vars::{Vars, value_number, value_text};
use super::render;

/// Variable families whose values go into the note as the collected answers.
const ANSWER_PREFIXES: [&str; 4] = ["person.", "org.", "deal.", "vars."];

/// The CRM write for capture card `card_id` of `playbook`, from the conversation's
/// variables at `now`.
pub(super) fn write(
    playbook: &Playbook,
    card_id: &str,
    c: &CaptureCard,
    vars: &Vars,
    now: DateTime<Utc>,
) -> CrmWrite {
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
            None => text(vars, "deal.expected_close_date").and_then(|d| date(&d)),
        },
        owner: c.owner,
        label: c.label.clone(),
        activity: c.activity.as_ref().map(|a| ActivityData {
            subject: render::text(&a.subject, vars),
            kind: a.kind.clone(),
            due_date: a
                .due
                .as_ref()
                .and_then(|due| date(&render::text(due, vars)))
                .or_else(|| days_after(today, a.due_in_days))
                .unwrap_or(today),
        }),
        note: c.note,
        answers: answers(playbook, vars),
    }
}

/// The collected answers for the note, as (label, answer): first each variable a
/// question or buttons card of the playbook saves into, in card order, labelled with the
/// card's text (a chosen button shows its label); then the other variables, labelled
/// with their name in words.
pub(super) fn answers(playbook: &Playbook, vars: &Vars) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (index, card) in playbook.cards.iter().enumerate() {
        let (text, options) = match &card.kind {
            CardKind::Question(q) => (q.text.as_ref(), &[][..]),
            CardKind::Buttons(b) => (b.text.as_ref(), &b.options[..]),
            _ => continue,
        };
        // The first card saving into a variable labels it.
        let Some(path) = saved_into(card).filter(|p| {
            !playbook.cards[..index]
                .iter()
                .any(|c| saved_into(c) == Some(p))
        }) else {
            continue;
        };
        let Some(value) = vars.values.get(path) else {
            continue;
        };
        // A chosen button shows its label (compared before the value is copied).
        let answer = match value {
            Value::String(s) if s.trim().is_empty() => continue,
            Value::String(s) => options
                .iter()
                .find(|o| o.saved_value() == s)
                .map_or_else(|| s.clone(), |o| o.label.clone()),
            other => {
                let Some(answer) = non_empty_text(other) else {
                    continue;
                };
                options
                    .iter()
                    .find(|o| o.saved_value() == answer)
                    .map_or(answer, |o| o.label.clone())
            }
        };
        let label = text
            .map(|t| render::text(t, vars))
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| in_words(path));
        out.push((label, answer));
    }
    for (path, value) in &vars.values {
        let labelled = || {
            playbook
                .cards
                .iter()
                .any(|c| saved_into(c) == Some(path.as_str()))
        };
        if !ANSWER_PREFIXES.iter().any(|p| path.starts_with(p)) || labelled() {
            continue;
        }
        if let Some(answer) = non_empty_text(value) {
            out.push((in_words(path), answer));
        }
    }
    out
}

/// The variable a question or buttons card saves the answer into.
fn saved_into(card: &Card) -> Option<&str> {
    match &card.kind {
        CardKind::Question(q) => q.save.as_deref(),
        CardKind::Buttons(b) => b.save.as_deref(),
        _ => None,
    }
}

/// A variable's name as a reader says it: `person.email` → "E-mail", `vars.team_size`
/// → "Team size".
fn in_words(path: &str) -> String {
    let known = match path {
        "person.name" => "Name",
        "person.email" => "E-mail",
        "person.phone" => "Phone",
        "org.name" => "Company",
        "org.address" => "Address",
        "deal.value" => "Deal value",
        "deal.currency" => "Currency",
        "deal.expected_close_date" => "Expected close date",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_owned();
    }
    let name = path
        .rsplit('.')
        .next()
        .unwrap_or(path)
        .replace(['_', '-'], " ");
    let mut chars = name.trim().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => path.to_owned(),
    }
}

/// A variable as non-empty text.
fn text(vars: &Vars, path: &str) -> Option<String> {
    non_empty_text(vars.values.get(path)?)
}

fn non_empty_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(value_text(other)).filter(|t| !t.trim().is_empty()),
    }
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

/// A `YYYY-MM-DD` date (what a date question saves).
fn date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

fn days_after(day: NaiveDate, days: u32) -> Option<NaiveDate> {
    day.checked_add_signed(TimeDelta::days(i64::from(days)))
}
