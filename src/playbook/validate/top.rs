//! Rules about the playbook's top-level fields: slug, name, trigger and size.

use crate::playbook::model::{MAX_CARDS, Playbook, TriggerOn};

use super::Problem;

/// Check the top-level fields; `card_count` is the length of the document's card list.
pub fn check(pb: &Playbook, card_count: usize, problems: &mut Vec<Problem>) {
    if pb.slug.is_empty() {
        problems.push(Problem::playbook("/slug", "slug is empty"));
    } else if !pb
        .slug
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        problems.push(Problem::playbook(
            "/slug",
            format!(
                "slug '{}' may only hold lowercase letters a-z, digits and '-'",
                pb.slug
            ),
        ));
    }
    if pb.name.trim().is_empty() {
        problems.push(Problem::playbook("/name", "name is empty"));
    }
    trigger(pb, problems);
    if card_count > MAX_CARDS {
        problems.push(Problem::playbook(
            "/cards",
            format!("the playbook has {card_count} cards; at most {MAX_CARDS} are allowed"),
        ));
    }
}

fn trigger(pb: &Playbook, problems: &mut Vec<Problem>) {
    let t = &pb.trigger;
    let on = match t.on {
        TriggerOn::PageLoad => "page_load",
        TriggerOn::TimeOnPage => "time_on_page",
        TriggerOn::Click => "click",
        TriggerOn::Keyword => "keyword",
    };
    let mut only = |key: &str, given: bool, allowed: TriggerOn, allowed_name: &str| {
        if given && t.on != allowed {
            problems.push(Problem::playbook(
                format!("/trigger/{key}"),
                format!("trigger {key} only applies to on: {allowed_name}, not on: {on}"),
            ));
        }
    };
    only(
        "delay_seconds",
        t.delay_seconds.is_some(),
        TriggerOn::TimeOnPage,
        "time_on_page",
    );
    only("selector", t.selector.is_some(), TriggerOn::Click, "click");
    only(
        "keywords",
        !t.keywords.is_empty(),
        TriggerOn::Keyword,
        "keyword",
    );
    for (i, code) in t.languages.iter().enumerate() {
        if !is_language_code(code) {
            problems.push(Problem::playbook(
                format!("/trigger/languages/{i}"),
                format!(
                    "trigger language '{code}' is not a language code: two or three lowercase \
                     letters, like en or fr"
                ),
            ));
        }
    }
    match t.on {
        TriggerOn::TimeOnPage if t.delay_seconds.is_none() => problems.push(Problem::playbook(
            "/trigger/delay_seconds",
            "trigger on: time_on_page needs delay_seconds",
        )),
        TriggerOn::Keyword if t.keywords.iter().all(|k| k.trim().is_empty()) => problems.push(
            Problem::playbook("/trigger/keywords", "trigger on: keyword needs keywords"),
        ),
        TriggerOn::Click if t.selector.as_deref().is_some_and(|s| s.trim().is_empty()) => problems
            .push(Problem::playbook(
                "/trigger/selector",
                "trigger selector is empty",
            )),
        _ => {}
    }
}

/// `en`, `fr`, `gsw`: a primary language subtag as browsers send it, lower case.
fn is_language_code(code: &str) -> bool {
    (2..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_lowercase())
}
