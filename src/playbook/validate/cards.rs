//! Rules about one card on its own: required texts and branches, variable names,
//! operators and their values, limits, URLs and JSON pointers.

use std::collections::HashSet;

use serde_json::Value;

use crate::playbook::load::pointer;
use crate::playbook::model::{
    ButtonsCard, CardKind, Cond, ConditionCard, HttpCard, InputKind, LiveChatCard,
    MAX_HTTP_TIMEOUT, MAX_TEAM_CHARS, NotifyCard, Op, QuestionCard, RedirectCard, SetCard,
    WAIT_SECONDS_RANGE,
};
use crate::playbook::template::Text;
use crate::playbook::vars;

use super::edges::key_pointer;
use super::{CardRef, Problem};

const INPUT_KINDS: [InputKind; 7] = [
    InputKind::Text,
    InputKind::LongText,
    InputKind::Email,
    InputKind::Phone,
    InputKind::Number,
    InputKind::Date,
    InputKind::Url,
];

/// Check the rules that concern `card` alone.
pub fn check(card: CardRef<'_>, problems: &mut Vec<Problem>) {
    match &card.card.kind {
        CardKind::Message(c) => {
            if c.text.trim().is_empty() {
                problems.push(card.problem("text", "message has no text"));
            }
        }
        CardKind::Question(c) => question(card, c, problems),
        CardKind::Buttons(c) => buttons(card, c, problems),
        CardKind::Condition(c) => condition(card, c, problems),
        CardKind::Set(c) => set(card, c, problems),
        CardKind::Http(c) => http(card, c, problems),
        CardKind::LiveChat(c) => live_chat(card, c, problems),
        CardKind::Capture(_) | CardKind::End(_) => {}
        CardKind::Notify(c) => notify(card, c, problems),
        CardKind::Redirect(c) => redirect(card, c, problems),
    }
}

fn is_blank(text: &Option<Text>) -> bool {
    text.as_deref().is_none_or(|t| t.trim().is_empty())
}

/// Is `text` a date written `YYYY-MM-DD`?
fn is_date(text: &str) -> bool {
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").is_ok()
}

/// Does `text` start with `prefix`, ignoring ASCII case?
fn starts_with_ignoring_case(text: &str, prefix: &str) -> bool {
    text.get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
}

/// A variable a card writes into: it must exist and be writable.
fn writable(
    card: CardRef<'_>,
    pointer: impl FnOnce() -> String,
    key: &str,
    var: &str,
) -> Option<Problem> {
    if !vars::is_known(var) {
        Some(card.problem_at(pointer(), format!("{key} names unknown variable '{var}'")))
    } else if !vars::is_writable(var) {
        let hint = match var {
            "score" => " (use add_score on a set card, or score on a button)",
            "tags" => " (use add_tags on a set card, or tags on a button)",
            _ => "",
        };
        Some(card.problem_at(
            pointer(),
            format!("{key} names '{var}', which cards cannot change{hint}"),
        ))
    } else {
        None
    }
}

fn question(card: CardRef<'_>, c: &QuestionCard, problems: &mut Vec<Problem>) {
    if is_blank(&c.text) {
        problems.push(card.problem("text", "question has no text"));
    }
    if c.input.is_none() {
        let kinds: Vec<&str> = INPUT_KINDS.iter().map(|k| k.name()).collect();
        problems.push(card.problem(
            "input",
            format!("question has no 'input' kind (one of {})", kinds.join(", ")),
        ));
    }
    match &c.save {
        None => problems.push(card.problem("save", "question has no 'save' variable")),
        Some(var) => problems.extend(writable(card, || card.pointer("save"), "save", var)),
    }
    if c.max_tries == Some(0) {
        problems.push(card.problem("max_tries", "max_tries must be at least 1"));
    }
}

fn buttons(card: CardRef<'_>, c: &ButtonsCard, problems: &mut Vec<Problem>) {
    if is_blank(&c.text) {
        problems.push(card.problem("text", "buttons card has no text"));
    }
    if c.options.is_empty() {
        problems.push(card.problem("options", "buttons card has no options"));
    }
    let mut labels = HashSet::with_capacity(c.options.len());
    for (i, o) in c.options.iter().enumerate() {
        if o.label.trim().is_empty() {
            problems.push(card.problem(
                &format!("options/{i}/label"),
                format!("options[{i}] has an empty label"),
            ));
        } else if !labels.insert(o.label.as_str()) {
            problems.push(card.problem(
                &format!("options/{i}/label"),
                format!("two options have the label '{}'", o.label),
            ));
        }
    }
    if let Some(var) = &c.save {
        problems.extend(writable(card, || card.pointer("save"), "save", var));
    }
}

fn condition(card: CardRef<'_>, c: &ConditionCard, problems: &mut Vec<Problem>) {
    if c.rules.is_empty() {
        problems.push(card.problem("rules", "condition has no rules"));
    }
    if c.else_.is_none() {
        problems.push(card.problem("else", "condition has no 'else' branch"));
    }
    let mut steps = Vec::new();
    for (rule, r) in c.rules.iter().enumerate() {
        cond(
            card,
            &r.when,
            &mut At {
                rule,
                steps: &mut steps,
            },
            problems,
        );
    }
}

/// Where a test sits in a condition: `rules[rule].when`, then `all[i]`/`any[i]` steps.
struct At<'s> {
    rule: usize,
    steps: &'s mut Vec<(&'static str, usize)>,
}

impl At<'_> {
    /// As reports name it: `rules[0].when.any[1]`.
    fn name(&self) -> String {
        let mut out = format!("rules[{}].when", self.rule);
        for (word, i) in self.steps.iter() {
            out.push_str(&format!(".{word}[{i}]"));
        }
        out
    }

    /// The pointer of `key` at this place, relative to the card.
    fn pointer(&self, key: &str) -> String {
        let mut out = format!("rules/{}/when", self.rule);
        for (word, i) in self.steps.iter() {
            out.push_str(&format!("/{word}/{i}"));
        }
        out.push('/');
        out.push_str(key);
        out
    }
}

/// Check one test (or combination of tests) of a condition rule.
fn cond(card: CardRef<'_>, c: &Cond, at: &mut At<'_>, problems: &mut Vec<Problem>) {
    match c {
        Cond::All(parts) | Cond::Any(parts) => {
            let word = if matches!(c, Cond::All(_)) {
                "all"
            } else {
                "any"
            };
            if parts.is_empty() {
                problems.push(card.problem(
                    &at.pointer(word),
                    format!("'{word}' in {} lists no conditions", at.name()),
                ));
            }
            for (i, part) in parts.iter().enumerate() {
                at.steps.push((word, i));
                cond(card, part, at, problems);
                at.steps.pop();
            }
        }
        Cond::Test { var, op, value } => {
            if !vars::is_known(var) {
                problems.push(card.problem(
                    &at.pointer("var"),
                    format!("{} tests unknown variable '{var}'", at.name()),
                ));
            }
            let name = op.name();
            let wrong = match (op, value) {
                (Op::Set | Op::Unset, Some(_)) => Some(format!("operator '{name}' takes no value")),
                (Op::Set | Op::Unset, None) => None,
                (_, None) => Some(format!("operator '{name}' needs a value")),
                (Op::In, Some(Value::Array(_))) => None,
                (Op::In, Some(_)) => Some("operator 'in' needs a list of values".to_owned()),
                (Op::Gt | Op::Gte | Op::Lt | Op::Lte, Some(Value::Number(_))) => None,
                (Op::Gt | Op::Gte | Op::Lt | Op::Lte, Some(Value::String(s))) if is_date(s) => None,
                (Op::Gt | Op::Gte | Op::Lt | Op::Lte, Some(_)) => Some(format!(
                    "operator '{name}' needs a number or a date written YYYY-MM-DD"
                )),
                (Op::Matches, Some(Value::String(_))) => None,
                (Op::Matches, Some(_)) => {
                    Some("operator 'matches' needs a text pattern".to_owned())
                }
                (Op::Contains, Some(Value::Array(items))) if items.is_empty() => {
                    Some("operator 'contains' needs a value, or a list of values".to_owned())
                }
                (_, Some(Value::Object(_))) => {
                    Some(format!("operator '{name}' needs a value, not a mapping"))
                }
                (Op::Eq | Op::Ne, Some(Value::Array(_))) => Some(format!(
                    "operator '{name}' needs a single value, not a list"
                )),
                (Op::Eq | Op::Ne | Op::Contains, Some(_)) => None,
            };
            if let Some(msg) = wrong {
                problems.push(card.problem(&at.pointer("value"), format!("{}: {msg}", at.name())));
            }
        }
    }
}

fn set(card: CardRef<'_>, c: &SetCard, problems: &mut Vec<Problem>) {
    if c.set.is_empty() && c.add_score.is_none() && c.add_tags.is_empty() {
        problems.push(card.problem(
            "",
            "set card changes nothing (give set, add_score or add_tags)",
        ));
    }
    for key in c.set.keys() {
        problems.extend(writable(
            card,
            || key_pointer(card.index, "set", key),
            "set",
            key,
        ));
    }
}

fn http(card: CardRef<'_>, c: &HttpCard, problems: &mut Vec<Problem>) {
    let url = c.url.trim_start();
    if !["https://", "http://"]
        .iter()
        .any(|scheme| starts_with_ignoring_case(url, scheme))
    {
        problems.push(card.problem("url", "url must start with https:// or http://"));
    }
    if let Some(t) = c.timeout_seconds
        && !(1..=MAX_HTTP_TIMEOUT).contains(&t)
    {
        problems.push(card.problem(
            "timeout_seconds",
            format!("timeout_seconds must be between 1 and {MAX_HTTP_TIMEOUT}, not {t}"),
        ));
    }
    for (var, json_pointer) in &c.save {
        let at = || key_pointer(card.index, "save", var);
        problems.extend(writable(card, at, "save", var));
        if !pointer::is_valid(json_pointer) {
            problems.push(card.problem_at(
                at(),
                format!(
                    "'{json_pointer}' is not a JSON pointer (write it like /status or \
                     /items/0/name)"
                ),
            ));
        }
    }
}

fn live_chat(card: CardRef<'_>, c: &LiveChatCard, problems: &mut Vec<Problem>) {
    if !WAIT_SECONDS_RANGE.contains(&c.wait_seconds) {
        problems.push(card.problem(
            "wait_seconds",
            format!(
                "wait_seconds must be between {} and {}, not {}",
                WAIT_SECONDS_RANGE.start(),
                WAIT_SECONDS_RANGE.end(),
                c.wait_seconds
            ),
        ));
    }
    if let Some(team) = &c.team
        && (team.trim().is_empty() || team.trim() != team || team.chars().count() > MAX_TEAM_CHARS)
    {
        problems.push(card.problem(
            "team",
            format!(
                "team must be a team's name of 1 to {MAX_TEAM_CHARS} characters without \
                 spaces around it, not '{team}'"
            ),
        ));
    }
    if c.offline_next.is_none() {
        problems.push(card.problem(
            "offline_next",
            "live_chat has no 'offline_next' (where to go when no rep takes the chat)",
        ));
    }
}

fn notify(card: CardRef<'_>, c: &NotifyCard, problems: &mut Vec<Problem>) {
    if c.to.is_empty() {
        problems.push(card.problem("to", "notify card has no recipients"));
    }
    for (i, to) in c.to.iter().enumerate() {
        if !email_address::EmailAddress::is_valid(to) {
            problems.push(card.problem(
                &format!("to/{i}"),
                format!("'{to}' in to is not an e-mail address"),
            ));
        }
    }
}

fn redirect(card: CardRef<'_>, c: &RedirectCard, problems: &mut Vec<Problem>) {
    let url = c.url.trim_start();
    let relative = url.starts_with('/') && !url.starts_with("//");
    let web = ["https://", "http://"]
        .iter()
        .any(|scheme| starts_with_ignoring_case(url, scheme));
    if !(web || relative) {
        problems.push(card.problem(
            "url",
            "url must start with https://, http:// or / (a page of this site)",
        ));
    }
}
