//! Property tests of the playbook loader against documents built to grow: a long anchored
//! string, lists of aliases of it nested a few levels deep, and many aliases of the top
//! list (the shape of a YAML "billion laughs"). The loader must accept exactly the
//! documents whose expanded size fits its budget, refuse the others with a clear problem,
//! and never build more than the budget allows.

use proptest::prelude::*;
use serde_json::Value;

use concierge::playbook::check::check_document;
use concierge::playbook::load::Format;
use concierge::playbook::load::yaml::{self, MAX_EXPANDED_BYTES, MAX_NODES, MAX_SOURCE_BYTES};

/// A generated document and the size it expands to.
#[derive(Debug)]
struct Bomb {
    text: String,
    nodes: usize,
    bytes: usize,
}

/// `s: &s "A…"` (`len` bytes), then level `i` a list of `fanout[i]` aliases of level
/// `i - 1`, then `all:` with `uses` aliases of the last level.
fn bomb(len: usize, fanout: &[usize], uses: usize) -> Bomb {
    let mut text = format!("s: &s \"{}\"\n", "A".repeat(len));
    // Root mapping, key `s` and its scalar.
    let (mut nodes, mut bytes) = (2usize, 1 + len);
    let (mut level_nodes, mut level_bytes) = (1usize, len);
    let mut previous = "s".to_string();
    for (i, &k) in fanout.iter().enumerate() {
        let name = format!("l{i}");
        let items = vec![format!("*{previous}"); k].join(", ");
        text.push_str(&format!("{name}: &{name} [{items}]\n"));
        level_nodes = 1 + k * level_nodes;
        level_bytes *= k;
        nodes += level_nodes;
        bytes += name.len() + level_bytes;
        previous = name;
    }
    // An empty `all:` would be null, which counts as a byte; an empty list counts none.
    text.push_str(if uses == 0 { "all: []\n" } else { "all:\n" });
    for _ in 0..uses {
        text.push_str(&format!("  - *{previous}\n"));
    }
    nodes += 1 + uses * level_nodes;
    bytes += "all".len() + uses * level_bytes;
    Bomb { text, nodes, bytes }
}

/// Bytes of text in a value, counted as the loader counts them.
fn text_bytes(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.iter().map(text_bytes).sum(),
        Value::Object(entries) => entries.iter().map(|(k, v)| k.len() + text_bytes(v)).sum(),
        Value::String(s) => s.len(),
        _ => 1,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn aliases_never_expand_past_the_budget(
        len in prop_oneof![1usize..64, 1_000usize..300_000, 1_900_000usize..2_300_000],
        fanout in prop::collection::vec(1usize..12, 0..4),
        uses in prop_oneof![0usize..50, 1_000usize..10_000],
    ) {
        let doc = bomb(len, &fanout, uses);
        let parsed = yaml::parse(&doc.text, false);
        if doc.text.len() > MAX_SOURCE_BYTES {
            let err = parsed.expect_err("an oversized file is refused");
            prop_assert!(err.message.contains("may be at most"), "{}", err.message);
        } else if doc.nodes > MAX_NODES || doc.bytes > MAX_EXPANDED_BYTES {
            let err = parsed.expect_err("a document past the budget is refused");
            prop_assert!(err.message.contains("expands to more than"), "{}", err.message);
        } else {
            let parsed = parsed.map_err(|e| TestCaseError::fail(e.message))?;
            prop_assert_eq!(text_bytes(&parsed.value), doc.bytes);
        }
        // The whole check (as `validate`, `run`, seeding and the admin API use it) answers
        // with a report, never more than the budget built.
        let report = check_document(&doc.text, Format::Yaml).expect_err("not a playbook");
        prop_assert!(!report.problems.is_empty());
    }
}

#[test]
fn a_megabyte_string_aliased_eight_thousand_times_is_refused_quickly() {
    // 1 MB of text, then 8,000 aliases of it: 8 GB once expanded.
    let doc = bomb(1_000_000, &[], 8_000);
    let started = std::time::Instant::now();
    let err = yaml::parse(&doc.text, true).expect_err("refused");
    assert!(
        err.message.contains("expands to more than"),
        "{}",
        err.message
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn an_oversized_file_is_refused_with_its_size() {
    let text = format!("slug: x\nname: \"{}\"\n", "n".repeat(MAX_SOURCE_BYTES));
    let report = check_document(&text, Format::Yaml).expect_err("refused");
    let message = &report.problems[0].problem.message;
    assert!(message.contains("may be at most"), "{message}");
    let json = format!("{{\"slug\": \"{}\"}}", "n".repeat(MAX_SOURCE_BYTES));
    let report = check_document(&json, Format::Json).expect_err("refused");
    assert!(
        report.problems[0]
            .problem
            .message
            .contains("may be at most")
    );
}
