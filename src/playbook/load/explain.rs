//! Decoding errors in the words of the playbook format.

use super::decode::{DecodeError, Located, Step};
use super::suggest::closest;

/// A message for a decoding error; paths are written relative to the card (or to the
/// playbook's top level), like `options[1].next`.
pub fn explain(err: &Located) -> String {
    let path = display_path(&err.path);
    let inside = if path.is_empty() {
        String::new()
    } else {
        format!(" in {path}")
    };
    match &err.error {
        DecodeError::UnknownField { field, expected } => {
            format!("unknown key '{field}'{inside}{}", hint(field, expected))
        }
        DecodeError::UnknownVariant { variant, expected } => {
            let key = match err.path.last() {
                Some(Step::Key(k)) => k.as_str(),
                _ => "",
            };
            let parent = display_path(&err.path[..err.path.len().saturating_sub(1)]);
            let what = match key {
                "input" => "input kind".to_owned(),
                "op" => "operator".to_owned(),
                "on" => "trigger".to_owned(),
                "method" => "http method".to_owned(),
                "create" => "capture target".to_owned(),
                "note" => "note mode".to_owned(),
                "language" => "language".to_owned(),
                "visitors" => "visitor filter".to_owned(),
                "hours" => "hours filter".to_owned(),
                _ => format!("value for '{path}'"),
            };
            let inside = if parent.is_empty() {
                String::new()
            } else {
                format!(" in {parent}")
            };
            let did_you_mean = match closest(variant, expected.iter().copied()) {
                Some(s) => format!("; did you mean '{s}'?"),
                None => String::new(),
            };
            format!(
                "unknown {what} '{variant}'{inside} (expected one of {}){did_you_mean}",
                expected.join(", ")
            )
        }
        DecodeError::MissingField(field) => format!("missing key '{field}'{inside}"),
        DecodeError::InvalidType { found, expected }
        | DecodeError::InvalidValue { found, expected } => {
            if path.is_empty() {
                format!("expected {expected}, found {found}")
            } else {
                format!("'{path}' must be {expected}, not {found}")
            }
        }
        DecodeError::Custom(msg) => {
            if path.is_empty() {
                msg.clone()
            } else {
                format!("{path}: {msg}")
            }
        }
    }
}

fn hint(field: &str, expected: &[&'static str]) -> String {
    if let Some(s) = closest(field, expected.iter().copied()) {
        format!("; did you mean '{s}'?")
    } else if expected.is_empty() {
        String::new()
    } else {
        format!(" (expected one of {})", expected.join(", "))
    }
}

/// `options[1].next`, `trigger.urls.include[0]`.
fn display_path(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}
