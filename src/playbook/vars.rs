//! Conversation variables: `visitor.*`, `person.*`, `org.*`, `deal.*`, `vars.*`, `score`
//! and `tags`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The fixed variables a playbook may read or save, besides `vars.NAME`.
pub const KNOWN_VARIABLES: &[&str] = &[
    "person.name",
    "person.email",
    "person.phone",
    "org.name",
    "org.address",
    "deal.value",
    "deal.currency",
    "deal.expected_close_date",
    "visitor.url",
    "visitor.referrer",
    "visitor.language",
    "visitor.utm_source",
    "visitor.utm_medium",
    "visitor.utm_campaign",
    "visitor.utm_term",
    "visitor.utm_content",
    "visitor.returning",
    "visitor.known",
    "score",
    "tags",
];

/// Is `path` a variable a playbook may name?
pub fn is_known(path: &str) -> bool {
    KNOWN_VARIABLES.contains(&path) || custom_name(path).is_some()
}

/// Variables the engine always has a value for (the validator counts them as set).
pub fn is_always_set(path: &str) -> bool {
    path == "score" || path == "tags" || path.starts_with("visitor.") && is_known(path)
}

/// May a card save into this variable? (`visitor.*`, `score` and `tags` are read-only.)
pub fn is_writable(path: &str) -> bool {
    is_known(path) && !is_always_set(path)
}

fn custom_name(path: &str) -> Option<&str> {
    let name = path.strip_prefix("vars.")?;
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    ok.then_some(name)
}

/// The variables of one conversation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Vars {
    #[serde(default)]
    pub values: BTreeMap<String, Value>,
    #[serde(default)]
    pub score: i64,
    #[serde(default)]
    pub tags: BTreeSet<String>,
}

impl Vars {
    /// The value at `path`; `score` and `tags` included. `null` counts as unset.
    pub fn get(&self, path: &str) -> Option<Value> {
        match path {
            "score" => Some(Value::from(self.score)),
            "tags" => Some(Value::from(self.tags.iter().cloned().collect::<Vec<_>>())),
            _ => self.values.get(path).filter(|v| !v.is_null()).cloned(),
        }
    }

    /// The value at `path` as display text: strings as they are, lists joined by ", ".
    pub fn get_text(&self, path: &str) -> Option<String> {
        self.get(path).map(|v| value_text(&v))
    }

    /// The text a template inserts for `path`: `None` when it is unset or empty (an
    /// empty string, list or set), so that the placeholder's fallback is used instead.
    pub fn template_text(&self, path: &str) -> Option<String> {
        let text = match path {
            "tags" if self.tags.is_empty() => return None,
            "score" | "tags" => self.get_text(path)?,
            _ => match self.values.get(path)? {
                Value::Null => return None,
                Value::String(s) => s.clone(),
                other => value_text(other),
            },
        };
        (!text.is_empty()).then_some(text)
    }

    pub fn is_set(&self, path: &str) -> bool {
        match path {
            "score" | "tags" => true,
            _ => self.values.get(path).is_some_and(|v| !v.is_null()),
        }
    }

    /// Store `value` at `path`. `score` takes a number, `tags` a list or a single tag.
    pub fn set(&mut self, path: &str, value: Value) {
        match path {
            "score" => self.score = value_number(&value).map(|n| n as i64).unwrap_or(0),
            "tags" => {
                self.tags = match value {
                    Value::Array(items) => items.iter().map(value_text).collect(),
                    other => std::iter::once(value_text(&other)).collect(),
                }
            }
            _ => {
                self.values.insert(path.to_owned(), value);
            }
        }
    }

    pub fn add_score(&mut self, delta: i64) {
        self.score = self.score.saturating_add(delta);
    }

    pub fn add_tag(&mut self, tag: &str) {
        self.tags.insert(tag.to_owned());
    }
}

/// A value as text, the way templates insert it.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// A value as a number, when it is one or is text that reads as one.
pub fn value_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn known_paths() {
        assert!(is_known("person.email"));
        assert!(is_known("vars.order_id"));
        assert!(!is_known("vars."));
        assert!(!is_known("person.age"));
        assert!(is_always_set("visitor.url"));
        assert!(!is_writable("score"));
        assert!(is_writable("deal.value"));
    }

    #[test]
    fn null_is_unset() {
        let mut v = Vars::default();
        v.set("vars.x", Value::Null);
        assert!(!v.is_set("vars.x"));
        assert_eq!(v.get("vars.x"), None);
        v.set("vars.x", json!(3));
        assert_eq!(v.get_text("vars.x").as_deref(), Some("3"));
    }
}
