//! Templates in card fields: their syntax, the variables they name, and whether any path
//! to the card can have set them.

use crate::playbook::model::{Card, CardKind};
use crate::playbook::template::{Candidate, Template};
use crate::playbook::vars;

use super::edges::{field_pointer, key_pointer};
use super::graph::Graph;
use super::varset::VarSet;
use super::{CardRef, Problem};

/// A parsed template and where it sits.
#[derive(Debug)]
pub struct TemplateUse {
    /// The field as reports name it: `text`, `options[0].label`, `headers.Accept`, …
    pub field: String,
    pub pointer: String,
    pub template: Template,
}

type Field<'a> = (String, String, &'a str);

fn push<'a>(out: &mut Vec<Field<'a>>, index: usize, field: &str, src: &'a str) {
    let relative = field.replace('.', "/");
    out.push((field.to_owned(), field_pointer(index, &relative), src));
}

/// Every field of `card` that is a template, as (field name, pointer, source).
fn fields(index: usize, card: &Card) -> Vec<Field<'_>> {
    let mut out = Vec::new();
    match &card.kind {
        CardKind::Message(c) => push(&mut out, index, "text", &c.text),
        CardKind::Question(c) => {
            for (name, value) in [
                ("text", &c.text),
                ("placeholder", &c.placeholder),
                ("retry_text", &c.retry_text),
            ] {
                if let Some(v) = value {
                    push(&mut out, index, name, v);
                }
            }
        }
        CardKind::Buttons(c) => {
            if let Some(t) = &c.text {
                push(&mut out, index, "text", t);
            }
            for (i, o) in c.options.iter().enumerate() {
                out.push((
                    format!("options[{i}].label"),
                    field_pointer(index, &format!("options/{i}/label")),
                    &o.label,
                ));
            }
        }
        CardKind::Condition(_) => {}
        CardKind::Set(c) => {
            for (key, value) in &c.set {
                if let Some(text) = value.as_str() {
                    out.push((format!("set.{key}"), key_pointer(index, "set", key), text));
                }
            }
        }
        CardKind::Http(c) => {
            push(&mut out, index, "url", &c.url);
            if let Some(b) = &c.body {
                push(&mut out, index, "body", b);
            }
            for (key, value) in &c.headers {
                out.push((
                    format!("headers.{key}"),
                    key_pointer(index, "headers", key),
                    value,
                ));
            }
        }
        CardKind::LiveChat(c) => {
            push(&mut out, index, "online_message", &c.online_message);
            push(&mut out, index, "offline_message", &c.offline_message);
        }
        CardKind::Capture(c) => {
            push(&mut out, index, "title", &c.title);
            if let Some(a) = &c.activity {
                push(&mut out, index, "activity.subject", &a.subject);
            }
        }
        CardKind::Notify(c) => {
            push(&mut out, index, "subject", &c.subject);
            push(&mut out, index, "body", &c.body);
        }
        CardKind::Redirect(c) => push(&mut out, index, "url", &c.url),
        CardKind::End(c) => {
            if let Some(t) = &c.text {
                push(&mut out, index, "text", t);
            }
        }
    }
    out
}

/// Parse every template of a card, reporting syntax errors and unknown variable names.
/// Returns the templates that parsed, for [`check_sources`].
pub fn parse_all(card: CardRef<'_>, problems: &mut Vec<Problem>) -> Vec<TemplateUse> {
    let mut uses = Vec::new();
    for (field, pointer, src) in fields(card.index, card.card) {
        match Template::parse(src) {
            Ok(template) => {
                for slot in template.slots() {
                    for candidate in slot {
                        if let Candidate::Var(name) = candidate
                            && !vars::is_known(name)
                        {
                            problems.push(card.problem_at(
                                pointer.clone(),
                                format!("{field} names unknown variable '{name}'"),
                            ));
                        }
                    }
                }
                uses.push(TemplateUse {
                    field,
                    pointer,
                    template,
                });
            }
            Err(e) => problems.push(card.problem_at(
                pointer,
                format!(
                    "template error in {field}: {}",
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
    uses: &[TemplateUse],
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
                u.pointer.clone(),
                format!(
                    "'{written}' in {}: no path to this card sets {which}",
                    u.field
                ),
            ));
        }
    }
}
