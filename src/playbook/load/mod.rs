//! Loading a playbook document — a YAML file or a JSON API document — into the typed
//! model, collecting every problem instead of stopping at the first.
//!
//! The top level and each card are decoded separately, so one bad card does not hide the
//! problems of the others. Unknown keys are reported and dropped, and decoding goes on, so
//! a card with three misspelt keys gets three problems.

mod decode;
mod explain;
pub mod pointer;
mod suggest;
pub mod yaml;

use std::path::Path;

use serde_json::{Map, Value};

use super::model::{
    ButtonsCard, CaptureCard, Card, CardKind, ConditionCard, EndCard, HttpCard, LiveChatCard,
    MessageCard, NotifyCard, Playbook, QuestionCard, RedirectCard, SetCard,
};
use super::validate::Problem;
use decode::{DecodeError, Located, Step};
pub use suggest::closest;

/// How a document is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
}

impl Format {
    /// JSON for `.json` files, YAML for everything else.
    pub fn from_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("json") => Format::Json,
            _ => Format::Yaml,
        }
    }
}

/// What could be loaded from a document, and what was wrong with it.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The top-level fields (its `cards` list is empty), when they could be decoded.
    pub header: Option<Playbook>,
    /// Each card that could be decoded, with its index in the document.
    pub cards: Vec<(usize, Card)>,
    /// Ids of the cards that could not be decoded (they still count as existing).
    pub broken_ids: Vec<String>,
    /// Number of entries in the document's `cards` list.
    pub card_count: usize,
    pub problems: Vec<Problem>,
}

impl Loaded {
    /// The whole playbook, when every part of it could be decoded (unknown keys dropped).
    pub fn playbook(&self) -> Option<Playbook> {
        let header = self.header.as_ref()?;
        if self.cards.len() != self.card_count {
            return None;
        }
        let mut playbook = header.clone();
        playbook.cards = self.cards.iter().map(|(_, c)| c.clone()).collect();
        Some(playbook)
    }
}

/// Decode a parsed document.
pub fn load_value(value: &Value) -> Loaded {
    let mut loaded = Loaded::default();
    let Value::Object(root) = value else {
        loaded.problems.push(Problem::playbook(
            "",
            "a playbook must be a mapping of keys (slug, name, trigger, start, cards)",
        ));
        return loaded;
    };
    let cards: &[Value] = match root.get("cards") {
        Some(Value::Array(cards)) => cards,
        Some(_) => {
            loaded.problems.push(Problem::playbook(
                "/cards",
                "'cards' must be a list of cards",
            ));
            &[]
        }
        None => {
            loaded
                .problems
                .push(Problem::playbook("", "missing key 'cards'"));
            &[]
        }
    };
    let mut header = root.clone();
    header.insert("cards".into(), Value::Array(Vec::new()));
    loaded.header = decode_lenient(
        Value::Object(header),
        "",
        decode::decode::<Playbook>,
        |pointer, message| loaded.problems.push(Problem::playbook(pointer, message)),
    );
    loaded.card_count = cards.len();
    for (index, card) in cards.iter().enumerate() {
        match load_card(index, card, &mut loaded.problems) {
            Ok(card) => loaded.cards.push((index, card)),
            Err(Some(id)) => loaded.broken_ids.push(id),
            Err(None) => {}
        }
    }
    loaded
}

/// Decode one card; on failure, the card's id when it has one.
fn load_card(
    index: usize,
    value: &Value,
    problems: &mut Vec<Problem>,
) -> Result<Card, Option<String>> {
    let base = format!("/cards/{index}");
    let Value::Object(entries) = value else {
        problems.push(Problem::playbook(
            base,
            format!(
                "card #{} must be a mapping with an id and a type",
                index + 1
            ),
        ));
        return Err(None);
    };
    let id = match entries.get("id") {
        Some(Value::String(id)) => Some(id.clone()),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Some(v.to_string()),
        _ => None,
    };
    let mut report = |pointer: String, message: String| {
        problems.push(match &id {
            Some(id) => Problem::card(id, pointer, message),
            None => Problem::playbook(pointer, format!("card #{}: {message}", index + 1)),
        })
    };
    match entries.get("id") {
        None => report(base.clone(), "missing key 'id'".into()),
        Some(Value::Null) => report(format!("{base}/id"), "'id' is empty".into()),
        Some(Value::Array(_) | Value::Object(_)) => {
            report(format!("{base}/id"), "'id' must be text".into())
        }
        Some(_) => {}
    }
    let type_name = match entries.get("type") {
        Some(Value::String(t)) if CardKind::TYPE_NAMES.contains(&t.as_str()) => t.as_str(),
        Some(Value::String(t)) => {
            let hint = match closest(t, CardKind::TYPE_NAMES) {
                Some(s) => format!("; did you mean '{s}'?"),
                None => String::new(),
            };
            report(
                format!("{base}/type"),
                format!(
                    "unknown card type '{t}' (expected one of {}){hint}",
                    CardKind::TYPE_NAMES.join(", ")
                ),
            );
            return Err(id);
        }
        Some(_) => {
            report(format!("{base}/type"), "'type' must be text".into());
            return Err(id);
        }
        None => {
            report(
                base,
                format!(
                    "missing key 'type' (one of {})",
                    CardKind::TYPE_NAMES.join(", ")
                ),
            );
            return Err(id);
        }
    };
    let mut body: Map<String, Value> = entries.clone();
    body.remove("id");
    body.remove("type");
    let decode_kind = kind_decoder(type_name);
    let kind = decode_lenient(Value::Object(body), &base, decode_kind, &mut report);
    match (id, kind) {
        (Some(id), Some(kind)) => Ok(Card { id, kind }),
        (id, _) => Err(id),
    }
}

type KindDecoder = fn(&Value) -> Result<CardKind, Located>;

/// The decoder for the body of a card of this type.
fn kind_decoder(type_name: &str) -> KindDecoder {
    use decode::decode as d;
    match type_name {
        "message" => |v| d::<MessageCard>(v).map(CardKind::Message),
        "question" => |v| d::<QuestionCard>(v).map(CardKind::Question),
        "buttons" => |v| d::<ButtonsCard>(v).map(CardKind::Buttons),
        "condition" => |v| d::<ConditionCard>(v).map(CardKind::Condition),
        "set" => |v| d::<SetCard>(v).map(CardKind::Set),
        "http" => |v| d::<HttpCard>(v).map(CardKind::Http),
        "live_chat" => |v| d::<LiveChatCard>(v).map(CardKind::LiveChat),
        "capture" => |v| d::<CaptureCard>(v).map(CardKind::Capture),
        "notify" => |v| d::<NotifyCard>(v).map(CardKind::Notify),
        "redirect" => |v| d::<RedirectCard>(v).map(CardKind::Redirect),
        _ => |v| d::<EndCard>(v).map(CardKind::End),
    }
}

/// Decode with `decode`, reporting each problem as (pointer, message).
///
/// To find every problem, an unknown key is reported, removed and decoding retried; any
/// other bad value is reported and removed too, and decoding goes on only to look for
/// more problems (the result is then dropped, and the "missing key" that removing a
/// required key causes is not reported).
fn decode_lenient<T>(
    mut value: Value,
    base: &str,
    decode: impl Fn(&Value) -> Result<T, Located>,
    mut report: impl FnMut(String, String),
) -> Option<T> {
    const MAX_RETRIES: usize = 64;
    let mut removed: Vec<(Vec<String>, String)> = Vec::new();
    for _ in 0..MAX_RETRIES {
        let err = match decode(&value) {
            Ok(out) => return removed.is_empty().then_some(out),
            Err(err) => err,
        };
        let rel: Vec<String> = err.path.iter().map(step_token).collect();
        let at = pointer::join(base, &rel);
        let (parent, key) = match &err.error {
            DecodeError::UnknownField { field, .. } => {
                report(pointer::join(&at, [field]), explain::explain(&err));
                (rel, field.clone())
            }
            DecodeError::MissingField(field)
                if removed.iter().any(|(p, k)| *p == rel && k == field) =>
            {
                return None;
            }
            _ => {
                report(at, explain::explain(&err));
                let (key, parent) = rel.split_last()?;
                removed.push((parent.to_vec(), key.clone()));
                (parent.to_vec(), key.clone())
            }
        };
        value
            .pointer_mut(&pointer::join("", &parent))
            .and_then(Value::as_object_mut)
            .and_then(|entries| entries.remove(&key))?;
    }
    None
}

fn step_token(step: &Step) -> String {
    match step {
        Step::Key(k) => k.clone(),
        Step::Index(i) => i.to_string(),
    }
}
