//! The transitions out of each card, with the field they come from and what they save.

use crate::playbook::load::pointer;
use crate::playbook::model::{Card, CardKind};

/// The field a transition comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `next`, `on_fail`, `other_next`, `else`, `on_error` or `offline_next`.
    Plain(&'static str),
    /// `options[i].next`.
    Option(usize),
    /// `rules[i].next`.
    Rule(usize),
}

impl Field {
    /// The field as reports name it: `next`, `options[1].next`, `else`, …
    pub fn name(self) -> String {
        match self {
            Field::Plain(name) => name.to_owned(),
            Field::Option(i) => format!("options[{i}].next"),
            Field::Rule(i) => format!("rules[{i}].next"),
        }
    }

    /// JSON pointer of the field, relative to the card (`options/1/next`).
    pub fn pointer(self) -> String {
        match self {
            Field::Plain(name) => name.to_owned(),
            Field::Option(i) => format!("options/{i}/next"),
            Field::Rule(i) => format!("rules/{i}/next"),
        }
    }
}

/// One transition, as the validator sees it.
#[derive(Debug, Clone)]
pub struct EdgeSpec<'a> {
    pub field: Field,
    pub target: &'a str,
    /// Variables this transition saves.
    pub saves: Vec<&'a str>,
    /// Whether the saves happen every time this transition is taken (a question without
    /// `on_fail` also takes `next` after too many invalid answers, saving nothing).
    pub certain: bool,
    /// Variables this transition clears (a set card giving `null`).
    pub clears: Vec<&'a str>,
}

impl<'a> EdgeSpec<'a> {
    fn new(field: Field, target: &'a str) -> Self {
        EdgeSpec {
            field,
            target,
            saves: Vec::new(),
            certain: true,
            clears: Vec::new(),
        }
    }

    fn saving(mut self, saves: Vec<&'a str>, certain: bool) -> Self {
        self.saves = saves;
        self.certain = certain;
        self
    }
}

/// Every transition out of `card`, in document order.
pub fn edges(card: &Card) -> Vec<EdgeSpec<'_>> {
    let mut out = Vec::new();
    match &card.kind {
        CardKind::Message(c) => out.push(EdgeSpec::new(Field::Plain("next"), &c.next)),
        CardKind::Question(c) => {
            let saves = c.save.as_deref().into_iter().collect();
            out.push(
                EdgeSpec::new(Field::Plain("next"), &c.next).saving(saves, c.on_fail.is_some()),
            );
            if let Some(f) = &c.on_fail {
                out.push(EdgeSpec::new(Field::Plain("on_fail"), f));
            }
        }
        CardKind::Buttons(c) => {
            let saves: Vec<&str> = c.save.as_deref().into_iter().collect();
            for (i, o) in c.options.iter().enumerate() {
                out.push(EdgeSpec::new(Field::Option(i), &o.next).saving(saves.clone(), true));
            }
            if let Some(n) = &c.other_next {
                out.push(EdgeSpec::new(Field::Plain("other_next"), n).saving(saves, true));
            }
        }
        CardKind::Condition(c) => {
            for (i, r) in c.rules.iter().enumerate() {
                out.push(EdgeSpec::new(Field::Rule(i), &r.next));
            }
            if let Some(e) = &c.else_ {
                out.push(EdgeSpec::new(Field::Plain("else"), e));
            }
        }
        CardKind::Set(c) => {
            let saves = c
                .set
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, _)| k.as_str())
                .collect();
            let mut edge = EdgeSpec::new(Field::Plain("next"), &c.next).saving(saves, true);
            edge.clears = c
                .set
                .iter()
                .filter(|(_, v)| v.is_null())
                .map(|(k, _)| k.as_str())
                .collect();
            out.push(edge);
        }
        CardKind::Http(c) => {
            let saves = c.save.keys().map(String::as_str).collect();
            out.push(
                EdgeSpec::new(Field::Plain("next"), &c.next).saving(saves, c.on_error.is_some()),
            );
            if let Some(e) = &c.on_error {
                out.push(EdgeSpec::new(Field::Plain("on_error"), e));
            }
        }
        CardKind::LiveChat(c) => {
            if let Some(n) = &c.offline_next {
                out.push(EdgeSpec::new(Field::Plain("offline_next"), n));
            }
        }
        CardKind::Capture(c) => out.push(EdgeSpec::new(Field::Plain("next"), &c.next)),
        CardKind::Notify(c) => out.push(EdgeSpec::new(Field::Plain("next"), &c.next)),
        CardKind::Redirect(c) => {
            if let Some(n) = &c.next {
                out.push(EdgeSpec::new(Field::Plain("next"), n));
            }
        }
        CardKind::End(_) => {}
    }
    out
}

/// The pointer of a field of the card at document index `index`.
pub fn field_pointer(index: usize, relative: &str) -> String {
    if relative.is_empty() {
        format!("/cards/{index}")
    } else {
        format!("/cards/{index}/{relative}")
    }
}

/// The pointer of a key of a mapping field (`set`, `save`, `headers`).
pub fn key_pointer(index: usize, field: &str, key: &str) -> String {
    pointer::join(&format!("/cards/{index}/{field}"), [key])
}
