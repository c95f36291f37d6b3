//! Rules about single cards and the top level.

use super::{BASE, base_with, doc, problems};

#[test]
fn question_and_buttons_without_text() {
    let src = doc(BASE).replace("text: \"E-mail?\", ", "");
    assert_eq!(problems(&src), ["7: card 'ask': question has no text"]);
    let src = base_with(
        "hi",
        "  - { id: hi, type: buttons, text: \" \", options: [ { label: Go, next: ask } ] }",
    );
    assert_eq!(problems(&src), ["6: card 'hi': buttons card has no text"]);
}

#[test]
fn question_without_variable_or_input_kind() {
    let src = doc(BASE).replace("save: person.email, ", "");
    assert_eq!(
        problems(&src),
        [
            "7: card 'ask': question has no 'save' variable",
            "8: card 'cap': capture is reached by a path on which neither person.email, \
             person.phone nor person.name is saved: hi → ask → cap",
            "8: card 'cap': '{{ person.email }}' in title: no path to this card sets person.email",
        ]
    );
    let src = doc(BASE).replace("input: email, ", "");
    assert_eq!(
        problems(&src),
        [
            "7: card 'ask': question has no 'input' kind (one of text, long_text, email, phone, \
          number, date, url)"
        ]
    );
}

#[test]
fn condition_without_else() {
    let src = base_with(
        "hi",
        "  - { id: hi, type: condition, rules: [ { when: { var: visitor.known, op: eq, value: true }, next: ask } ] }",
    );
    assert_eq!(
        problems(&src),
        ["6: card 'hi': condition has no 'else' branch"]
    );
}

#[test]
fn condition_without_rules() {
    let src = base_with(
        "hi",
        "  - { id: hi, type: condition, rules: [], else: ask }",
    );
    assert_eq!(problems(&src), ["6: card 'hi': condition has no rules"]);
}

#[test]
fn live_chat_without_offline_next() {
    let src = base_with(
        "bye",
        "  - { id: bye, type: live_chat, online_message: Hello, offline_message: Later }",
    );
    assert_eq!(
        problems(&src),
        [
            "4: playbook: no end or redirect card can be reached from start",
            "9: card 'bye': live_chat has no 'offline_next' (where to go when no rep takes the chat)",
        ]
    );
}

#[test]
fn template_syntax_error() {
    let src = doc(BASE).replace("text: \"Bye\"", "text: \"Bye {{ person.name \"");
    assert_eq!(
        problems(&src),
        ["9: card 'bye': template error in text: '{{' without a closing '}}'"]
    );
    let src = doc(BASE).replace("text: \"Bye\"", "text: \"Bye {{ person name }}\"");
    assert_eq!(
        problems(&src),
        [
            "9: card 'bye': template error in text: 'person name' is not a variable name or a \
          quoted text"
        ]
    );
}

#[test]
fn unknown_variable_names() {
    let src = doc(BASE).replace("save: person.email", "save: person.mail");
    let found = problems(&src);
    assert_eq!(
        found[0],
        "7: card 'ask': save names unknown variable 'person.mail'"
    );
    let src = base_with(
        "hi",
        "  - { id: hi, type: set, set: { vars.ok: 1, visitor.url: x, lead.value: 3 }, next: ask }",
    );
    assert_eq!(
        problems(&src),
        [
            "6: card 'hi': set names unknown variable 'lead.value'",
            "6: card 'hi': set names 'visitor.url', which cards cannot change",
        ]
    );
    let src = base_with(
        "hi",
        "  - { id: hi, type: condition, rules: [ { when: { any: [ { var: person.age, op: gt, value: 18 } ] }, next: ask } ], else: ask }",
    );
    assert_eq!(
        problems(&src),
        ["6: card 'hi': rules[0].when.any[0] tests unknown variable 'person.age'"]
    );
    let src = doc(BASE).replace("text: \"Bye\"", "text: \"Bye {{ person.nickname }}\"");
    assert_eq!(
        problems(&src),
        ["9: card 'bye': text names unknown variable 'person.nickname'"]
    );
}

#[test]
fn more_than_200_cards() {
    let mut cards = String::from("  - { id: hi, type: message, text: Hi, next: c1 }\n");
    for i in 1..=200 {
        cards.push_str(&format!(
            "  - {{ id: c{i}, type: message, text: Hi, next: c{} }}\n",
            i + 1
        ));
    }
    cards.push_str("  - { id: c201, type: end }\n");
    assert_eq!(
        problems(&doc(&cards)),
        ["5: playbook: the playbook has 202 cards; at most 200 are allowed"]
    );
}

#[test]
fn wait_seconds_out_of_range() {
    let chat = |wait: u32| {
        base_with(
            "bye",
            &format!(
                "  - {{ id: bye, type: live_chat, online_message: Hi, offline_message: Later, \
                 wait_seconds: {wait}, offline_next: end }}\n  - {{ id: end, type: end }}"
            ),
        )
    };
    assert_eq!(problems(&chat(10)), Vec::<String>::new());
    assert_eq!(problems(&chat(3600)), Vec::<String>::new());
    assert_eq!(
        problems(&chat(9)),
        ["9: card 'bye': wait_seconds must be between 10 and 3600, not 9"]
    );
    assert_eq!(
        problems(&chat(3601)),
        ["9: card 'bye': wait_seconds must be between 10 and 3600, not 3601"]
    );
}

#[test]
fn http_card_rules() {
    let http = |fields: &str| {
        base_with(
            "hi",
            &format!("  - {{ id: hi, type: http, {fields}, next: ask }}"),
        )
    };
    assert_eq!(
        problems(&http(
            "url: \"https://api.example.com/x\", timeout_seconds: 30, save: { vars.s: /a/0/b }"
        )),
        Vec::<String>::new()
    );
    assert_eq!(
        problems(&http(
            "url: \"https://api.example.com/x\", timeout_seconds: 31"
        )),
        ["6: card 'hi': timeout_seconds must be between 1 and 30, not 31"]
    );
    assert_eq!(
        problems(&http("url: \"file:///etc/passwd\"")),
        ["6: card 'hi': url must start with https:// or http://"]
    );
    assert_eq!(
        problems(&http(
            "url: \"https://api.example.com/x\", save: { vars.s: status, vars.t: \"/a~2\" }"
        )),
        [
            "6: card 'hi': 'status' is not a JSON pointer (write it like /status or /items/0/name)",
            "6: card 'hi': '/a~2' is not a JSON pointer (write it like /status or /items/0/name)",
        ]
    );
}

#[test]
fn redirect_only_to_web_addresses() {
    let src = base_with(
        "bye",
        "  - { id: bye, type: redirect, url: \"javascript:alert(1)\" }",
    );
    assert_eq!(
        problems(&src),
        ["9: card 'bye': url must start with https://, http:// or / (a page of this site)"]
    );
}

#[test]
fn slug_rules() {
    let src = doc(BASE).replace("slug: test", "slug: Test_1");
    assert_eq!(
        problems(&src),
        ["1: playbook: slug 'Test_1' may only hold lowercase letters a-z, digits and '-'"]
    );
    let src = doc(BASE).replace("slug: test", "slug: spring-offer-2");
    assert_eq!(problems(&src), Vec::<String>::new());
}

#[test]
fn buttons_rules() {
    let src = base_with(
        "hi",
        "  - { id: hi, type: buttons, text: Pick, options: [] }",
    );
    assert_eq!(
        problems(&src),
        [
            "4: playbook: no end or redirect card can be reached from start",
            "6: card 'hi': buttons card has no options",
            "7: card 'ask': no path from start reaches this card",
            "8: card 'cap': no path from start reaches this card",
            "9: card 'bye': no path from start reaches this card",
        ]
    );
    let src = base_with(
        "hi",
        "  - { id: hi, type: buttons, text: Pick, options: [ { label: A, next: ask }, { label: A, next: bye } ] }",
    );
    assert_eq!(
        problems(&src),
        ["6: card 'hi': two options have the label 'A'"]
    );
}

#[test]
fn trigger_fields_must_fit_the_event() {
    let with_trigger = |t: &str| doc(BASE).replace("trigger: { on: page_load }", t);
    assert_eq!(
        problems(&with_trigger("trigger: { on: time_on_page }")),
        ["3: playbook: trigger on: time_on_page needs delay_seconds"]
    );
    assert_eq!(
        problems(&with_trigger(
            "trigger: { on: time_on_page, delay_seconds: 5 }"
        )),
        Vec::<String>::new()
    );
    assert_eq!(
        problems(&with_trigger(
            "trigger: { on: page_load, delay_seconds: 5, selector: \"#x\", keywords: [a] }"
        )),
        [
            "3: playbook: trigger delay_seconds only applies to on: time_on_page, not on: page_load",
            "3: playbook: trigger keywords only applies to on: keyword, not on: page_load",
            "3: playbook: trigger selector only applies to on: click, not on: page_load",
        ]
    );
    assert_eq!(
        problems(&with_trigger("trigger: { on: keyword }")),
        ["3: playbook: trigger on: keyword needs keywords"]
    );
    assert_eq!(
        problems(&with_trigger("trigger: { on: click }")),
        Vec::<String>::new()
    );
    assert_eq!(
        problems(&with_trigger(
            "trigger: { on: page_load, languages: [fr, gsw, French, e] }"
        )),
        [
            "3: playbook: trigger language 'French' is not a language code: two or three \
             lowercase letters, like en or fr",
            "3: playbook: trigger language 'e' is not a language code: two or three lowercase \
             letters, like en or fr",
        ]
    );
    assert_eq!(
        problems(&with_trigger("trigger: { on: hover }")),
        [
            "3: playbook: unknown trigger 'hover' in trigger (expected one of page_load, \
          time_on_page, click, keyword)"
        ]
    );
}

#[test]
fn operators_need_fitting_values() {
    let rule = |when: &str| {
        base_with(
            "hi",
            &format!(
                "  - {{ id: hi, type: condition, rules: [ {{ when: {when}, next: ask }} ], else: ask }}"
            ),
        )
    };
    for ok in [
        "{ var: score, op: gte, value: 10 }",
        "{ var: tags, op: in, value: [a, b] }",
        "{ var: person.email, op: set }",
        "{ var: deal.expected_close_date, op: lt, value: 2026-01-31 }",
        "{ var: tags, op: contains, value: [vip, partner] }",
        "{ var: visitor.url, op: matches, value: \"/pricing*\" }",
        "{ all: [ { var: score, op: lt, value: 3.5 }, { var: tags, op: contains, value: x } ] }",
    ] {
        assert_eq!(problems(&rule(ok)), Vec::<String>::new(), "{ok}");
    }
    let bad = [
        (
            "{ var: tags, op: in, value: a }",
            "rules[0].when: operator 'in' needs a list of values",
        ),
        (
            "{ var: score, op: gt, value: \"10\" }",
            "rules[0].when: operator 'gt' needs a number or a date written YYYY-MM-DD",
        ),
        (
            "{ var: tags, op: eq, value: [a] }",
            "rules[0].when: operator 'eq' needs a single value, not a list",
        ),
        (
            "{ var: tags, op: contains, value: { a: 1 } }",
            "rules[0].when: operator 'contains' needs a value, not a mapping",
        ),
        (
            "{ var: score, op: lte }",
            "rules[0].when: operator 'lte' needs a value",
        ),
        (
            "{ var: score, op: unset, value: 1 }",
            "rules[0].when: operator 'unset' takes no value",
        ),
        (
            "{ var: visitor.url, op: matches, value: 3 }",
            "rules[0].when: operator 'matches' needs a text pattern",
        ),
        ("{ all: [] }", "'all' in rules[0].when lists no conditions"),
    ];
    for (when, message) in bad {
        assert_eq!(
            problems(&rule(when)),
            [format!("6: card 'hi': {message}")],
            "{when}"
        );
    }
}

#[test]
fn notify_needs_e_mail_recipients() {
    let src = base_with(
        "cap",
        "  - { id: cap, type: notify, to: [sales@example.com, sales team], subject: s, body: b, next: bye }",
    );
    assert_eq!(
        problems(&src),
        ["8: card 'cap': 'sales team' in to is not an e-mail address"]
    );
}

#[test]
fn oversized_documents_are_rejected_without_slowing_down() {
    // 20,000 cards, each naming a missing card: no quadratic work on the way.
    let mut cards = Vec::new();
    for i in 0..20_000 {
        cards.push(serde_json::json!({"id": format!("c{i}"), "type": "message",
            "text": "x", "next": format!("gone{i}")}));
    }
    let doc = serde_json::json!({"slug": "big", "name": "Big", "trigger": {"on": "page_load"},
        "start": "c0", "cards": cards});
    let started = std::time::Instant::now();
    let report = crate::playbook::check::check_document(
        &doc.to_string(),
        crate::playbook::load::Format::Json,
    )
    .unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(report.problems.len(), 20_001);
    assert_eq!(
        report.problems[0].problem.message,
        "the playbook has 20000 cards; at most 200 are allowed"
    );
    assert_eq!(
        report.problems[1].problem.message,
        "next names unknown card 'gone0'"
    );
}
