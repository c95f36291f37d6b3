//! Templates in card fields: their syntax, the variables they name, and whether any path
//! to the card can have set them.

use crate::playbook::model::{Card, CardKind};
use crate::playbook::template::{Candidate, Template};
use crate::playbook::vars;

use super::edges::{field_pointer, key_pointer};
use super::graph::Graph;
use super::varset::VarSet;
use super::{CardRef, Problem};

/// Where a template sits in its card.
#[derive(Debug, Clone, Copy)]
pub enum Place<'a> {
    /// A field, like `text` or `activity.subject`.
    Field(&'static str),
    /// A key of a mapping field: `set.vars.x`, `headers.Accept`.
    Key(&'static str, &'a str),
}

impl Place<'_> {
    /// The field as reports name it: `text`, `activity.subject`, `headers.Accept`, …
    fn name(self) -> String {
        match self {
            Place::Field(name) => name.to_owned(),
            Place::Key(field, key) => format!("{field}.{key}"),
        }
    }

    fn pointer(self, index: usize) -> String {
        match self {
            Place::Field(name) => field_pointer(index, &name.replace('.', "/")),
            Place::Key(field, key) => key_pointer(index, field, key),
        }
    }
}

/// A parsed template and where it sits.
#[derive(Debug)]
pub struct TemplateUse<'a> {
    pub place: Place<'a>,
    pub template: Template,
}

/// Every field of `card` that is a template, with its source.
fn fields(card: &Card) -> Vec<(Place<'_>, &str)> {
    fn field<'a>(out: &mut Vec<(Place<'a>, &'a str)>, name: &'static str, src: &'a str) {
        out.push((Place::Field(name), src));
    }
    let mut out = Vec::new();
    match &card.kind {
        CardKind::Message(c) => field(&mut out, "text", &c.text),
        CardKind::Question(c) => {
            for (name, value) in [
                ("text", &c.text),
                ("placeholder", &c.placeholder),
                ("retry_text", &c.retry_text),
            ] {
                if let Some(v) = value {
                    field(&mut out, name, v);
                }
            }
        }
        CardKind::Buttons(c) => {
            if let Some(t) = &c.text {
                field(&mut out, "text", t);
            }
        }
        CardKind::Condition(_) => {}
        CardKind::Set(c) => {
            for (key, value) in &c.set {
                if let Some(text) = value.as_str() {
                    out.push((Place::Key("set", key), text));
                }
            }
        }
        CardKind::Http(c) => {
            field(&mut out, "url", &c.url);
            if let Some(b) = &c.body {
                field(&mut out, "body", b);
            }
            for (key, value) in &c.headers {
                out.push((Place::Key("headers", key), value.as_str()));
            }
        }
        CardKind::LiveChat(c) => {
            field(&mut out, "online_message", &c.online_message);
            field(&mut out, "offline_message", &c.offline_message);
        }
        CardKind::Capture(c) => {
            field(&mut out, "title", &c.title);
            if let Some(a) = &c.activity {
                field(&mut out, "activity.subject", &a.subject);
                if let Some(due) = &a.due {
                    field(&mut out, "activity.due", due);
                }
            }
        }
        CardKind::Notify(c) => {
            field(&mut out, "subject", &c.subject);
            field(&mut out, "body", &c.body);
        }
        CardKind::Redirect(c) => field(&mut out, "url", &c.url),
        CardKind::End(c) => {
            if let Some(t) = &c.text {
                field(&mut out, "text", t);
            }
        }
    }
    out
}

/// Parse every template of a card, reporting syntax errors and unknown variable names.
/// Returns the templates that parsed, for [`check_sources`].
pub fn parse_all<'a>(card: CardRef<'a>, problems: &mut Vec<Problem>) -> Vec<TemplateUse<'a>> {
    let mut uses = Vec::new();
    for (place, src) in fields(card.card) {
        // Text without a placeholder is always valid and needs no checking.
        if !src.contains("{{") {
            continue;
        }
        match Template::parse(src) {
            Ok(template) => {
                for slot in template.slots() {
                    for candidate in slot {
                        if let Candidate::Var(name) = candidate
                            && !vars::is_known(name)
                        {
                            problems.push(card.problem_at(
                                place.pointer(card.index),
                                format!("{} names unknown variable '{name}'", place.name()),
                            ));
                        }
                    }
                }
                uses.push(TemplateUse { place, template });
            }
            Err(e) => problems.push(card.problem_at(
                place.pointer(card.index),
                format!(
                    "template error in {}: {}",
                    place.name(),
                    e.to_string().replace('`', "'")
                ),
            )),
        }
    }
    uses
}

/// Report each placeholder none of whose variables (or fallbacks) any path to the card
/// can have set. Placeholders naming an unknown variable were reported already.
pub fn check_sources(
    card: CardRef<'_>,
    uses: &[TemplateUse<'_>],
    may_be_set: &VarSet,
    graph: &Graph<'_>,
    problems: &mut Vec<Problem>,
) {
    for u in uses {
        for slot in u.template.slots() {
            let has_value = |c: &Candidate| match c {
                Candidate::Quoted(_) => true,
                Candidate::Var(name) => {
                    !vars::is_known(name)
                        || vars::is_always_set(name)
                        || graph.var(name).is_some_and(|v| may_be_set.contains(v))
                }
            };
            if slot.iter().any(has_value) {
                continue;
            }
            let names: Vec<&str> = slot
                .iter()
                .filter_map(|c| match c {
                    Candidate::Var(n) => Some(n.as_str()),
                    Candidate::Quoted(_) => None,
                })
                .collect();
            let written = Template {
                parts: vec![crate::playbook::template::Part::Slot(slot.to_vec())],
            };
            let which = match names.as_slice() {
                [one] => (*one).to_owned(),
                [first, rest @ ..] => {
                    let s = if rest.len() == 1 { "" } else { "s" };
                    format!("{first} or its fallback{s} {}", rest.join(", "))
                }
                [] => continue,
            };
            problems.push(card.problem_at(
                u.place.pointer(card.index),
                format!(
                    "'{written}' in {}: no path to this card sets {which}",
                    u.place.name()
                ),
            ));
        }
    }
}
