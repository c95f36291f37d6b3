//! YAML text → `serde_json::Value`, remembering the source line of every node.
//!
//! Built on yaml-rust2's event parser so that each mapping entry and sequence item can be
//! given the line it starts on, keyed by its JSON pointer (`/cards/3/next`). Plain scalars
//! follow the YAML 1.2 core schema (`on` and `no` stay text); duplicate keys are reported
//! instead of silently overwritten.
//!
//! Ours on top of the event parser rather than a serde YAML reader: none of those gives
//! the line of each value by its JSON pointer, reports duplicate keys or bounds alias
//! expansion, and the checker's `FILE:LINE:` reports need all three.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::yaml::Yaml;

use super::pointer;

/// Deepest nesting of mappings and sequences a playbook file may have.
const MAX_DEPTH: usize = 64;
/// Most nodes a document may expand to (aliases included).
pub const MAX_NODES: usize = 200_000;
/// Largest document text read, in bytes.
pub const MAX_SOURCE_BYTES: usize = 2 * 1024 * 1024;
/// Most text (keys and scalars, in bytes) a document may expand to, aliases included: an
/// alias repeats all the text of the node it names, so a small file could otherwise grow
/// without bound.
pub const MAX_EXPANDED_BYTES: usize = 4 * 1024 * 1024;

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
    if src.len() > MAX_SOURCE_BYTES {
        return Err(SyntaxProblem {
            pointer: String::new(),
            line: 1,
            message: oversized(src.len()),
        });
    }
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

/// The problem of a document of `len` bytes, past [`MAX_SOURCE_BYTES`].
pub fn oversized(len: usize) -> String {
    format!("the file is {len} bytes; a playbook file may be at most {MAX_SOURCE_BYTES} bytes")
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
    /// Anchored nodes with their size (nodes, text bytes).
    anchors: HashMap<usize, (Value, Size)>,
    /// Size of the document so far, aliases expanded.
    size: Size,
}

/// How large a node is once expanded: its nodes and the bytes of its keys and scalars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Size {
    nodes: usize,
    bytes: usize,
}

impl Size {
    fn add(self, other: Size) -> Size {
        Size {
            nodes: self.nodes.saturating_add(other.nodes),
            bytes: self.bytes.saturating_add(other.bytes),
        }
    }
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
                    let bytes = text.len();
                    *key = Some(text);
                    self.count(Size { nodes: 0, bytes }, mark)?;
                    self.enter_key(mark);
                    return Ok(());
                }
                let value = scalar(text, style, tag.as_ref());
                self.count(size_of(&value), mark)?;
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
                self.count(Size { nodes: 1, bytes: 0 }, mark)?;
                self.remember(anchor, &value);
                self.place(value, mark);
            }
            Event::Alias(id) => {
                let Some(&(_, size)) = self.anchors.get(&id) else {
                    return Err(problem(mark, "an alias names an unknown anchor"));
                };
                // Counted before the copy is made, so a copy never outgrows the budget.
                self.count(size, mark)?;
                let value = self
                    .anchors
                    .get(&id)
                    .map_or(Value::Null, |(v, _)| v.clone());
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
            self.anchors.insert(anchor, (value.clone(), size_of(value)));
        }
    }

    fn count(&mut self, size: Size, mark: Marker) -> Result<(), SyntaxProblem> {
        self.size = self.size.add(size);
        if self.size.nodes > MAX_NODES {
            return Err(problem(
                mark,
                &format!(
                    "the document expands to more than {MAX_NODES} values (aliases count each time they are used)"
                ),
            ));
        }
        if self.size.bytes > MAX_EXPANDED_BYTES {
            return Err(problem(
                mark,
                &format!(
                    "the document expands to more than {MAX_EXPANDED_BYTES} bytes of text (aliases count each time they are used)"
                ),
            ));
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

/// The nodes of a value and the bytes of its text (keys and scalars; a number, boolean or
/// null counts as the one byte it takes at least).
fn size_of(value: &Value) -> Size {
    match value {
        Value::Array(items) => items
            .iter()
            .fold(Size { nodes: 1, bytes: 0 }, |acc, v| acc.add(size_of(v))),
        Value::Object(entries) => {
            entries
                .iter()
                .fold(Size { nodes: 1, bytes: 0 }, |acc, (k, v)| {
                    acc.add(Size {
                        nodes: 0,
                        bytes: k.len(),
                    })
                    .add(size_of(v))
                })
        }
        Value::String(text) => Size {
            nodes: 1,
            bytes: text.len(),
        },
        _ => Size { nodes: 1, bytes: 1 },
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
        let message = parse(&bomb, false).unwrap_err().message;
        assert!(
            message.starts_with("invalid YAML: the document expands to more than 200000 values"),
            "{message}"
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
