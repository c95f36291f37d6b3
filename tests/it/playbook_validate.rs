//! Playbook validation end to end: reports for faulty files (snapshots), the shipped
//! playbooks, and the `concierge playbook validate` and `paths` commands.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use concierge::playbook::check::check_document;
use concierge::playbook::load::Format;
use concierge::playbook::model::{CardKind, Playbook, TriggerOn};
use concierge::playbook::paths::{DEFAULT_LIMIT, paths};
use proptest::prelude::*;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The YAML files of a folder of the repository, sorted.
fn yaml_files(folder: &str) -> Vec<PathBuf> {
    let dir = Path::new(ROOT).join(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

fn shipped() -> Vec<(String, Playbook)> {
    yaml_files("playbooks")
        .into_iter()
        .map(|path| {
            let src = std::fs::read_to_string(&path).unwrap();
            match check_document(&src, Format::Yaml) {
                Ok(pb) => (file_name(&path), pb),
                Err(report) => panic!("{}", report.render(&path.display().to_string())),
            }
        })
        .collect()
}

#[test]
fn every_invalid_fixture_gets_its_report() {
    let fixtures = yaml_files("tests/fixtures/invalid");
    assert!(fixtures.len() >= 20, "fixtures missing: {fixtures:?}");
    for path in fixtures {
        let name = file_name(&path);
        let src = std::fs::read_to_string(&path).unwrap();
        let report = match check_document(&src, Format::Yaml) {
            Ok(_) => panic!("{name} should not be valid"),
            Err(report) => report,
        };
        let rendered = report.render(&format!("tests/fixtures/invalid/{name}"));
        insta::assert_snapshot!(
            format!("invalid__{}", name.trim_end_matches(".yaml")),
            rendered
        );
    }
}

#[test]
fn shipped_playbooks_are_valid() {
    let found = shipped();
    let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    for required in [
        "lead-qualification.yaml",
        "appointment-booking.yaml",
        "support-triage.yaml",
        "satisfaction-survey.yaml",
        "product-recommendation.yaml",
        "order-status.yaml",
        "contact-greeting.yaml",
    ] {
        assert!(
            names.contains(&required),
            "{required} missing from {names:?}"
        );
    }
}

#[test]
fn shipped_playbooks_together_use_every_card_type_input_kind_and_trigger() {
    let playbooks = shipped();
    let mut types = BTreeSet::new();
    let mut inputs = BTreeSet::new();
    let mut triggers = BTreeSet::new();
    for (_, pb) in &playbooks {
        triggers.insert(format!("{:?}", pb.trigger.on));
        for card in &pb.cards {
            types.insert(card.kind.type_name());
            if let CardKind::Question(q) = &card.kind {
                inputs.insert(q.input.map(|i| i.name()).unwrap_or_default());
            }
        }
    }
    assert_eq!(types, CardKind::TYPE_NAMES.into_iter().collect());
    assert_eq!(
        inputs,
        [
            "date",
            "email",
            "long_text",
            "number",
            "phone",
            "text",
            "url"
        ]
        .into_iter()
        .collect()
    );
    let all_triggers: BTreeSet<String> = [
        TriggerOn::PageLoad,
        TriggerOn::TimeOnPage,
        TriggerOn::Click,
        TriggerOn::Keyword,
    ]
    .iter()
    .map(|t| format!("{t:?}"))
    .collect();
    assert_eq!(triggers, all_triggers);
}

#[test]
fn a_playbook_reads_the_same_as_json() {
    for (name, pb) in shipped() {
        let json = serde_json::to_string(&pb).unwrap();
        let again = check_document(&json, Format::Json)
            .unwrap_or_else(|report| panic!("{name}: {}", report.render("json")));
        assert_eq!(again, pb, "{name}");
    }
}

#[test]
fn every_path_of_the_shipped_playbooks_starts_at_start_and_ends() {
    for (name, pb) in shipped() {
        let list = paths(&pb, DEFAULT_LIMIT);
        assert!(!list.truncated, "{name}");
        // Every flow branches, except a greeting of one card.
        assert!(
            list.paths.len() >= 3 || pb.cards.len() == 1,
            "{name}: {}",
            list.render()
        );
        for path in &list.paths {
            assert_eq!(path.steps[0].card, pb.start, "{name}");
        }
        // Every card lies on some path.
        let visited: BTreeSet<&str> = list
            .paths
            .iter()
            .flat_map(|p| p.steps.iter().map(|s| s.card.as_str()))
            .collect();
        let all: BTreeSet<&str> = pb.cards.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(visited, all, "{name}");
    }
}

fn concierge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_concierge"))
        .args(args)
        .current_dir(ROOT)
        .output()
        .expect("run concierge")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn validate_command_says_ok_per_valid_file() {
    let files: Vec<String> = yaml_files("playbooks")
        .iter()
        .map(|p| format!("playbooks/{}", file_name(p)))
        .collect();
    let mut args = vec!["playbook", "validate"];
    args.extend(files.iter().map(String::as_str));
    let out = concierge(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let expected: String = files.iter().map(|f| format!("{f}: ok\n")).collect();
    assert_eq!(text(&out.stdout), expected);
}

#[test]
fn validate_command_lists_each_problem_and_checks_every_file() {
    let out = concierge(&[
        "playbook",
        "validate",
        "tests/fixtures/invalid/missing-card.yaml",
        "playbooks/order-status.yaml",
        "tests/fixtures/invalid/limits.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "tests/fixtures/invalid/missing-card.yaml:5: playbook: start names unknown card \
         'welcom'; did you mean 'welcome'?\n\
         tests/fixtures/invalid/missing-card.yaml:17: card 'pricing': rules[0].next names \
         unknown card 'sales'\n\
         tests/fixtures/invalid/missing-card.yaml:23: card 'support': on_error names unknown \
         card 'status_down'\n\
         tests/fixtures/invalid/missing-card.yaml:28: card 'human': offline_next names \
         unknown card 'contact'\n\
         playbooks/order-status.yaml: ok\n\
         tests/fixtures/invalid/limits.yaml:10: card 'lookup': timeout_seconds must be \
         between 1 and 30, not 120\n\
         tests/fixtures/invalid/limits.yaml:15: card 'rep': wait_seconds must be between 10 \
         and 3600, not 5\n"
    );
}

#[test]
fn validate_command_explains_unreadable_files() {
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("binary.yaml");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x01]).unwrap();
    let missing = dir.path().join("missing.yaml");
    let out = concierge(&[
        "playbook",
        "validate",
        missing.to_str().unwrap(),
        binary.to_str().unwrap(),
        "playbooks/support-triage.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{}: cannot read the file: ", missing.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{}: cannot read the file: it is not UTF-8 text",
            binary.display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(text(&out.stdout), "playbooks/support-triage.yaml: ok\n");
}

#[test]
fn validate_command_reads_json_documents() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("survey.json");
    let pb = &shipped()
        .into_iter()
        .find(|(n, _)| n == "satisfaction-survey.yaml")
        .unwrap()
        .1;
    let mut json = serde_json::to_value(pb).unwrap();
    json["cards"][0]["colour"] = "red".into();
    let pretty = serde_json::to_string_pretty(&json).unwrap();
    std::fs::write(&file, &pretty).unwrap();
    let line = pretty
        .lines()
        .position(|l| l.contains("\"colour\""))
        .unwrap()
        + 1;
    let out = concierge(&["playbook", "validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        format!(
            "{}:{line}: card 'intro': unknown key 'colour' (expected one of text, next)\n",
            file.display()
        )
    );
}

#[test]
fn paths_command_lists_the_paths() {
    let out = concierge(&["playbook", "paths", "playbooks/lead-qualification.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    insta::assert_snapshot!("paths__lead_qualification", text(&out.stdout));
}

#[test]
fn paths_command_prints_json_for_tools() {
    let out = concierge(&["playbook", "paths", "--json", "playbooks/order-status.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["start"], "order_number");
    assert_eq!(json["truncated"], false);
    let list = json["paths"].as_array().unwrap();
    let human = concierge(&["playbook", "paths", "playbooks/order-status.yaml"]);
    let first_line = text(&human.stdout).lines().next().unwrap().to_owned();
    assert_eq!(
        first_line,
        format!("{} paths from 'order_number'", list.len())
    );
    let endings: BTreeSet<&str> = list
        .iter()
        .map(|p| p["ending"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(endings, ["end", "handed_to_rep"].into_iter().collect());
    // The lookup's two outcomes are both walked.
    let inputs: BTreeSet<&str> = list
        .iter()
        .flat_map(|p| p["steps"].as_array().unwrap())
        .filter(|s| s["card"] == "lookup")
        .map(|s| s["input"].as_str().unwrap())
        .collect();
    assert_eq!(
        inputs,
        ["call fails", "call succeeds"].into_iter().collect()
    );
}

#[test]
fn paths_command_refuses_an_invalid_playbook() {
    let out = concierge(&["playbook", "paths", "tests/fixtures/invalid/no-ending.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(
        text(&out.stderr),
        "tests/fixtures/invalid/no-ending.yaml:5: playbook: no end or redirect card can be \
         reached from start\n"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Damaged files never make the checker panic, and every rejection says something.
    #[test]
    fn damaged_playbooks_are_rejected_cleanly(
        which in 0usize..6,
        cut_at in 0usize..4000,
        cut_len in 0usize..200,
        insert in "[ -~\n]{0,12}",
    ) {
        let files = yaml_files("playbooks");
        let src = std::fs::read_to_string(&files[which % files.len()]).unwrap();
        let mut at = cut_at.min(src.len());
        while !src.is_char_boundary(at) {
            at -= 1;
        }
        let mut end = (at + cut_len).min(src.len());
        while !src.is_char_boundary(end) {
            end -= 1;
        }
        let damaged = format!("{}{insert}{}", &src[..at], &src[end..]);
        if let Err(report) = check_document(&damaged, Format::Yaml) {
            prop_assert!(!report.problems.is_empty());
            for f in &report.problems {
                prop_assert!(!f.problem.message.is_empty());
            }
        }
    }
}

/// Every JSON pointer of a value.
fn pointers(value: &serde_json::Value, at: String, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(entries) => {
            for (k, v) in entries {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(v, p, out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(v, p, out);
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// API documents with a value swapped for another kind never make the checker panic,
    /// and a rejected one always says what is wrong.
    #[test]
    fn documents_with_odd_values_are_rejected_cleanly(
        which in 0usize..6,
        picks in proptest::collection::vec((0usize..10_000, 0usize..10), 1..4),
    ) {
        let playbooks = shipped();
        let mut doc = serde_json::to_value(&playbooks[which % playbooks.len()].1).unwrap();
        for (at, replacement) in picks {
            let mut all = Vec::new();
            pointers(&doc, String::new(), &mut all);
            let target = &all[at % all.len()];
            let new = match replacement {
                0 => serde_json::Value::Null,
                1 => serde_json::json!(-1),
                2 => serde_json::json!("x"),
                3 => serde_json::json!([]),
                4 => serde_json::json!({}),
                5 => serde_json::json!(true),
                6 => serde_json::json!(1.5e300),
                7 => serde_json::json!("{{ vars.nope | "),
                8 => serde_json::json!({"id": "zz", "type": "message"}),
                _ => serde_json::json!(["a", {"b": null}]),
            };
            if let Some(slot) = doc.pointer_mut(target) {
                *slot = new;
            }
        }
        if let Err(report) = check_document(&doc.to_string(), Format::Json) {
            prop_assert!(!report.problems.is_empty());
            for f in &report.problems {
                prop_assert!(!f.problem.message.is_empty());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Valid documents are accepted, as YAML and as JSON, and read as written: shipped
    /// playbooks with another name, other message texts and their cards in another order.
    #[test]
    fn valid_playbooks_are_accepted_in_both_formats(
        which in 0usize..7,
        name in "[A-Za-z][A-Za-z0-9 ]{0,39}",
        texts in proptest::collection::vec("[A-Za-z0-9][A-Za-z0-9 ,.!?']{0,59}", 1..8),
        rotate in 0usize..20,
        json in any::<bool>(),
    ) {
        let playbooks = shipped();
        let mut playbook = playbooks[which % playbooks.len()].1.clone();
        playbook.name = name.trim_end().to_owned();
        let mut next_text = texts.iter().cycle();
        for card in &mut playbook.cards {
            if let CardKind::Message(m) = &mut card.kind
                && let Some(text) = next_text.next()
            {
                m.text = text.clone().into();
            }
        }
        let n = playbook.cards.len();
        playbook.cards.rotate_left(rotate % n);
        let (src, format) = match json {
            true => (serde_json::to_string_pretty(&playbook).unwrap(), Format::Json),
            false => (concierge::playbook::emit::to_yaml(&playbook).unwrap(), Format::Yaml),
        };
        match check_document(&src, format) {
            Ok(read) => prop_assert_eq!(read, playbook),
            Err(report) => prop_assert!(false, "refused:\n{}\n{src}", report.render("doc")),
        }
    }
}

/// Keys the format knows (and one it does not), for cards and for the document.
const CARD_KEYS: &[&str] = &[
    "text",
    "next",
    "save",
    "on_fail",
    "input",
    "options",
    "retry_text",
    "max_tries",
    "placeholder",
    "rules",
    "else",
    "set",
    "add_tags",
    "url",
    "method",
    "wait_seconds",
    "online_message",
    "offline_message",
    "offline_next",
    "create",
    "title",
    "owner",
    "activity",
    "note",
    "to",
    "subject",
    "body",
    "label",
    "other_next",
    "unknown",
];
const TOP_KEYS: &[&str] = &[
    "slug",
    "name",
    "priority",
    "language",
    "trigger",
    "start",
    "exit_words",
    "enabled",
    "variables",
    "unknown",
];

/// A value of any JSON kind, a little nested, with the words a playbook uses (card ids
/// `a`–`c`, template variables, input kinds) often enough to reach deep checks.
fn any_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{Value, json};
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        "[a-c]".prop_map(Value::String),
        prop::sample::select(vec![
            "email",
            "phone",
            "text",
            "lead",
            "deal",
            "click",
            "page_load",
            "keyword",
            "{{ person.name }}",
            "{{ vars.x | ",
            "https://example.com/x",
            "http://[::1]/",
            "*bold* [link](https://e.example)",
            "\u{0}",
            "",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
        "[ -~]{0,16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(prop::sample::select(CARD_KEYS), inner, 0..4).prop_map(
                |m| {
                    serde_json::Value::Object(
                        m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                    )
                }
            ),
        ]
    })
}

/// A playbook-shaped document: some top-level keys, and cards with ids `a`–`c` (so
/// references sometimes resolve), a type and some fields.
fn generated_document() -> impl Strategy<Value = serde_json::Value> {
    let card = (
        "[a-c]",
        // The card types, and two words that are none.
        prop::sample::select(
            CardKind::TYPE_NAMES
                .iter()
                .copied()
                .chain(["ask", ""])
                .collect::<Vec<_>>(),
        ),
        prop::collection::btree_map(prop::sample::select(CARD_KEYS), any_value(), 0..5),
    )
        .prop_map(|(id, kind, fields)| {
            let mut card = serde_json::Map::new();
            card.insert("id".into(), id.into());
            card.insert("type".into(), kind.into());
            for (k, v) in fields {
                card.insert(k.to_owned(), v);
            }
            serde_json::Value::Object(card)
        });
    (
        prop::collection::btree_map(prop::sample::select(TOP_KEYS), any_value(), 0..6),
        prop::collection::vec(card, 0..6),
        any::<bool>(),
    )
        .prop_map(|(top, cards, with_cards)| {
            let mut doc: serde_json::Map<String, serde_json::Value> =
                top.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            if with_cards {
                doc.insert("cards".into(), serde_json::Value::Array(cards));
            }
            serde_json::Value::Object(doc)
        })
}

/// Generated playbook documents (R9), read as JSON and as YAML (JSON text is YAML too): the
/// checker never panics, and every document it refuses comes with at least one problem
/// that says something. 2,000 a run: an unoptimised build checks about 150 a second on
/// the shared machine, so the 100,000 R9 names would take over ten minutes here.
#[test]
fn generated_documents_are_checked_without_a_panic() {
    use proptest::test_runner::{Config, TestRunner};
    const CASES: u32 = 2_000;
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let (accepted, refused) = (std::cell::Cell::new(0u32), std::cell::Cell::new(0u32));
    let outcome = runner.run(&(generated_document(), any::<bool>()), |(doc, as_yaml)| {
        let format = if as_yaml { Format::Yaml } else { Format::Json };
        match check_document(&doc.to_string(), format) {
            Ok(_) => accepted.set(accepted.get() + 1),
            Err(report) => {
                refused.set(refused.get() + 1);
                prop_assert!(!report.problems.is_empty(), "{doc}");
                for f in &report.problems {
                    prop_assert!(!f.problem.message.trim().is_empty(), "{doc}");
                }
            }
        }
        Ok(())
    });
    outcome.unwrap();
    // Every case ran: none was left out by the generator.
    assert_eq!(accepted.get() + refused.get(), CASES);
}
