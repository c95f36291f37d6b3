//! Rules checked while loading: unknown keys, types, kinds and operators, syntax.

use super::{BASE, base_with, doc, problems};
use crate::playbook::check::check_document;
use crate::playbook::load::Format;
use crate::playbook::validate::Problem;

#[test]
fn unknown_key() {
    let src = base_with(
        "hi",
        "  - { id: hi, type: message, text: Hi, next: ask, retry: 3, nxt: ask }",
    );
    assert_eq!(
        problems(&src),
        [
            "6: card 'hi': unknown key 'nxt'; did you mean 'next'?",
            "6: card 'hi': unknown key 'retry' (expected one of text, next)",
        ]
    );
    let src = doc(BASE).replace("name: Test", "name: Test\ncolour: blue");
    assert_eq!(
        problems(&src),
        [
            "3: playbook: unknown key 'colour' (expected one of slug, name, language, priority, \
          trigger, exit_words, start, cards)"
        ]
    );
}

#[test]
fn unknown_card_type() {
    let src = base_with(
        "cap",
        "  - { id: cap, type: capturer, title: x, next: bye }",
    );
    assert_eq!(
        problems(&src),
        [
            "8: card 'cap': unknown card type 'capturer' (expected one of message, question, \
          buttons, condition, set, http, live_chat, capture, notify, redirect, end); did you \
          mean 'capture'?"
        ]
    );
}

#[test]
fn unknown_input_kind() {
    let src = doc(BASE).replace("input: email", "input: e-mail");
    assert_eq!(
        problems(&src),
        [
            "7: card 'ask': unknown input kind 'e-mail' (expected one of text, long_text, email, \
          phone, number, date, url); did you mean 'email'?"
        ]
    );
}

#[test]
fn unknown_operator() {
    let src = base_with(
        "hi",
        "  - id: hi\n    type: condition\n    rules:\n      - { when: { var: score, op: greater, value: 3 }, next: ask }\n    else: ask",
    );
    assert_eq!(
        problems(&src),
        [
            "9: card 'hi': unknown operator 'greater' in rules[0].when (expected one of eq, ne, \
          contains, in, gt, gte, lt, lte, set, unset, matches)"
        ]
    );
}

#[test]
fn duplicate_yaml_key() {
    let src = base_with(
        "hi",
        "  - id: hi\n    type: message\n    text: Hi\n    next: ask\n    next: bye",
    );
    assert_eq!(
        problems(&src),
        ["10: card 'hi': duplicate key 'next' (first given on line 9)"]
    );
}

#[test]
fn one_bad_card_does_not_hide_the_others() {
    let src = base_with(
        "hi",
        "  - { id: hi, type: message, text: Hi, next: ask, delay: 3 }\n  \
         - { id: odd, type: question, input: emial, next: ask, colour: red }\n  \
         - { type: end }\n  \
         - { id: weird, type: buttons, text: x, options: oops }",
    );
    assert_eq!(
        problems(&src),
        [
            "6: card 'hi': unknown key 'delay' (expected one of text, next)",
            "7: card 'odd': unknown key 'colour' (expected one of text, input, save, \
             placeholder, retry_text, max_tries, on_fail, next)",
            "7: card 'odd': unknown input kind 'emial' (expected one of text, long_text, email, \
             phone, number, date, url); did you mean 'email'?",
            "7: card 'odd': question has no 'save' variable",
            "7: card 'odd': question has no text",
            "8: playbook: card #3: missing key 'id'",
            "9: card 'weird': 'options' must be a list, not the text \"oops\"",
        ]
    );
}

#[test]
fn json_problems_carry_pointers_and_lines() {
    let json = r#"{"slug": "t", "name": "T", "trigger": {"on": "page_load"}, "start": "a",
        "cards": [{"id": "a", "type": "condition", "rules": [], "else": "b"},
                  {"id": "b", "type": "end"}]}"#;
    let report = check_document(json, Format::Json).unwrap_err();
    assert_eq!(report.problems.len(), 1);
    assert_eq!(report.problems[0].line, Some(2));
    assert_eq!(
        report.problems[0].problem,
        Problem::card("a", "/cards/0/rules", "condition has no rules")
    );
    assert_eq!(
        report.render("api"),
        "api:2: card 'a': condition has no rules\n"
    );
}

#[test]
fn yaml_and_json_syntax_errors_name_their_line() {
    let report = check_document("slug: a\ncards: [\n", Format::Yaml).unwrap_err();
    assert_eq!(report.problems.len(), 1);
    assert!(
        report.problems[0]
            .problem
            .message
            .starts_with("invalid YAML: ")
    );
    let report = check_document("{\n\"slug\": }", Format::Json).unwrap_err();
    assert_eq!(report.problems[0].line, Some(2));
    assert!(
        report.problems[0]
            .problem
            .message
            .starts_with("invalid JSON: ")
    );
}

#[test]
fn problems_in_list_items_keep_their_document_index() {
    let src = base_with(
        "hi",
        "  - id: hi\n    type: buttons\n    text: Pick\n    options:\n      \
         - { label: A, next: ask, scor: 1 }\n      \
         - { label: B }\n      \
         - { label: C, next: bye, colour: red }\n      \
         - { label: D, next: bye, score: lots }",
    );
    assert_eq!(
        problems(&src),
        [
            "10: card 'hi': unknown key 'scor' in options[0]; did you mean 'score'?",
            "11: card 'hi': missing key 'next' in options[1]",
            "12: card 'hi': unknown key 'colour' in options[2] (expected one of label, value, \
             next, score, tags)",
            "13: card 'hi': 'options[3].score' must be a whole number, not the text \"lots\"",
        ]
    );
}
