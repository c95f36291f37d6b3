//! A playbook as YAML text, for files made by the program (generated drafts): every value
//! of the document written out, read back by [`super::check::check_document`] as the same
//! playbook. Text that YAML could read as something else is quoted; long text with line
//! breaks is written as a literal block.

use serde_json::Value;
use yaml_rust2::yaml::Hash;
use yaml_rust2::{Yaml, YamlEmitter};

use super::model::Playbook;

/// The playbook as a YAML document.
pub fn to_yaml(playbook: &Playbook) -> Result<String, String> {
    let value = serde_json::to_value(playbook).map_err(|e| e.to_string())?;
    value_to_yaml(&value)
}

/// Any JSON document (a draft that may not be valid yet) as YAML.
pub fn value_to_yaml(value: &Value) -> Result<String, String> {
    let mut out = String::new();
    let mut emitter = YamlEmitter::new(&mut out);
    emitter.multiline_strings(true);
    emitter.dump(&yaml(value)).map_err(|e| e.to_string())?;
    let body = out.strip_prefix("---\n").unwrap_or(&out);
    Ok(format!("{}\n", body.trim_end()))
}

fn yaml(value: &Value) -> Yaml {
    match value {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => Yaml::Real(n.to_string()),
        },
        Value::String(s) => Yaml::String(s.clone()),
        Value::Array(items) => Yaml::Array(items.iter().map(yaml).collect()),
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by_key(|(k, _)| (rank(k), k.as_str()));
            let mut hash = Hash::new();
            for (k, v) in entries {
                hash.insert(Yaml::String(k.clone()), yaml(v));
            }
            Yaml::Hash(hash)
        }
    }
}

/// The order keys are written in, as people write them (`docs/PLAYBOOKS.md`): what a thing
/// is first, where it leads last. Keys not listed (variables, headers) follow, sorted.
const KEY_ORDER: &[&str] = &[
    "slug",
    "name",
    "language",
    "priority",
    "trigger",
    "on",
    "delay_seconds",
    "selector",
    "keywords",
    "urls",
    "include",
    "exclude",
    "visitors",
    "languages",
    "hours",
    "exit_words",
    "start",
    "cards",
    "id",
    "type",
    "text",
    "input",
    "save",
    "placeholder",
    "retry_text",
    "max_tries",
    "label",
    "value",
    "options",
    "rules",
    "when",
    "all",
    "any",
    "var",
    "op",
    "to",
    "subject",
    "method",
    "url",
    "headers",
    "body",
    "timeout_seconds",
    "online_message",
    "wait_seconds",
    "offline_message",
    "create",
    "title",
    "amount",
    "currency",
    "expected_close_days",
    "owner",
    "activity",
    "due",
    "due_in_days",
    "note",
    "to",
    "set",
    "add_score",
    "score",
    "add_tags",
    "tags",
    "next",
    "other_next",
    "else",
    "on_fail",
    "on_error",
    "offline_next",
];

fn rank(key: &str) -> usize {
    KEY_ORDER
        .iter()
        .position(|k| *k == key)
        .unwrap_or(KEY_ORDER.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::check::check_document;
    use crate::playbook::load::Format;

    #[test]
    fn shipped_playbooks_read_back_equal() {
        for src in [
            include_str!("../../playbooks/lead-qualification.yaml"),
            include_str!("../../playbooks/appointment-booking.yaml"),
            include_str!("../../playbooks/support-triage.yaml"),
            include_str!("../../playbooks/satisfaction-survey.yaml"),
            include_str!("../../playbooks/product-recommendation.yaml"),
            include_str!("../../playbooks/order-status.yaml"),
        ] {
            let playbook = check_document(src, Format::Yaml).unwrap();
            let text = to_yaml(&playbook).unwrap();
            let again = check_document(&text, Format::Yaml)
                .unwrap_or_else(|r| panic!("{}\n{text}", r.render("emitted")));
            assert_eq!(again, playbook, "{text}");
        }
    }

    #[test]
    fn keys_come_in_the_order_people_write_them() {
        let src = include_str!("../../playbooks/lead-qualification.yaml");
        let playbook = check_document(src, Format::Yaml).unwrap();
        let text = to_yaml(&playbook).unwrap();
        let at = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("{needle}\n{text}"))
        };
        assert!(at("slug:") < at("name:") && at("name:") < at("trigger:"));
        assert!(at("trigger:") < at("start:") && at("start:") < at("cards:"));
        assert!(
            at("- id: welcome\n    type: message") < at("    next: team_size"),
            "{text}"
        );
    }

    #[test]
    fn tricky_text_stays_text() {
        let src = include_str!("../../playbooks/lead-qualification.yaml");
        let mut playbook = check_document(src, Format::Yaml).unwrap();
        playbook.name = "yes: no # not a comment".into();
        playbook.exit_words = vec![
            "no".into(),
            "on".into(),
            "3.0".into(),
            "null".into(),
            "- x".into(),
        ];
        if let crate::playbook::CardKind::Message(m) = &mut playbook.cards[0].kind {
            m.text = "Line one\nline \"two\": {{ person.name | \"there\" }}\n".into();
        }
        let text = to_yaml(&playbook).unwrap();
        let again = check_document(&text, Format::Yaml)
            .unwrap_or_else(|r| panic!("{}\n{text}", r.render("emitted")));
        assert_eq!(again, playbook, "{text}");
    }
}
