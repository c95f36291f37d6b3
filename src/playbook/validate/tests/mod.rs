//! One test per validation rule: a playbook with exactly that fault, and the exact problem.

use crate::playbook::check::check_document;
use crate::playbook::load::Format;

/// A playbook with the given cards (the first is `hi`, the start).
pub(super) fn doc(cards: &str) -> String {
    format!("slug: test\nname: Test\ntrigger: {{ on: page_load }}\nstart: hi\ncards:\n{cards}")
}

/// The cards of a valid playbook, used as the base of most tests.
pub(super) const BASE: &str = r#"  - { id: hi, type: message, text: "Hi {{ person.name | \"there\" }}!", next: ask }
  - { id: ask, type: question, text: "E-mail?", input: email, save: person.email, on_fail: bye, next: cap }
  - { id: cap, type: capture, title: "{{ person.email }}", next: bye }
  - { id: bye, type: end, text: "Bye" }
"#;

/// `BASE` with one card replaced (by its id), or more cards added.
pub(super) fn base_with(id: &str, card: &str) -> String {
    let mut out = String::new();
    let mut replaced = false;
    for line in BASE.lines() {
        if line.contains(&format!("{{ id: {id},")) {
            out.push_str(card);
            replaced = true;
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    if !replaced {
        out.push_str(card);
        out.push('\n');
    }
    doc(&out)
}

/// Every problem as `LINE: card 'ID': message`, or empty when the document is valid.
pub(super) fn problems(src: &str) -> Vec<String> {
    match check_document(src, Format::Yaml) {
        Ok(_) => Vec::new(),
        Err(report) => report
            .problems
            .iter()
            .map(|f| {
                let line = f.line.map(|l| l.to_string()).unwrap_or_default();
                format!("{line}: {}: {}", f.problem.subject(), f.problem.message)
            })
            .collect(),
    }
}

mod cards;
mod flow;
mod loading;
