//! Every distinct path through a playbook, from `start` to an ending, with the visitor's
//! input (or the outcome) that takes each branch — "walk every path before going live".
//!
//! Branches of one card that lead to the same card are one step ("clicks "1-10" or
//! "11-50""), so paths differ in the cards they visit. A path visits each card at most
//! once: a branch back to a card already on the path ends it as a loop. Enumeration stops
//! after a limit and says so.

use std::collections::HashMap;
use std::fmt::{self, Write as _};

use serde::Serialize;
use serde_json::Value;

use super::model::{CardKind, Cond, Op, Playbook};

/// How many paths [`paths`] lists by default.
pub const DEFAULT_LIMIT: usize = 10_000;

/// The paths of a playbook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathList {
    pub start: String,
    pub paths: Vec<FlowPath>,
    /// More paths exist than `limit`; only the first `limit` are listed.
    pub truncated: bool,
    pub limit: usize,
}

/// One way through the playbook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowPath {
    pub steps: Vec<PathStep>,
    pub ending: Ending,
}

/// A card on a path, and what takes the flow on from it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathStep {
    pub card: String,
    #[serde(rename = "type")]
    pub card_type: &'static str,
    /// The input or outcome that takes this branch; `None` when the card just goes on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
}

/// How a path ends.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ending {
    /// An end card.
    End,
    /// A redirect card without `next`.
    Redirect { url: String },
    /// A rep took the chat at a live_chat card: the bot's part is over.
    HandedToRep,
    /// The branch leads back to a card already on the path.
    Loop { back_to: String },
    /// The branch names a card that does not exist (only in invalid playbooks).
    Missing { card: String },
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::End => f.write_str("ends"),
            Ending::Redirect { url } => write!(f, "redirects to {url}"),
            Ending::HandedToRep => f.write_str("handed to a rep"),
            Ending::Loop { back_to } => write!(f, "loops back to '{back_to}'"),
            Ending::Missing { card } => write!(f, "stops: no card '{card}'"),
        }
    }
}

/// Where a branch goes.
#[derive(Debug, Clone)]
enum To {
    Card(String),
    Ending(Ending),
}

#[derive(Debug, Clone)]
struct Branch {
    input: Option<String>,
    to: To,
}

/// List the paths of `pb`, at most `limit` of them.
pub fn paths(pb: &Playbook, limit: usize) -> PathList {
    let index_of: HashMap<&str, usize> = pb
        .cards
        .iter()
        .enumerate()
        .rev()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    let mut list = PathList {
        start: pb.start.clone(),
        paths: Vec::new(),
        truncated: false,
        limit,
    };
    let Some(&start) = index_of.get(pb.start.as_str()) else {
        return list;
    };

    struct Frame {
        node: usize,
        branches: Vec<Branch>,
        next: usize,
    }
    let mut on_path = vec![false; pb.cards.len()];
    let mut steps: Vec<PathStep> = Vec::new();
    let mut stack = vec![Frame {
        node: start,
        branches: branches(&pb.cards[start].kind),
        next: 0,
    }];
    on_path[start] = true;
    while let Some(frame) = stack.last_mut() {
        let Some(branch) = frame.branches.get(frame.next).cloned() else {
            on_path[frame.node] = false;
            stack.pop();
            continue;
        };
        frame.next += 1;
        let card = &pb.cards[frame.node];
        steps.truncate(stack.len() - 1);
        steps.push(PathStep {
            card: card.id.clone(),
            card_type: card.kind.type_name(),
            input: branch.input,
        });
        let ending = match branch.to {
            To::Ending(ending) => ending,
            To::Card(id) => match index_of.get(id.as_str()) {
                None => Ending::Missing { card: id },
                Some(&n) if on_path[n] => Ending::Loop { back_to: id },
                Some(&n) => {
                    on_path[n] = true;
                    stack.push(Frame {
                        node: n,
                        branches: branches(&pb.cards[n].kind),
                        next: 0,
                    });
                    continue;
                }
            },
        };
        if list.paths.len() == limit {
            list.truncated = true;
            break;
        }
        list.paths.push(FlowPath {
            steps: steps.clone(),
            ending,
        });
    }
    list
}

/// The branches out of a card, those to the same card merged into one.
fn branches(kind: &CardKind) -> Vec<Branch> {
    let to = |id: &str| To::Card(id.to_owned());
    let plain = |id: &str| {
        vec![Branch {
            input: None,
            to: to(id),
        }]
    };
    let labelled: Vec<(String, &str)> = match kind {
        CardKind::Message(c) => return plain(&c.next),
        CardKind::Set(c) => return plain(&c.next),
        CardKind::Capture(c) => return plain(&c.next),
        CardKind::Notify(c) => return plain(&c.next),
        CardKind::End(_) => {
            return vec![Branch {
                input: None,
                to: To::Ending(Ending::End),
            }];
        }
        CardKind::Redirect(c) => {
            return match &c.next {
                Some(next) => plain(next),
                None => vec![Branch {
                    input: None,
                    to: To::Ending(Ending::Redirect {
                        url: c.url.to_string(),
                    }),
                }],
            };
        }
        CardKind::LiveChat(c) => {
            let mut out = vec![Branch {
                input: Some("a rep takes the chat".into()),
                to: To::Ending(Ending::HandedToRep),
            }];
            if let Some(offline) = &c.offline_next {
                out.push(Branch {
                    input: Some(format!(
                        "no rep online, or none takes the chat within {} s",
                        c.wait_seconds
                    )),
                    to: to(offline),
                });
            }
            return out;
        }
        CardKind::Question(c) => {
            let invalid = format!("{} invalid answers", c.max_tries());
            vec![
                ("valid answer".into(), c.next.as_str()),
                (invalid, c.on_fail.as_deref().unwrap_or(&c.next)),
            ]
        }
        CardKind::Buttons(c) => {
            let mut out: Vec<(String, &str)> = Vec::new();
            for o in &c.options {
                match out.iter_mut().find(|(_, t)| *t == o.next) {
                    Some((label, _)) => label.push_str(&format!(" or \"{}\"", o.label)),
                    None => out.push((format!("clicks \"{}\"", o.label), &o.next)),
                }
            }
            out.extend(
                c.other_next
                    .as_deref()
                    .map(|n| ("types something else".to_owned(), n)),
            );
            out
        }
        CardKind::Condition(c) => {
            // A rule that shares its target with another is merged with "or": bracket it.
            let shared = |next: &str| c.rules.iter().filter(|r| r.next == next).count() > 1;
            let mut out: Vec<(String, &str)> = c
                .rules
                .iter()
                .map(|r| (describe(&r.when, !shared(&r.next)), r.next.as_str()))
                .collect();
            out.extend(c.else_.as_deref().map(|e| ("otherwise".to_owned(), e)));
            out
        }
        CardKind::Http(c) => vec![
            ("call succeeds".into(), c.next.as_str()),
            (
                "call fails".into(),
                c.on_error.as_deref().unwrap_or(&c.next),
            ),
        ],
    };
    let mut merged: Vec<(String, &str)> = Vec::new();
    for (label, target) in labelled {
        match merged.iter_mut().find(|(_, t)| *t == target) {
            Some((existing, _)) => {
                existing.push_str(" or ");
                existing.push_str(&label);
            }
            None => merged.push((label, target)),
        }
    }
    merged
        .into_iter()
        .map(|(label, target)| Branch {
            input: Some(label),
            to: to(target),
        })
        .collect()
}

/// A condition in words: `score ≥ 20`, `tags contains "enterprise" and …`.
fn describe(cond: &Cond, top: bool) -> String {
    match cond {
        Cond::All(parts) | Cond::Any(parts) => {
            let word = if matches!(cond, Cond::All(_)) {
                " and "
            } else {
                " or "
            };
            let inner: Vec<String> = parts.iter().map(|p| describe(p, false)).collect();
            let joined = inner.join(word);
            if top || parts.len() < 2 {
                joined
            } else {
                format!("({joined})")
            }
        }
        Cond::Test { var, op, value } => {
            let value = value.as_ref().map(show_value).unwrap_or_default();
            match op {
                Op::Eq => format!("{var} = {value}"),
                Op::Ne => format!("{var} ≠ {value}"),
                Op::Contains => format!("{var} contains {value}"),
                Op::In => format!("{var} is one of {value}"),
                Op::Gt => format!("{var} > {value}"),
                Op::Gte => format!("{var} ≥ {value}"),
                Op::Lt => format!("{var} < {value}"),
                Op::Lte => format!("{var} ≤ {value}"),
                Op::Set => format!("{var} is set"),
                Op::Unset => format!("{var} is not set"),
                Op::Matches => format!("{var} matches {value}"),
            }
        }
    }
}

fn show_value(v: &Value) -> String {
    match v {
        Value::Array(items) => {
            let shown: Vec<String> = items.iter().map(show_value).collect();
            format!("[{}]", shown.join(", "))
        }
        other => other.to_string(),
    }
}

impl PathList {
    /// The paths as numbered text, one line per step.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let count = self.paths.len();
        let s = if count == 1 { "" } else { "s" };
        let _ = writeln!(out, "{count} path{s} from '{}'", self.start);
        for (i, path) in self.paths.iter().enumerate() {
            let _ = writeln!(out, "\nPath {}: {}", i + 1, path.ending);
            for step in &path.steps {
                let _ = match &step.input {
                    Some(input) => writeln!(out, "   {} ({}): {input}", step.card, step.card_type),
                    None => writeln!(out, "   {} ({})", step.card, step.card_type),
                };
            }
        }
        if self.truncated {
            let _ = writeln!(
                out,
                "\nOnly the first {} paths are listed; there are more.",
                self.limit
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::check::check_document;
    use crate::playbook::load::Format;

    fn playbook(cards: &str) -> Playbook {
        let src =
            format!("slug: t\nname: T\ntrigger: {{ on: page_load }}\nstart: a\ncards:\n{cards}");
        check_document(&src, Format::Yaml).unwrap_or_else(|r| panic!("{}", r.render("test")))
    }

    /// Each path as "card[input] card … => ending".
    fn summary(list: &PathList) -> Vec<String> {
        list.paths
            .iter()
            .map(|p| {
                let steps: Vec<String> = p
                    .steps
                    .iter()
                    .map(|s| match &s.input {
                        Some(i) => format!("{}[{i}]", s.card),
                        None => s.card.clone(),
                    })
                    .collect();
                format!("{} => {}", steps.join(" "), p.ending)
            })
            .collect()
    }

    #[test]
    fn branches_to_the_same_card_are_one_step_and_loops_end_a_path() {
        let pb = playbook(
            r#"  - id: a
    type: buttons
    text: Pick
    options:
      - { label: One, next: b }
      - { label: Two, next: b }
      - { label: Again, next: a }
    other_next: bye
  - { id: b, type: http, url: "https://x.example/", next: bye }
  - { id: bye, type: redirect, url: "/done" }
"#,
        );
        assert_eq!(
            summary(&paths(&pb, DEFAULT_LIMIT)),
            [
                "a[clicks \"One\" or \"Two\"] b[call succeeds or call fails] bye => redirects to /done",
                "a[clicks \"Again\"] => loops back to 'a'",
                "a[types something else] bye => redirects to /done",
            ]
        );
    }

    #[test]
    fn live_chat_question_and_condition_branches() {
        let pb = playbook(
            r#"  - { id: a, type: live_chat, online_message: Hi, offline_message: Later, wait_seconds: 30, offline_next: q }
  - { id: q, type: question, text: "E-mail?", input: email, save: person.email, max_tries: 2, on_fail: bye, next: c }
  - id: c
    type: condition
    rules:
      - { when: { all: [ { var: score, op: gt, value: 3 }, { var: tags, op: in, value: [a, b] } ] }, next: bye }
      - { when: { var: person.email, op: set }, next: bye }
    else: bye
  - { id: bye, type: end }
"#,
        );
        assert_eq!(
            summary(&paths(&pb, DEFAULT_LIMIT)),
            [
                "a[a rep takes the chat] => handed to a rep",
                "a[no rep online, or none takes the chat within 30 s] q[valid answer] \
                 c[(score > 3 and tags is one of [\"a\", \"b\"]) or person.email is set or \
                 otherwise] bye => ends",
                "a[no rep online, or none takes the chat within 30 s] q[2 invalid answers] \
                 bye => ends",
            ]
        );
    }

    #[test]
    fn enumeration_stops_at_the_limit_and_says_so() {
        // 14 two-way conditions in a row: 16,384 paths.
        let mut cards = String::new();
        for i in 0..14 {
            let id = if i == 0 {
                "a".to_owned()
            } else {
                format!("c{i}")
            };
            let next = if i == 13 {
                "bye".to_owned()
            } else {
                format!("c{}", i + 1)
            };
            cards.push_str(&format!(
                "  - {{ id: {id}, type: condition, rules: [ {{ when: {{ var: score, op: gt, value: {i} }}, next: m{i} }} ], else: {next} }}\n  - {{ id: m{i}, type: message, text: x, next: {next} }}\n"
            ));
        }
        cards.push_str("  - { id: bye, type: end }\n");
        let pb = playbook(&cards);
        let list = paths(&pb, 1000);
        assert!(list.truncated);
        assert_eq!(list.paths.len(), 1000);
        assert!(
            list.render()
                .ends_with("Only the first 1000 paths are listed; there are more.\n")
        );
        let all = paths(&pb, 20_000);
        assert!(!all.truncated);
        assert_eq!(all.paths.len(), 1 << 14);
    }
}
