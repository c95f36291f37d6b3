//! Rules about the flow: card references, reachability, loops, endings, identity before
//! a capture and template sources.

use super::{BASE, base_with, doc, problems};
use crate::playbook::check::check_document;
use crate::playbook::load::Format;
use crate::playbook::model::CardKind;
use crate::playbook::validate::{Problem, validate};

#[test]
fn the_base_playbook_is_valid() {
    assert_eq!(problems(&doc(BASE)), Vec::<String>::new());
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
