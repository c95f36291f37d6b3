//! Loading and validating a document in one step, and the report of what is wrong,
//! with source lines for YAML and JSON files: `FILE:LINE: card 'ID': message`.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use super::load::{self, Format, json_lines, pointer, yaml};
use super::model::Playbook;
use super::validate::{self, Problem};

/// A problem and the line of the file it is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(flatten)]
    pub problem: Problem,
}

/// Everything wrong with a document, in source order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub problems: Vec<Finding>,
}

impl Report {
    /// One line per problem: `FILE:LINE: card 'ID': message` (or `playbook:` for the
    /// top level; no `:LINE` when the line is unknown).
    pub fn render(&self, file: &str) -> String {
        let mut out = String::new();
        for f in &self.problems {
            let _ = match f.line {
                Some(line) => writeln!(
                    out,
                    "{file}:{line}: {}: {}",
                    f.problem.subject(),
                    f.problem.message
                ),
                None => writeln!(
                    out,
                    "{file}: {}: {}",
                    f.problem.subject(),
                    f.problem.message
                ),
            };
        }
        out
    }

    fn single(line: Option<usize>, problem: Problem) -> Report {
        Report {
            problems: vec![Finding { line, problem }],
        }
    }
}

/// Load and validate a playbook document; every problem at once when it is not valid.
pub fn check_document(src: &str, format: Format) -> Result<Playbook, Report> {
    if src.len() > yaml::MAX_SOURCE_BYTES {
        return Err(Report::single(
            Some(1),
            Problem::playbook("", yaml::oversized(src.len())),
        ));
    }
    // Most documents are valid: read JSON straight into the model and YAML without
    // noting lines; read again, checking everything and noting lines, only when there is
    // something to report.
    if format == Format::Json
        && let Ok(playbook) = serde_json::from_str::<Playbook>(src)
        && validate::validate(&playbook).is_empty()
    {
        // The typed reading accepts no document the checked reading would refuse.
        return Ok(playbook);
    }
    match check(src, format, false) {
        Err(_) if format == Format::Yaml => check(src, format, true),
        result => result,
    }
}

fn check(src: &str, format: Format, with_lines: bool) -> Result<Playbook, Report> {
    // Duplicate keys carry their own line: their pointer leads to the first occurrence.
    let (value, lines, mut findings) = match format {
        Format::Yaml => match yaml::parse(src, with_lines) {
            Ok(parsed) => {
                let duplicates = parsed
                    .duplicates
                    .into_iter()
                    .map(|d| Finding {
                        line: Some(d.line),
                        problem: attribute(&parsed.value, Problem::playbook(d.pointer, d.message)),
                    })
                    .collect();
                (parsed.value, Some(parsed.lines), duplicates)
            }
            Err(e) => {
                return Err(Report::single(
                    Some(e.line),
                    Problem::playbook(e.pointer, e.message),
                ));
            }
        },
        Format::Json => match serde_json::from_str::<Value>(src) {
            Ok(value) => (value, None, Vec::new()),
            Err(e) => {
                return Err(Report::single(
                    Some(e.line()),
                    Problem::playbook("", format!("invalid JSON: {e}")),
                ));
            }
        },
    };
    let loaded = load::load_value(&value);
    let problems: Vec<Problem> = loaded
        .problems
        .iter()
        .cloned()
        .chain(validate::validate_loaded(&loaded))
        .collect();
    // JSON lines are looked up only when there is something to report.
    let lines = match lines {
        None if format == Format::Json && !problems.is_empty() => Some(json_lines::lines(src)),
        lines => lines,
    };
    findings.extend(problems.into_iter().map(|problem| Finding {
        line: lines.as_ref().and_then(|l| l.line(&problem.pointer)),
        problem,
    }));
    match loaded.playbook() {
        Some(playbook) if findings.is_empty() => Ok(playbook),
        _ => {
            // Source order; on one line (a flow mapping), by pointer.
            findings.sort_by(|a, b| {
                let key = |f: &Finding| (f.line.unwrap_or(usize::MAX), f.line.is_some());
                key(a).cmp(&key(b)).then_with(|| match (a.line, b.line) {
                    (Some(_), Some(_)) => a.problem.pointer.cmp(&b.problem.pointer),
                    _ => std::cmp::Ordering::Equal,
                })
            });
            Err(Report { problems: findings })
        }
    }
}

/// Name the card a document-level problem is in, when its pointer is inside one.
fn attribute(value: &Value, mut problem: Problem) -> Problem {
    if let Some(index) = pointer::card_index(&problem.pointer) {
        match value.pointer(&format!("/cards/{index}/id")) {
            Some(Value::String(id)) => problem.card = Some(id.clone()),
            _ => problem.message = format!("card #{}: {}", index + 1, problem.message),
        }
    }
    problem
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;

    /// The shipped playbooks as JSON values.
    fn shipped() -> Vec<Value> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        files.sort();
        files
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .filter_map(|src| check_document(&src, Format::Yaml).ok())
            .filter_map(|pb| serde_json::to_value(pb).ok())
            .collect()
    }

    /// Every JSON pointer of a value.
    fn pointers(value: &Value, at: &str, out: &mut Vec<String>) {
        let children: Vec<(String, &Value)> = match value {
            Value::Object(entries) => entries
                .iter()
                .map(|(k, v)| (k.replace('~', "~0").replace('/', "~1"), v))
                .collect(),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
            _ => Vec::new(),
        };
        for (key, child) in children {
            let p = format!("{at}/{key}");
            out.push(p.clone());
            pointers(child, &p, out);
        }
    }

    /// Change the value at `target` (`how` picks the change).
    fn edit(doc: &mut Value, target: &str, how: usize) {
        let (parent, key) = target.rsplit_once('/').unwrap_or(("", target));
        match how {
            // Gone: a key removed, or an item of a list.
            0 => match doc.pointer_mut(parent) {
                Some(Value::Object(m)) => {
                    m.remove(&key.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(items)) => {
                    if let Ok(i) = key.parse::<usize>()
                        && i < items.len()
                    {
                        items.remove(i);
                    }
                }
                _ => {}
            },
            // A key no format knows, beside the value.
            1 => {
                if let Some(Value::Object(m)) = doc.pointer_mut(parent) {
                    m.insert("surplus".into(), Value::Bool(true));
                }
            }
            how => {
                let new = match how {
                    2 => Value::Null,
                    3 => serde_json::json!(-1),
                    4 => serde_json::json!(0),
                    5 => serde_json::json!("x"),
                    6 => serde_json::json!(""),
                    7 => serde_json::json!([]),
                    8 => serde_json::json!({}),
                    9 => serde_json::json!(true),
                    10 => serde_json::json!(1.5e300),
                    _ => serde_json::json!("{{ vars.nope | "),
                };
                if let Some(slot) = doc.pointer_mut(target) {
                    *slot = new;
                }
            }
        }
    }

    /// The JSON fast path of [`check_document`] accepts no document the careful reading
    /// refuses, and reads what it accepts the same: shipped playbooks with keys removed,
    /// added and values swapped for others, across hundreds of random edits. Enough of
    /// them reach the fast path for the property to be tested, not assumed.
    #[test]
    fn the_json_fast_path_accepts_nothing_the_careful_path_refuses() {
        let docs = shipped();
        assert!(docs.len() >= 6, "{} shipped playbooks read", docs.len());
        let edits = proptest::collection::vec((0usize..100_000, 0usize..12), 0..3);
        let cases = (0usize..docs.len(), edits);
        let mut runner = TestRunner::deterministic();
        let mut fast = 0;
        for _ in 0..1500 {
            let Ok(tree) = cases.new_tree(&mut runner) else {
                continue;
            };
            let (which, edits) = tree.current();
            let mut doc = docs[which].clone();
            for (at, how) in edits {
                let mut all = Vec::new();
                pointers(&doc, "", &mut all);
                if let Some(target) = all.get(at % all.len().max(1)).cloned() {
                    edit(&mut doc, &target, how);
                }
            }
            let src = doc.to_string();
            let Ok(typed) = serde_json::from_str::<Playbook>(&src) else {
                continue;
            };
            if !validate::validate(&typed).is_empty() {
                continue;
            }
            fast += 1;
            match check(&src, Format::Json, false) {
                Ok(careful) => assert_eq!(careful, typed, "read differently: {src}"),
                Err(report) => panic!(
                    "the fast path accepts what the careful path refuses:\n{}\n{src}",
                    report.render("doc.json")
                ),
            }
        }
        assert!(fast >= 200, "only {fast} documents reached the fast path");
    }

    #[test]
    fn shipped_lead_qualification_is_valid() {
        let src = include_str!("../../playbooks/lead-qualification.yaml");
        match check_document(src, Format::Yaml) {
            Ok(pb) => assert_eq!(pb.cards.len(), 11),
            Err(report) => panic!("{}", report.render("lead-qualification.yaml")),
        }
    }
}
