//! One test per validation rule: a playbook with exactly that fault, and the exact problem.

use crate::playbook::check::check_document;
use crate::playbook::load::Format;
use crate::playbook::model::CardKind;

use super::{Problem, validate};

/// A playbook with the given cards (the first is `hi`, the start).
fn doc(cards: &str) -> String {
    format!("slug: test\nname: Test\ntrigger: {{ on: page_load }}\nstart: hi\ncards:\n{cards}")
}

/// The cards of a valid playbook, used as the base of most tests.
const BASE: &str = r#"  - { id: hi, type: message, text: "Hi {{ person.name | \"there\" }}!", next: ask }
  - { id: ask, type: question, text: "E-mail?", input: email, save: person.email, on_fail: bye, next: cap }
  - { id: cap, type: capture, title: "{{ person.email }}", next: bye }
  - { id: bye, type: end, text: "Bye" }
"#;

/// `BASE` with one card replaced (by its id), or more cards added.
fn base_with(id: &str, card: &str) -> String {
    let mut out = String::new();
    let mut replaced = false;
    for line in BASE.lines() {
        if line.contains(&format!("{{ id: {id},")) {
            out.push_str(card);
            replaced = true;
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    if !replaced {
        out.push_str(card);
        out.push('\n');
    }
    doc(&out)
}

/// Every problem as `LINE: card 'ID': message`, or empty when the document is valid.
fn problems(src: &str) -> Vec<String> {
    match check_document(src, Format::Yaml) {
        Ok(_) => Vec::new(),
        Err(report) => report
            .problems
            .iter()
            .map(|f| {
                let line = f.line.map(|l| l.to_string()).unwrap_or_default();
                format!("{line}: {}: {}", f.problem.subject(), f.problem.message)
            })
            .collect(),
    }
}

#[test]
fn the_base_playbook_is_valid() {
    assert_eq!(problems(&doc(BASE)), Vec::<String>::new());
}

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
fn duplicate_card_id() {
    let src = doc(&format!("{BASE}  - {{ id: ask, type: end }}\n"));
    assert_eq!(
        problems(&src),
        ["10: card 'ask': duplicate card id (card #2 has it too)"]
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
fn start_naming_a_missing_card() {
    let src = doc(BASE).replace("start: hi", "start: hello");
    assert_eq!(
        problems(&src),
        ["4: playbook: start names unknown card 'hello'"]
    );
}

#[test]
fn transitions_naming_missing_cards() {
    let cards = r#"  - { id: hi, type: message, text: Hi, next: ask }
  - { id: ask, type: question, text: "E-mail?", input: email, save: person.email, on_fail: gone1, next: choose }
  - id: choose
    type: buttons
    text: Pick
    options:
      - { label: A, next: gone2 }
      - { label: B, next: route }
      - { label: C, next: bye }
    other_next: gone3
  - id: route
    type: condition
    rules:
      - { when: { var: score, op: gt, value: 1 }, next: call }
      - { when: { var: score, op: gt, value: 2 }, next: gone4 }
    else: gone5
  - { id: call, type: http, url: "https://x.example/", next: chat, on_error: gone6 }
  - { id: chat, type: live_chat, online_message: a, offline_message: b, offline_next: gone7 }
  - { id: bye, type: redirect, url: "/", next: gone8 }
"#;
    assert_eq!(
        problems(&doc(cards)),
        [
            "7: card 'ask': on_fail names unknown card 'gone1'",
            "12: card 'choose': options[0].next names unknown card 'gone2'",
            "15: card 'choose': other_next names unknown card 'gone3'",
            "20: card 'route': rules[1].next names unknown card 'gone4'",
            "21: card 'route': else names unknown card 'gone5'",
            "22: card 'call': on_error names unknown card 'gone6'",
            "23: card 'chat': offline_next names unknown card 'gone7'",
            "24: card 'bye': next names unknown card 'gone8'",
        ]
    );
}

#[test]
fn unknown_card_names_get_a_suggestion() {
    let src = doc(BASE).replace("next: cap", "next: capt");
    assert_eq!(
        problems(&src),
        [
            "7: card 'ask': next names unknown card 'capt'; did you mean 'cap'?",
            "8: card 'cap': no path from start reaches this card",
        ]
    );
}

#[test]
fn unreachable_card() {
    let src = doc(&format!(
        "{BASE}  - {{ id: lost, type: end, text: Never }}\n"
    ));
    assert_eq!(
        problems(&src),
        ["10: card 'lost': no path from start reaches this card"]
    );
}

#[test]
fn loop_without_a_waiting_card() {
    let src = base_with(
        "cap",
        "  - { id: cap, type: capture, title: x, next: again }\n  \
         - { id: again, type: set, add_score: 1, next: look }\n  \
         - { id: look, type: http, url: \"https://x.example/\", next: cap }",
    );
    assert_eq!(
        problems(&src),
        [
            "8: card 'cap': cards 'cap', 'again', 'look' form a loop on which no card waits \
          for the visitor (add a question or buttons card to it)"
        ]
    );
    let src = base_with("cap", "  - { id: cap, type: set, add_score: 1, next: cap }");
    assert!(
        problems(&src).contains(
            &"8: card 'cap': this card leads back to itself without waiting for the visitor"
                .to_owned()
        ),
        "{:?}",
        problems(&src)
    );
}

#[test]
fn a_loop_through_a_question_is_fine() {
    let src = base_with(
        "cap",
        "  - { id: cap, type: capture, title: x, next: more }\n  \
         - { id: more, type: buttons, text: More?, options: [ { label: Yes, next: ask }, { label: No, next: bye } ] }",
    );
    assert_eq!(problems(&src), Vec::<String>::new());
}

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
fn capture_reached_without_identity() {
    // A question without on_fail also goes to `next` after three invalid answers.
    let src = doc(BASE).replace("on_fail: bye, ", "");
    assert_eq!(
        problems(&src),
        [
            "8: card 'cap': capture is reached by a path on which neither person.email, \
          person.phone nor person.name is saved: hi → ask (after 3 invalid answers) → cap"
        ]
    );
    // The failure branch leads to the capture too.
    let src = doc(BASE).replace("on_fail: bye", "on_fail: cap");
    assert_eq!(
        problems(&src),
        [
            "8: card 'cap': capture is reached by a path on which neither person.email, \
          person.phone nor person.name is saved: hi → ask (on_fail) → cap"
        ]
    );
}

#[test]
fn capture_after_email_or_phone_on_every_branch_is_fine() {
    let cards = r#"  - { id: hi, type: buttons, text: How?, options: [ { label: Mail, next: mail }, { label: Phone, next: tel } ] }
  - { id: mail, type: question, text: "E-mail?", input: email, save: person.email, on_fail: bye, next: cap }
  - { id: tel, type: question, text: "Phone?", input: phone, save: person.phone, on_fail: bye, next: cap }
  - { id: cap, type: capture, title: "{{ person.email | person.phone }}", next: bye }
  - { id: bye, type: end }
"#;
    assert_eq!(problems(&doc(cards)), Vec::<String>::new());
    // A set card giving null clears the e-mail again.
    let cards = cards.replace(
        "save: person.email, on_fail: bye, next: cap",
        "save: person.email, on_fail: bye, next: forget",
    ) + "  - { id: forget, type: set, set: { person.email: null }, next: cap }\n";
    assert_eq!(
        problems(&doc(&cards)),
        [
            "9: card 'cap': capture is reached by a path on which neither person.email, \
          person.phone nor person.name is saved: hi (options[0].next) → mail → forget → cap"
        ]
    );
}

#[test]
fn template_variable_that_no_path_sets() {
    let src = doc(BASE).replace("text: \"Bye\"", "text: \"Bye {{ vars.nick }}\"");
    assert_eq!(
        problems(&src),
        ["9: card 'bye': '{{ vars.nick }}' in text: no path to this card sets vars.nick"]
    );
    let src = doc(BASE).replace(
        "text: \"Bye\"",
        "text: \"Bye {{ vars.nick | org.name | org.address }}\"",
    );
    assert_eq!(
        problems(&src),
        [
            "9: card 'bye': '{{ vars.nick | org.name | org.address }}' in text: no path to this \
          card sets vars.nick or its fallbacks org.name, org.address"
        ]
    );
}

#[test]
fn template_fallbacks_that_count() {
    // A quoted fallback, a built-in variable, and a variable set on one path only.
    let src = doc(BASE).replace(
        "text: \"Bye\"",
        "text: \"Bye {{ vars.nick | \\\"friend\\\" }} from {{ visitor.url }}, {{ score }} {{ tags }} {{ person.email }}\"",
    );
    assert_eq!(problems(&src), Vec::<String>::new());
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
fn no_end_or_redirect_reachable() {
    let src = base_with(
        "bye",
        "  - { id: bye, type: live_chat, online_message: Hi, offline_message: Later, offline_next: ask }",
    );
    assert_eq!(
        problems(&src),
        ["4: playbook: no end or redirect card can be reached from start"]
    );
    let src = base_with(
        "bye",
        "  - { id: bye, type: redirect, url: \"https://example.com/\" }",
    );
    assert_eq!(problems(&src), Vec::<String>::new());
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
            "rules[0].when: operator 'gt' needs a number",
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
            "8: playbook: card #3: missing key 'id'",
            "9: card 'weird': 'options' must be a list, not the text \"oops\"",
        ]
    );
}

#[test]
fn problems_carry_pointers_for_documents_without_lines() {
    let json = r#"{"slug": "t", "name": "T", "trigger": {"on": "page_load"}, "start": "a",
        "cards": [{"id": "a", "type": "condition", "rules": [], "else": "b"},
                  {"id": "b", "type": "end"}]}"#;
    let report = check_document(json, Format::Json).unwrap_err();
    assert_eq!(report.problems.len(), 1);
    assert_eq!(report.problems[0].line, None);
    assert_eq!(
        report.problems[0].problem,
        Problem::card("a", "/cards/0/rules", "condition has no rules")
    );
    assert_eq!(
        report.render("api"),
        "api: card 'a': condition has no rules\n"
    );
}

#[test]
fn validate_works_on_the_model_too() {
    let mut pb = check_document(&doc(BASE), Format::Yaml).unwrap();
    assert_eq!(validate(&pb), Vec::<Problem>::new());
    if let CardKind::Question(q) = &mut pb.cards[1].kind {
        q.next = "nowhere".into();
    }
    assert_eq!(
        validate(&pb),
        [
            Problem::card("ask", "/cards/1/next", "next names unknown card 'nowhere'"),
            Problem::card("cap", "/cards/2", "no path from start reaches this card"),
        ]
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
