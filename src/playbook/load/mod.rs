//! Loading a playbook document — a YAML file or a JSON API document — into the typed
//! model, collecting every problem instead of stopping at the first.
//!
//! The top level and each card are decoded separately, so one bad card does not hide the
//! problems of the others. Unknown keys are reported and dropped, and decoding goes on, so
//! a card with three misspelt keys gets three problems.

mod decode;
mod explain;
pub mod json_lines;
pub mod pointer;
mod suggest;
pub mod yaml;

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::model::{
    ButtonsCard, CaptureCard, Card, CardKind, ConditionCard, EndCard, HttpCard, LiveChatCard,
    MessageCard, NotifyCard, Playbook, QuestionCard, RedirectCard, SetCard,
};
use super::problem::Problem;
use decode::{DecodeError, Located, Mode, Step};
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
    /// Pointers of invalid values that were reported and left out so that the rest of
    /// their card (or of the top level) could still be checked.
    pub dropped: Vec<String>,
    pub problems: Vec<Problem>,
}

impl Loaded {
    /// Whether every part of the document could be decoded whole (unknown keys aside).
    pub fn is_complete(&self) -> bool {
        self.header.is_some() && self.cards.len() == self.card_count && self.dropped.is_empty()
    }

    /// The whole playbook, when [`Loaded::is_complete`].
    pub fn playbook(&self) -> Option<Playbook> {
        let header = self.header.as_ref()?;
        if !self.is_complete() {
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
    let header: Map<String, Value> = root
        .iter()
        .map(|(k, v)| match k.as_str() {
            "cards" => (k.clone(), Value::Array(Vec::new())),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    let header = Value::Object(header);
    match decode::decode_with::<Playbook>(&header, &[], Mode::Quick) {
        Ok(pb) => loaded.header = Some(pb),
        Err(_) => {
            let mut problems = Vec::new();
            let decoded = decode_lenient(header, "", decode::decode::<Playbook>, |p, m| {
                problems.push(Problem::playbook(p, m))
            });
            loaded.problems = problems;
            loaded.header = decoded.value;
            loaded.dropped = decoded.dropped;
        }
    }
    loaded.card_count = cards.len();
    for (index, card) in cards.iter().enumerate() {
        match load_card(index, card, &mut loaded.problems, &mut loaded.dropped) {
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
    dropped: &mut Vec<String>,
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
    let decode_kind = kind_decoder(type_name);
    // Most cards are fine: decode them quickly, in place.
    if let Ok(kind) = decode_kind(value, &["id", "type"], Mode::Quick) {
        return match id {
            Some(id) => Ok(Card { id, kind }),
            None => Err(None),
        };
    }
    let mut body: Map<String, Value> = entries.clone();
    body.remove("id");
    body.remove("type");
    let tracked = |v: &Value| decode_kind(v, &[], Mode::Tracked);
    let decoded = decode_lenient(Value::Object(body), &base, tracked, &mut report);
    dropped.extend(decoded.dropped);
    match (id, decoded.value) {
        (Some(id), Some(kind)) => Ok(Card { id, kind }),
        (id, _) => Err(id),
    }
}

type KindDecoder = fn(&Value, &'static [&'static str], Mode) -> Result<CardKind, Located>;

/// The decoder for the body of a card of this type.
fn kind_decoder(type_name: &str) -> KindDecoder {
    use decode::decode_with as d;
    match type_name {
        "message" => |v, s, m| d::<MessageCard>(v, s, m).map(CardKind::Message),
        "question" => |v, s, m| d::<QuestionCard>(v, s, m).map(CardKind::Question),
        "buttons" => |v, s, m| d::<ButtonsCard>(v, s, m).map(CardKind::Buttons),
        "condition" => |v, s, m| d::<ConditionCard>(v, s, m).map(CardKind::Condition),
        "set" => |v, s, m| d::<SetCard>(v, s, m).map(CardKind::Set),
        "http" => |v, s, m| d::<HttpCard>(v, s, m).map(CardKind::Http),
        "live_chat" => |v, s, m| d::<LiveChatCard>(v, s, m).map(CardKind::LiveChat),
        "capture" => |v, s, m| d::<CaptureCard>(v, s, m).map(CardKind::Capture),
        "notify" => |v, s, m| d::<NotifyCard>(v, s, m).map(CardKind::Notify),
        "redirect" => |v, s, m| d::<RedirectCard>(v, s, m).map(CardKind::Redirect),
        _ => |v, s, m| d::<EndCard>(v, s, m).map(CardKind::End),
    }
}

/// What [`decode_lenient`] could make of a value.
struct Decoded<T> {
    /// `None` when a required key was missing or invalid.
    value: Option<T>,
    /// Pointers of the invalid values that were left out.
    dropped: Vec<String>,
}

/// Decode with `decode`, reporting each problem as (pointer, message).
///
/// To find every problem, an unknown key is reported, removed and decoding retried; any
/// other invalid value is reported and removed too (and listed as dropped), and decoding
/// goes on. When that leaves a mapping without a required key, the mapping itself is
/// removed to keep looking for problems further on, and no value is returned.
fn decode_lenient<T>(
    mut value: Value,
    base: &str,
    decode: impl Fn(&Value) -> Result<T, Located>,
    mut report: impl FnMut(String, String),
) -> Decoded<T> {
    const MAX_RETRIES: usize = 64;
    let mut removals = Removals::default();
    let mut whole = true;
    let mut out = Decoded {
        value: None,
        dropped: Vec::new(),
    };
    for _ in 0..MAX_RETRIES {
        let err = match decode(&value) {
            Ok(decoded) => {
                out.value = whole.then_some(decoded);
                return out;
            }
            Err(err) => err,
        };
        let current: Vec<String> = err.path.iter().map(step_token).collect();
        let original = removals.original_path(&value, &current);
        let at = pointer::join(base, &original);
        // Explain the error with the path as the document has it.
        let err = Located {
            path: err
                .path
                .iter()
                .zip(&original)
                .map(|(step, token)| match step {
                    Step::Index(i) => Step::Index(token.parse().unwrap_or(*i)),
                    Step::Key(k) => Step::Key(k.clone()),
                })
                .collect(),
            error: err.error,
        };
        let removed = match &err.error {
            DecodeError::UnknownField { field, .. } => {
                report(pointer::join(&at, [field]), explain::explain(&err));
                value
                    .pointer_mut(&pointer::join("", &current))
                    .and_then(Value::as_object_mut)
                    .and_then(|entries| entries.remove(field))
                    .is_some()
            }
            DecodeError::MissingField(field) if removals.took(&original, field) => {
                whole = false;
                removals.remove(&mut value, &current, &original)
            }
            _ => {
                report(at.clone(), explain::explain(&err));
                out.dropped.push(at);
                removals.remove(&mut value, &current, &original)
            }
        };
        if !removed {
            return out;
        }
    }
    out
}

/// Values removed while decoding, so that later errors can be traced to the document.
#[derive(Default)]
struct Removals {
    /// (original path of the mapping, key) of every removed mapping entry.
    keys: Vec<(Vec<String>, String)>,
    /// Original indices removed from each list, by the list's original path.
    items: HashMap<Vec<String>, Vec<usize>>,
}

impl Removals {
    /// Was `key` removed from the mapping at `original`?
    fn took(&self, original: &[String], key: &str) -> bool {
        self.keys.iter().any(|(p, k)| p == original && k == key)
    }

    /// Remove the node at `current` (whose document path is `original`).
    fn remove(&mut self, value: &mut Value, current: &[String], original: &[String]) -> bool {
        let (Some((last, parent)), Some((last_original, parent_original))) =
            (current.split_last(), original.split_last())
        else {
            return false;
        };
        match value.pointer_mut(&pointer::join("", parent)) {
            Some(Value::Object(entries)) => {
                let removed = entries.remove(last).is_some();
                if removed {
                    self.keys.push((parent_original.to_vec(), last.clone()));
                }
                removed
            }
            Some(Value::Array(items)) => {
                let (Ok(i), Ok(i_original)) = (last.parse::<usize>(), last_original.parse()) else {
                    return false;
                };
                if i >= items.len() {
                    return false;
                }
                items.remove(i);
                let removed = self.items.entry(parent_original.to_vec()).or_default();
                removed.push(i_original);
                removed.sort_unstable();
                true
            }
            _ => false,
        }
    }

    /// The document path of a path into the value as it is now (list items removed
    /// before an index shift the ones after it).
    fn original_path(&self, value: &Value, current: &[String]) -> Vec<String> {
        let mut node = Some(value);
        let mut original: Vec<String> = Vec::with_capacity(current.len());
        for token in current {
            let mapped = match (node, token.parse::<usize>()) {
                (Some(Value::Array(_)), Ok(i)) => match self.items.get(&original) {
                    Some(removed) => (0..)
                        .filter(|k| !removed.contains(k))
                        .nth(i)
                        .unwrap_or(i)
                        .to_string(),
                    None => token.clone(),
                },
                _ => token.clone(),
            };
            node = match node {
                Some(Value::Array(items)) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
                Some(Value::Object(entries)) => entries.get(token),
                _ => None,
            };
            original.push(mapped);
        }
        original
    }
}

fn step_token(step: &Step) -> String {
    match step {
        Step::Key(k) => k.clone(),
        Step::Index(i) => i.to_string(),
    }
}
