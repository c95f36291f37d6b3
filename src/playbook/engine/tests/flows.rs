//! Conversation cards: message, question, buttons, condition, set, end, redirect; exits,
//! retries, stale events and the step cap.

use serde_json::json;

use super::*;
use crate::playbook::engine::MAX_AUTOMATIC_STEPS;
use crate::playbook::model::InputKind;

fn greeting_then_email() -> Playbook {
    playbook(json!([
        { "id": "hi", "type": "message", "text": "Hi {{ person.name | \"there\" }}!", "next": "email" },
        { "id": "email", "type": "question", "text": "Your e-mail?", "input": "email",
          "placeholder": "you@company.com", "save": "person.email",
          "retry_text": "Hmm, {{ person.name | \"friend\" }}, that is no e-mail.",
          "on_fail": "bye", "next": "thanks" },
        { "id": "thanks", "type": "end", "text": "Thanks, we'll write to {{ person.email }}." },
        { "id": "bye", "type": "end", "text": "Never mind." },
    ]))
}

#[test]
fn start_runs_automatic_cards_until_one_waits() {
    let mut chat = Chat::new(greeting_then_email());
    let out = chat.start();
    assert_eq!(reached(&out), ["hi", "email"]);
    assert_eq!(texts(&out), ["Hi there!", "Your e-mail?"]);
    let question = said(&out)[1];
    assert_eq!(question.input, Some(InputKind::Email));
    assert_eq!(question.placeholder.as_deref(), Some("you@company.com"));
    assert_eq!(chat.phase(), Phase::AwaitingInput);
    assert_eq!(chat.at(), "email");
}

#[test]
fn start_on_a_running_flow_is_ignored() {
    let mut chat = Chat::new(greeting_then_email());
    chat.start();
    let before = chat.state.clone();
    let out = chat.start();
    assert!(out.effects.is_empty());
    assert_eq!(out.state, before);
}

#[test]
fn templates_use_variables_then_fallbacks() {
    let mut chat = Chat::new(greeting_then_email());
    chat.state.vars.set("person.name", json!("Ada"));
    assert_eq!(texts(&chat.start())[0], "Hi Ada!");
}

#[test]
fn a_valid_answer_is_normalised_saved_and_moves_on() {
    let mut chat = Chat::new(greeting_then_email());
    chat.start();
    let out = chat.text("  ada@EXAMPLE.com ");
    assert_eq!(
        var_sets(&out),
        [("person.email", &json!("ada@example.com"))]
    );
    assert_eq!(reached(&out), ["thanks"]);
    assert_eq!(texts(&out), ["Thanks, we'll write to ada@example.com."]);
    assert!(ends(&out));
    assert_eq!(chat.phase(), Phase::Ended);
}

#[test]
fn invalid_answers_get_the_retry_text_then_on_fail() {
    let mut chat = Chat::new(greeting_then_email());
    chat.start();
    for attempt in 1..=2 {
        let out = chat.text("not an address");
        assert_eq!(
            texts(&out),
            ["Hmm, friend, that is no e-mail.", "Your e-mail?"],
            "attempt {attempt}"
        );
        assert!(reached(&out).is_empty());
        assert_eq!(chat.state.tries, attempt);
        assert_eq!(chat.phase(), Phase::AwaitingInput);
    }
    let out = chat.text("still not");
    assert_eq!(reached(&out), ["bye"]);
    assert_eq!(texts(&out), ["Never mind."]);
    assert_eq!(chat.var("person.email"), None);
}

#[test]
fn without_on_fail_the_flow_goes_on_to_next_and_default_retry_speaks_the_language() {
    let pb = playbook_with(
        json!({ "language": "fr" }),
        json!([
            { "id": "n", "type": "question", "text": "Combien ?", "input": "number",
              "save": "vars.n", "max_tries": 2, "next": "done" },
            { "id": "done", "type": "end" },
        ]),
    );
    let mut chat = Chat::new(pb);
    chat.start();
    let out = chat.text("beaucoup");
    assert_eq!(
        texts(&out),
        ["Merci de répondre par un nombre.", "Combien ?"]
    );
    let out = chat.text("encore");
    assert_eq!(reached(&out), ["done"]);
    assert!(ends(&out));
    assert!(
        said(&out).is_empty(),
        "an end card without text says nothing"
    );
}

#[test]
fn tries_start_again_at_each_question() {
    let pb = playbook(json!([
        { "id": "a", "type": "question", "text": "A?", "input": "number", "save": "vars.a", "next": "b" },
        { "id": "b", "type": "question", "text": "B?", "input": "number", "save": "vars.b", "next": "end" },
        { "id": "end", "type": "end" },
    ]));
    let mut chat = Chat::new(pb);
    chat.start();
    chat.text("x");
    chat.text("x");
    chat.text("1,5");
    assert_eq!(chat.var("vars.a"), Some(json!(1.5)));
    assert_eq!((chat.at(), chat.state.tries), ("b", 0));
    chat.text("x");
    chat.text("x");
    assert_eq!(chat.at(), "b", "two wrong answers of three allowed");
}

fn team_size() -> Playbook {
    playbook(json!([
        { "id": "size", "type": "buttons", "text": "How big is your team?", "save": "vars.team_size",
          "options": [
            { "label": "1-10", "value": "small", "next": "small" },
            { "label": "11-50", "next": "mid", "score": 10 },
            { "label": "50+", "value": "large", "next": "big", "score": 25, "tags": ["enterprise"] },
          ] },
        { "id": "small", "type": "end", "text": "small" },
        { "id": "mid", "type": "end", "text": "mid" },
        { "id": "big", "type": "end", "text": "big {{ score }} {{ tags }}" },
    ]))
}

#[test]
fn buttons_show_their_labels_and_a_choice_saves_scores_and_tags() {
    let mut chat = Chat::new(team_size());
    let out = chat.start();
    assert_eq!(said(&out)[0].buttons, ["1-10", "11-50", "50+"]);
    let out = chat.choice(2);
    assert_eq!(
        var_sets(&out),
        [
            ("vars.team_size", &json!("large")),
            ("score", &json!(25)),
            ("tags", &json!(["enterprise"])),
        ]
    );
    assert_eq!(reached(&out), ["big"]);
    assert_eq!(texts(&out), ["big 25 enterprise"]);
}

#[test]
fn an_option_without_value_saves_its_label() {
    let mut chat = Chat::new(team_size());
    chat.start();
    chat.choice(1);
    assert_eq!(chat.var("vars.team_size"), Some(json!("11-50")));
    assert_eq!(chat.state.vars.score, 10);
}

#[test]
fn typing_a_label_counts_as_pressing_it() {
    let mut chat = Chat::new(team_size());
    chat.start();
    let out = chat.text(" 50+ ");
    assert_eq!(reached(&out), ["big"]);
    let mut chat = Chat::new(playbook(json!([
        { "id": "q", "type": "buttons", "text": "?", "options": [{ "label": "Yes please", "next": "e" }] },
        { "id": "e", "type": "end" },
    ])));
    chat.start();
    assert_eq!(reached(&chat.text("YES PLEASE")), ["e"]);
}

#[test]
fn other_text_at_buttons_goes_to_other_next_or_asks_again() {
    let mut chat = Chat::new(team_size());
    chat.start();
    let out = chat.text("about 30");
    assert_eq!(
        texts(&out),
        ["Please choose one of the options.", "How big is your team?"]
    );
    assert_eq!(said(&out)[1].buttons.len(), 3);
    assert_eq!(chat.phase(), Phase::AwaitingInput);

    let mut pb = team_size();
    if let crate::playbook::model::CardKind::Buttons(b) = &mut pb.cards[0].kind {
        b.other_next = Some("mid".into());
    }
    let mut chat = Chat::new(pb);
    chat.start();
    let out = chat.text("about 30");
    assert_eq!(var_sets(&out), [("vars.team_size", &json!("about 30"))]);
    assert_eq!(reached(&out), ["mid"]);
}

#[test]
fn stale_choices_are_ignored() {
    let mut chat = Chat::new(team_size());
    chat.start();
    let before = chat.state.clone();
    assert!(chat.choice(3).effects.is_empty());
    assert_eq!(chat.state, before);

    let mut chat = Chat::new(greeting_then_email());
    chat.start();
    assert!(
        chat.choice(0).effects.is_empty(),
        "no buttons at a question"
    );
    chat.text("ada@example.com");
    assert!(chat.choice(0).effects.is_empty(), "flow ended");
}

#[test]
fn exit_words_leave_the_flow_cleanly() {
    let mut chat = Chat::new(team_size());
    chat.start();
    let out = chat.text("  Stop ");
    assert_eq!(
        texts(&out),
        ["Okay, I'll stop here. Write to us any time if you need anything."]
    );
    assert!(ends(&out));
    assert!(
        !out.effects
            .iter()
            .any(|e| matches!(e, Effect::CancelTimer { .. }))
    );
    assert_eq!(chat.phase(), Phase::Ended);
    assert!(
        chat.text("hello").effects.is_empty(),
        "text after the end is for triggers"
    );
}

#[test]
fn custom_exit_words_and_the_close_button() {
    let pb = playbook_with(
        json!({ "exit_words": ["Arrête"], "language": "fr" }),
        json!([
            { "id": "q", "type": "question", "text": "?", "input": "text", "save": "vars.q", "next": "e" },
            { "id": "e", "type": "end" },
        ]),
    );
    let mut chat = Chat::new(pb.clone());
    chat.start();
    assert_eq!(
        chat.text("stop").effects.len(),
        3,
        "`stop` is an answer here"
    );
    let mut chat = Chat::new(pb.clone());
    chat.start();
    let out = chat.text("ARRÊTE");
    assert_eq!(
        texts(&out),
        ["D'accord, je m'arrête là. Écrivez-nous quand vous voulez."]
    );
    let mut chat = Chat::new(pb);
    chat.start();
    assert!(ends(&chat.send(Event::Exit)));
    assert!(chat.send(Event::Exit).effects.is_empty(), "already left");
}

#[test]
fn an_interrupt_stops_the_flow_silently() {
    let pb = playbook(json!([
        { "id": "ask", "type": "question", "text": "Your e-mail?", "input": "email",
          "save": "person.email", "next": "done" },
        { "id": "done", "type": "end", "text": "Thanks" },
    ]));
    let mut chat = Chat::new(pb);
    chat.start();
    let out = chat.send(Event::Interrupt);
    assert!(out.effects.is_empty(), "{:?}", out.effects);
    assert_eq!(out.state.phase, Phase::Ended);
    assert!(
        chat.text("ada@example.com").effects.is_empty(),
        "no longer waiting"
    );
}

#[test]
fn conditions_take_the_first_matching_rule_else_else() {
    let pb = playbook(json!([
        { "id": "route", "type": "condition", "rules": [
            { "when": { "var": "score", "op": "gte", "value": 20 }, "next": "hot" },
            { "when": { "all": [
                { "var": "tags", "op": "contains", "value": "enterprise" },
                { "var": "visitor.url", "op": "matches", "value": "/pricing*" } ] }, "next": "warm" },
            { "when": { "var": "score", "op": "gte", "value": 10 }, "next": "never" },
          ], "else": "cold" },
        { "id": "hot", "type": "end", "text": "hot" },
        { "id": "warm", "type": "end", "text": "warm" },
        { "id": "never", "type": "end", "text": "never" },
        { "id": "cold", "type": "end", "text": "cold" },
    ]));
    let run = |score: i64, tag: Option<&str>, url: &str| {
        let mut chat = Chat::new(pb.clone());
        chat.state.vars.add_score(score);
        if let Some(t) = tag {
            chat.state.vars.add_tag(t);
        }
        chat.state.vars.set("visitor.url", json!(url));
        texts(&chat.start())[0].to_owned()
    };
    assert_eq!(run(25, None, "/"), "hot");
    assert_eq!(run(0, Some("enterprise"), "/pricing/teams"), "warm");
    assert_eq!(run(0, Some("enterprise"), "/blog"), "cold");
    assert_eq!(run(0, None, "/pricing"), "cold");
}

#[test]
fn set_renders_text_values_and_adds_score_and_tags() {
    let pb = playbook(json!([
        { "id": "s", "type": "set",
          "set": { "vars.greeting": "Hello {{ person.name | \"you\" }}", "vars.seats": 12 },
          "add_score": 5, "add_tags": ["pricing-page"], "next": "e" },
        { "id": "e", "type": "end", "text": "{{ vars.greeting }} {{ score }} {{ tags }}" },
    ]));
    let mut chat = Chat::new(pb);
    chat.state.vars.add_score(1);
    let out = chat.start();
    assert_eq!(
        var_sets(&out),
        [
            ("vars.greeting", &json!("Hello you")),
            ("vars.seats", &json!(12)),
            ("score", &json!(6)),
            ("tags", &json!(["pricing-page"])),
        ]
    );
    assert_eq!(texts(&out), ["Hello you 6 pricing-page"]);
}

#[test]
fn redirect_ends_the_flow_unless_it_has_a_next() {
    let pb = playbook(json!([
        { "id": "go", "type": "redirect", "url": "https://example.com/docs?from={{ person.email }}" },
    ]));
    let mut chat = Chat::new(pb);
    chat.state
        .vars
        .set("person.email", json!("a+b@example.com"));
    let out = chat.start();
    assert_eq!(
        out.effects[1],
        Effect::Redirect {
            url: "https://example.com/docs?from=a%2Bb%40example.com".into()
        }
    );
    assert!(ends(&out));

    let pb = playbook(json!([
        { "id": "go", "type": "redirect", "url": "https://example.com/", "next": "e" },
        { "id": "e", "type": "end", "text": "bye" },
    ]));
    let out = Chat::new(pb).start();
    assert_eq!(reached(&out), ["go", "e"]);
    assert_eq!(out.effects.iter().filter(|e| **e == Effect::End).count(), 1);
}

#[test]
fn a_loop_of_automatic_cards_stops_at_the_cap() {
    let pb = playbook(json!([
        { "id": "a", "type": "message", "text": "a", "next": "b" },
        { "id": "b", "type": "set", "add_score": 1, "next": "a" },
    ]));
    let mut chat = Chat::new(pb);
    let out = chat.start();
    assert_eq!(reached(&out).len(), MAX_AUTOMATIC_STEPS);
    assert!(ends(&out));
    assert_eq!(chat.phase(), Phase::Ended);
}

#[test]
fn a_missing_card_ends_the_flow() {
    let pb = playbook(json!([
        { "id": "a", "type": "message", "text": "a", "next": "nowhere" },
    ]));
    let out = Chat::new(pb).start();
    assert_eq!(reached(&out), ["a"]);
    assert!(ends(&out));

    let mut pb = team_size();
    pb.start = "missing".into();
    let mut chat = Chat::new(pb);
    let out = chat.start();
    assert_eq!(out.effects, [Effect::End]);
    assert_eq!(chat.phase(), Phase::Ended);

    let mut chat = Chat::new(team_size());
    chat.start();
    chat.state.at = Some("gone".into());
    assert!(
        ends(&chat.text("50+")),
        "a state from a card that no longer exists"
    );
}

#[test]
fn text_before_the_start_is_not_for_the_flow() {
    let mut chat = Chat::new(team_size());
    assert!(chat.text("hello").effects.is_empty());
    assert_eq!(chat.phase(), Phase::Idle);
}
