//! YAML text → `serde_json::Value`, remembering the source line of every node.
//!
//! Built on yaml-rust2's event parser so that each mapping entry and sequence item can be
//! given the line it starts on, keyed by its JSON pointer (`/cards/3/next`). Plain scalars
//! follow the YAML 1.2 core schema (`on` and `no` stay text); duplicate keys are reported
//! instead of silently overwritten.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::yaml::Yaml;

use super::pointer;

/// Deepest nesting of mappings and sequences a playbook file may have.
const MAX_DEPTH: usize = 64;
/// Most nodes a document may expand to (aliases included).
const MAX_NODES: usize = 200_000;

/// Source lines of the nodes of a document, by JSON pointer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineMap {
    lines: HashMap<String, usize>,
}

impl LineMap {
    /// The line of the node at `pointer`, or of its nearest ancestor that has one.
    pub fn line(&self, pointer: &str) -> Option<usize> {
        let mut p = pointer;
        loop {
            if let Some(line) = self.lines.get(p) {
                return Some(*line);
            }
            if p.is_empty() {
                return None;
            }
            p = p.rfind('/').map_or("", |i| &p[..i]);
        }
    }

    pub(super) fn insert(&mut self, pointer: String, line: usize) {
        self.lines.entry(pointer).or_insert(line);
    }
}

/// A problem found while reading the YAML text itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxProblem {
    /// Pointer of the node concerned (`""` when the text could not be read at all).
    pub pointer: String,
    pub line: usize,
    pub message: String,
}

/// The parsed document, with its lines and any duplicate keys that were dropped.
#[derive(Debug)]
pub struct Parsed {
    pub value: Value,
    pub lines: LineMap,
    /// Duplicate keys: reported, the first occurrence kept.
    pub duplicates: Vec<SyntaxProblem>,
}

/// Parse one YAML document. A syntax error stops parsing and is returned alone.
///
/// With `with_lines`, the line of every node is recorded (for reports); without, parsing
/// is faster, the line map is empty and duplicate keys do not say where the first one is.
pub fn parse(src: &str, with_lines: bool) -> Result<Parsed, SyntaxProblem> {
    let mut builder = Builder {
        with_lines,
        ..Builder::default()
    };
    let mut parser = Parser::new_from_str(src);
    let mut documents = 0;
    loop {
        let (event, mark) = parser.next_token().map_err(|e| SyntaxProblem {
            pointer: String::new(),
            line: e.marker().line(),
            message: format!("invalid YAML: {}", e.info()),
        })?;
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(SyntaxProblem {
                        pointer: String::new(),
                        line: mark.line(),
                        message: "a file holds one playbook, but this one has a second YAML \
                                  document"
                            .into(),
                    });
                }
            }
            other => builder.event(other, mark)?,
        }
    }
    let value = builder.root.take().ok_or_else(|| SyntaxProblem {
        pointer: String::new(),
        line: 1,
        message: "the file is empty".into(),
    })?;
    Ok(Parsed {
        value,
        lines: builder.lines,
        duplicates: builder.duplicates,
    })
}

/// A mapping or sequence being filled.
enum Open {
    Seq {
        items: Vec<Value>,
        anchor: usize,
    },
    Map {
        entries: Map<String, Value>,
        /// The key read, waiting for its value (`None` while a key is expected).
        key: Option<String>,
        /// Set while the value of a duplicate key is being read (it is dropped).
        skipping: bool,
        anchor: usize,
    },
}

#[derive(Default)]
struct Builder {
    with_lines: bool,
    stack: Vec<Open>,
    root: Option<Value>,
    lines: LineMap,
    duplicates: Vec<SyntaxProblem>,
    anchors: HashMap<usize, Value>,
    nodes: usize,
}

impl Builder {
    fn event(&mut self, event: Event, mark: Marker) -> Result<(), SyntaxProblem> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                // A scalar in key position names the next entry.
                if let Some(Open::Map {
                    key: key @ None, ..
                }) = self.stack.last_mut()
                {
                    *key = Some(text);
                    self.enter_key(mark);
                    return Ok(());
                }
                let value = scalar(text, style, tag.as_ref());
                self.count(1, mark)?;
                self.remember(anchor, &value);
                self.place(value, mark);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if matches!(self.stack.last(), Some(Open::Map { key: None, .. })) {
                    return Err(problem(mark, "a key must be text, not a list or mapping"));
                }
                if self.stack.len() >= MAX_DEPTH {
                    return Err(problem(mark, "the document is nested too deeply"));
                }
                if self.with_lines {
                    let pointer = self.child_pointer();
                    self.lines.insert(pointer, mark.line());
                }
                self.stack
                    .push(if matches!(event, Event::SequenceStart(..)) {
                        Open::Seq {
                            items: Vec::new(),
                            anchor,
                        }
                    } else {
                        Open::Map {
                            entries: Map::new(),
                            key: None,
                            skipping: false,
                            anchor,
                        }
                    });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, anchor) = match self.stack.pop() {
                    Some(Open::Seq { items, anchor }) => (Value::Array(items), anchor),
                    Some(Open::Map {
                        entries, anchor, ..
                    }) => (Value::Object(entries), anchor),
                    None => return Err(problem(mark, "unbalanced YAML structure")),
                };
                self.count(1, mark)?;
                self.remember(anchor, &value);
                self.place(value, mark);
            }
            Event::Alias(id) => {
                let Some(value) = self.anchors.get(&id).cloned() else {
                    return Err(problem(mark, "an alias names an unknown anchor"));
                };
                if let Some(Open::Map {
                    key: key @ None, ..
                }) = self.stack.last_mut()
                {
                    let Value::String(text) = value else {
                        return Err(problem(mark, "a key must be text"));
                    };
                    *key = Some(text);
                    self.enter_key(mark);
                    return Ok(());
                }
                self.count(node_count(&value), mark)?;
                self.place(value, mark);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
        Ok(())
    }

    /// A key was read: record its line, or report it as a duplicate.
    fn enter_key(&mut self, mark: Marker) {
        let duplicate = match self.stack.last() {
            Some(Open::Map {
                entries,
                key: Some(key),
                ..
            }) => entries.contains_key(key.as_str()).then(|| key.clone()),
            _ => return,
        };
        if !self.with_lines && duplicate.is_none() {
            return;
        }
        let pointer = self.child_pointer();
        let Some(key) = duplicate else {
            self.lines.insert(pointer, mark.line());
            return;
        };
        if let Some(Open::Map { skipping, .. }) = self.stack.last_mut() {
            *skipping = true;
        }
        let message = match self.lines.line(&pointer) {
            Some(first) if self.with_lines => {
                format!("duplicate key '{key}' (first given on line {first})")
            }
            _ => format!("duplicate key '{key}'"),
        };
        self.duplicates.push(SyntaxProblem {
            pointer,
            line: mark.line(),
            message,
        });
    }

    /// JSON pointer of the node about to be added to the innermost open node.
    fn child_pointer(&self) -> String {
        let mut out = String::new();
        for open in &self.stack {
            out.push('/');
            match open {
                Open::Seq { items, .. } => out.push_str(&items.len().to_string()),
                Open::Map { key, .. } => {
                    out.push_str(&pointer::escape(key.as_deref().unwrap_or("")))
                }
            }
        }
        out
    }

    /// Add a finished node to its parent (or make it the root).
    fn place(&mut self, value: Value, mark: Marker) {
        if self.with_lines && !matches!(self.stack.last(), Some(Open::Map { .. })) {
            // Mapping entries got the line of their key.
            let pointer = self.child_pointer();
            self.lines.insert(pointer, mark.line());
        }
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Open::Seq { items, .. }) => items.push(value),
            Some(Open::Map {
                entries,
                key,
                skipping,
                ..
            }) => {
                if let Some(key) = key.take()
                    && !std::mem::take(skipping)
                {
                    entries.insert(key, value);
                }
            }
        }
    }

    fn remember(&mut self, anchor: usize, value: &Value) {
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
    }

    fn count(&mut self, nodes: usize, mark: Marker) -> Result<(), SyntaxProblem> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > MAX_NODES {
            return Err(problem(mark, "the document is too large"));
        }
        Ok(())
    }
}

fn problem(mark: Marker, message: &str) -> SyntaxProblem {
    SyntaxProblem {
        pointer: String::new(),
        line: mark.line(),
        message: format!("invalid YAML: {message}"),
    }
}

fn node_count(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(node_count).sum::<usize>(),
        Value::Object(entries) => 1 + entries.values().map(node_count).sum::<usize>(),
        _ => 1,
    }
}

/// A scalar's value under the YAML 1.2 core schema; quoted scalars are always text.
fn scalar(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    if style != TScalarStyle::Plain {
        return Value::String(text);
    }
    if let Some(tag) = tag
        && (tag.handle != "tag:yaml.org,2002:" || tag.suffix == "str")
    {
        return Value::String(text);
    }
    // Only text that starts like a number, a boolean or null needs resolving.
    let resolvable = match text.as_bytes().first() {
        None => true,
        Some(b) => b.is_ascii_digit() || b"+-.~tTfFnN".contains(b),
    };
    if !resolvable {
        return Value::String(text);
    }
    match Yaml::from_str(&text) {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Integer(i) => Value::from(i),
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or(Value::String(text), Value::Number),
        _ => Value::String(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_and_lines() {
        let src = "slug: a\ntrigger:\n  on: click\ncards:\n  - id: x\n    next: y\n  - { id: y, n: 1.5, ok: true, q: \"10\", e: }\n";
        let parsed = parse(src, true).unwrap();
        assert_eq!(
            parsed.value,
            json!({"slug": "a", "trigger": {"on": "click"}, "cards": [
                {"id": "x", "next": "y"},
                {"id": "y", "n": 1.5, "ok": true, "q": "10", "e": null}
            ]})
        );
        assert_eq!(parsed.lines.line(""), Some(1));
        assert_eq!(parsed.lines.line("/trigger/on"), Some(3));
        assert_eq!(parsed.lines.line("/cards/0"), Some(5));
        assert_eq!(parsed.lines.line("/cards/0/next"), Some(6));
        assert_eq!(parsed.lines.line("/cards/1/q"), Some(7));
        assert_eq!(parsed.lines.line("/cards/0/missing/deeper"), Some(5));
    }

    #[test]
    fn duplicate_keys_are_reported_and_the_first_kept() {
        let parsed = parse("a: 1\nb:\n  c: 2\n  c: 3\na: [4]\n", true).unwrap();
        assert_eq!(parsed.value, json!({"a": 1, "b": {"c": 2}}));
        let found: Vec<_> = parsed
            .duplicates
            .iter()
            .map(|d| (d.pointer.as_str(), d.line, d.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("/b/c", 4, "duplicate key 'c' (first given on line 3)"),
                ("/a", 5, "duplicate key 'a' (first given on line 1)")
            ]
        );
    }

    #[test]
    fn syntax_errors_name_their_line() {
        let err = parse("a: 1\nb: [1, 2\n", true).unwrap_err();
        assert!(err.message.starts_with("invalid YAML:"), "{}", err.message);
        assert!(err.line >= 2, "{err:?}");
        assert_eq!(parse("", true).unwrap_err().message, "the file is empty");
        assert!(parse("a: 1\n---\nb: 2\n", true).is_err());
    }

    #[test]
    fn aliases_expand_within_a_budget() {
        let parsed = parse("a: &x {k: v}\nb: *x\n", true).unwrap();
        assert_eq!(parsed.value, json!({"a": {"k": "v"}, "b": {"k": "v"}}));
        let mut bomb = String::from("l0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            bomb.push_str(&format!(
                "l{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        assert_eq!(
            parse(&bomb, false).unwrap_err().message,
            "invalid YAML: the document is too large"
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let src = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(parse(&src, false).is_err());
    }

    #[test]
    fn yaml_1_2_core_schema() {
        let parsed = parse("on: no\nx: !!str 12\ny: 0x10\n", false).unwrap();
        assert_eq!(parsed.value, json!({"on": "no", "x": "12", "y": 16}));
    }
}
