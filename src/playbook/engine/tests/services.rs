//! Cards that reach outside the chat: http, live_chat, capture, notify; and a whole
//! lead-qualification conversation.

use chrono::{NaiveDate, TimeDelta};
use serde_json::json;

use super::*;
use crate::playbook::effect::{CrmWrite, Email, HttpRequest, TimerKind};
use crate::playbook::model::{CaptureTarget, HttpMethod, Money, NoteMode, Owner};
use crate::playbook::state::HttpOutcome;

fn order_lookup() -> Playbook {
    playbook(json!([
        { "id": "lookup", "type": "http", "method": "POST",
          "url": "https://shop.example.com/api/orders/{{ vars.order_id }}",
          "headers": { "Accept": "application/json", "X-Visitor": "{{ person.email | \"anonymous\" }}" },
          "body": "{\"order\": \"{{ vars.order_id }}\"}",
          "timeout_seconds": 5,
          "save": { "vars.order_status": "/status", "vars.carrier": "/shipping/carrier" },
          "next": "show", "on_error": "sorry" },
        { "id": "show", "type": "end", "text": "Your order is {{ vars.order_status | \"unknown\" }}." },
        { "id": "sorry", "type": "end", "text": "I can't look that up right now." },
    ]))
}

fn http_requests(step: &Step) -> Vec<&HttpRequest> {
    step.effects
        .iter()
        .filter_map(|e| match e {
            Effect::CallHttp(r) => Some(r),
            _ => None,
        })
        .collect()
}

#[test]
fn http_calls_with_rendered_templates_and_waits() {
    let mut chat = Chat::new(order_lookup());
    chat.state.vars.set("vars.order_id", json!("A 17"));
    let out = chat.start();
    let request = http_requests(&out)[0];
    assert_eq!(request.card, "lookup");
    assert_eq!(request.method, HttpMethod::Post);
    assert_eq!(request.url, "https://shop.example.com/api/orders/A%2017");
    assert_eq!(
        request.headers,
        [
            ("Accept".to_owned(), "application/json".to_owned()),
            ("X-Visitor".to_owned(), "anonymous".to_owned()),
        ]
    );
    assert_eq!(request.body.as_deref(), Some("{\"order\": \"A 17\"}"));
    assert_eq!(request.timeout_seconds, 5);
    assert_eq!(chat.phase(), Phase::AwaitingHttp);
    assert!(
        chat.text("hello?").effects.is_empty(),
        "the bot is busy, not listening"
    );
}

#[test]
fn an_http_answer_is_mapped_into_variables() {
    let mut chat = Chat::new(order_lookup());
    chat.start();
    let out = chat.send(Event::HttpResult {
        outcome: HttpOutcome::Ok {
            status: 200,
            body: json!({ "status": "shipped", "id": 17 }),
        },
    });
    assert_eq!(var_sets(&out), [("vars.order_status", &json!("shipped"))]);
    assert_eq!(
        chat.var("vars.carrier"),
        None,
        "a missing pointer leaves the variable unset"
    );
    assert_eq!(texts(&out), ["Your order is shipped."]);
    let late = chat.send(Event::HttpResult {
        outcome: HttpOutcome::Failed {
            reason: "timeout".into(),
        },
    });
    assert!(late.effects.is_empty(), "a second result is stale");
}

#[test]
fn a_failed_call_takes_on_error_or_next() {
    let mut chat = Chat::new(order_lookup());
    chat.start();
    let failed = Event::HttpResult {
        outcome: HttpOutcome::Failed {
            reason: "HTTP 500".into(),
        },
    };
    assert_eq!(reached(&chat.send(failed.clone())), ["sorry"]);

    let mut pb = order_lookup();
    if let crate::playbook::model::CardKind::Http(h) = &mut pb.cards[0].kind {
        h.on_error = None;
    }
    let mut chat = Chat::new(pb);
    chat.start();
    let out = chat.send(failed);
    assert_eq!(texts(&out), ["Your order is unknown."]);
}

#[test]
fn http_results_outside_a_call_are_ignored() {
    let mut chat = Chat::new(order_lookup());
    let out = chat.send(Event::HttpResult {
        outcome: HttpOutcome::Ok {
            status: 200,
            body: json!({}),
        },
    });
    assert!(out.effects.is_empty());
    assert_eq!(chat.phase(), Phase::Idle);
}

fn live_chat() -> Playbook {
    playbook(json!([
        { "id": "rep", "type": "live_chat", "online_message": "Connecting you…", "wait_seconds": 90,
          "offline_message": "Everyone is busy.", "offline_next": "phone" },
        { "id": "phone", "type": "question", "text": "Your phone number?", "input": "phone",
          "save": "person.phone", "next": "done" },
        { "id": "done", "type": "end", "text": "We'll call you on {{ person.phone }}." },
    ]))
}

#[test]
fn live_chat_online_hands_off_and_arms_the_wait_timer() {
    let mut chat = Chat::new(live_chat()).online();
    let out = chat.start();
    assert_eq!(
        out.effects,
        [
            Effect::Reached { card: "rep".into() },
            Effect::Say(BotMessage {
                card: "rep".into(),
                text: "Connecting you…".into(),
                buttons: vec![],
                input: None,
                placeholder: None,
            }),
            Effect::HandOff { card: "rep".into() },
            Effect::ArmTimer {
                kind: TimerKind::LiveChatWait,
                card: "rep".into(),
                due_at: now() + TimeDelta::seconds(90),
            },
        ]
    );
    assert_eq!(chat.phase(), Phase::AwaitingRep);
    assert!(
        chat.text("hello? anyone?").effects.is_empty(),
        "kept for the rep, no bot reply"
    );
    assert!(chat.choice(0).effects.is_empty());
}

#[test]
fn live_chat_wait_expiry_goes_offline() {
    let mut chat = Chat::new(live_chat()).online();
    chat.start();
    let out = chat.send(Event::WaitExpired);
    assert_eq!(texts(&out), ["Everyone is busy.", "Your phone number?"]);
    assert_eq!(reached(&out), ["phone"]);
    assert!(
        chat.send(Event::WaitExpired).effects.is_empty(),
        "a timer fires once"
    );
    let out = chat.text("0612345678");
    assert_eq!(
        said(&out)[0].text,
        "Please give your number with its country code, e.g. +1 415 555 0100."
    );
    let out = chat.text("+33 6 12 34 56 78");
    assert_eq!(texts(&out), ["We'll call you on +33612345678."]);
}

#[test]
fn live_chat_offline_continues_at_once() {
    let mut chat = Chat::new(live_chat());
    let out = chat.start();
    assert_eq!(reached(&out), ["rep", "phone"]);
    assert_eq!(texts(&out), ["Everyone is busy.", "Your phone number?"]);
    assert!(
        !out.effects
            .iter()
            .any(|e| matches!(e, Effect::HandOff { .. } | Effect::ArmTimer { .. }))
    );
}

#[test]
fn a_rep_joining_cancels_the_timer_and_silences_the_bot() {
    let mut chat = Chat::new(live_chat()).online();
    chat.start();
    let out = chat.send(Event::RepJoined {
        rep_name: "Sam".into(),
    });
    assert_eq!(
        out.effects,
        [Effect::CancelTimer {
            kind: TimerKind::LiveChatWait
        }]
    );
    assert_eq!(chat.phase(), Phase::WithRep);
    assert!(chat.text("hi Sam").effects.is_empty());
    assert!(
        chat.text("stop").effects.is_empty(),
        "exit words are plain messages to a rep"
    );
    assert!(
        chat.send(Event::WaitExpired).effects.is_empty(),
        "stale timer"
    );
    assert!(
        chat.send(Event::RepJoined {
            rep_name: "Kim".into()
        })
        .effects
        .is_empty()
    );
    assert!(chat.start().effects.is_empty());
}

#[test]
fn a_rep_may_take_over_at_a_question() {
    let mut chat = Chat::new(live_chat());
    chat.start();
    let out = chat.send(Event::RepJoined {
        rep_name: "Sam".into(),
    });
    assert!(out.effects.is_empty(), "no timer to cancel");
    assert_eq!(chat.phase(), Phase::WithRep);
    assert!(chat.text("+33 6 12 34 56 78").effects.is_empty());
}

#[test]
fn leaving_while_waiting_for_a_rep_cancels_the_timer() {
    let mut chat = Chat::new(live_chat()).online();
    chat.start();
    let out = chat.text("quit");
    assert_eq!(
        out.effects[1],
        Effect::CancelTimer {
            kind: TimerKind::LiveChatWait
        }
    );
    assert!(ends(&out));
}

fn capture(card: Value) -> CrmWrite {
    let mut card = card;
    card["id"] = json!("capture");
    card["type"] = json!("capture");
    card["next"] = json!("done");
    let pb = playbook(json!([card, { "id": "done", "type": "end" }]));
    let mut chat = Chat::new(pb);
    for (path, value) in [
        ("person.name", json!("Ada Lovelace")),
        ("person.email", json!("ada@example.com")),
        ("org.name", json!("Analytical Engines")),
        ("vars.team_size", json!("large")),
        ("deal.value", json!("2500")),
        ("deal.currency", json!("GBP")),
        ("deal.expected_close_date", json!("2027-06-30")),
        ("visitor.url", json!("/pricing")),
    ] {
        chat.state.vars.set(path, value);
    }
    chat.state.vars.add_score(25);
    let out = chat.start();
    assert_eq!(reached(&out), ["capture", "done"]);
    let writes: Vec<_> = out
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::QueueCrm(w) => Some(w.as_ref().clone()),
            _ => None,
        })
        .collect();
    assert_eq!(writes.len(), 1);
    writes[0].clone()
}

#[test]
fn capture_queues_everything_learned() {
    let write = capture(json!({
        "create": "deal", "title": "{{ org.name | person.email }} — chatbot",
        "value": { "amount": 1000, "currency": "EUR" }, "expected_close_days": 30,
        "owner": 42, "label": "hot", "note": "transcript",
        "activity": { "subject": "Call {{ person.name | person.email }}", "type": "call", "due_in_days": 1 },
    }));
    assert_eq!(write.card, "capture");
    assert_eq!(write.create, CaptureTarget::Deal);
    assert_eq!(write.title, "Analytical Engines — chatbot");
    assert_eq!(write.person.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(write.person.email.as_deref(), Some("ada@example.com"));
    assert_eq!(write.person.phone, None);
    assert_eq!(
        write.org.as_ref().map(|o| o.name.as_str()),
        Some("Analytical Engines")
    );
    assert_eq!(
        write.value,
        Some(Money {
            amount: 1000.0,
            currency: "EUR".into()
        })
    );
    assert_eq!(
        write.expected_close_date,
        NaiveDate::from_ymd_opt(2027, 4, 3)
    );
    assert_eq!(write.owner, Owner::User(42));
    assert_eq!(write.label.as_deref(), Some("hot"));
    let activity = write.activity.expect("activity");
    assert_eq!(activity.subject, "Call Ada Lovelace");
    assert_eq!(activity.kind, "call");
    assert_eq!(
        activity.due_date,
        NaiveDate::from_ymd_opt(2027, 3, 5).unwrap()
    );
    assert_eq!(write.note, NoteMode::Transcript);
    let answers: Vec<(&str, &str)> = write
        .answers
        .iter()
        .map(|(p, v)| (p.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        answers,
        [
            ("Currency", "GBP"),
            ("Expected close date", "2027-06-30"),
            ("Deal value", "2500"),
            ("Company", "Analytical Engines"),
            ("E-mail", "ada@example.com"),
            ("Name", "Ada Lovelace"),
            ("Team size", "large"),
        ]
    );
}

#[test]
fn answers_are_labelled_with_the_question_that_asked_them() {
    let pb = playbook(json!([
        { "id": "size", "type": "buttons", "text": "How big is **your** team?",
          "save": "vars.team_size", "options": [
            { "label": "1-10", "value": "small", "next": "mail" },
            { "label": "50+", "value": "large", "next": "mail" } ] },
        { "id": "mail", "type": "question", "text": "Your e-mail, {{ person.name | \"friend\" }}?",
          "input": "email", "save": "person.email", "next": "capture" },
        { "id": "capture", "type": "capture", "title": "Lead", "next": "done" },
        { "id": "done", "type": "end" },
    ]));
    let mut chat = Chat::new(pb);
    chat.start();
    chat.choice(1);
    let out = chat.text("ada@example.com");
    let write = out
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::QueueCrm(w) => Some(w.clone()),
            _ => None,
        })
        .expect("a capture");
    let answers: Vec<(&str, &str)> = write
        .answers
        .iter()
        .map(|(p, v)| (p.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        answers,
        [
            ("How big is **your** team?", "50+"),
            ("Your e-mail, friend?", "ada@example.com"),
        ]
    );
}

#[test]
fn capture_takes_value_and_close_date_from_deal_variables() {
    let write = capture(json!({ "title": "Lead", "note": "none" }));
    assert_eq!(write.create, CaptureTarget::Lead);
    assert_eq!(
        write.value,
        Some(Money {
            amount: 2500.0,
            currency: "GBP".into()
        })
    );
    assert_eq!(
        write.expected_close_date,
        NaiveDate::from_ymd_opt(2027, 6, 30)
    );
    assert_eq!(write.owner, Owner::Rep);
    assert_eq!(write.activity, None);
    assert_eq!(write.note, NoteMode::None);
}

#[test]
fn the_activity_is_due_on_the_day_the_visitor_chose() {
    // deal.expected_close_date stands in for a day a date question saved.
    let chosen = capture(json!({ "title": "Lead", "activity": {
        "subject": "Meeting", "type": "meeting",
        "due": "{{ deal.expected_close_date }}", "due_in_days": 2 } }));
    assert_eq!(
        chosen.activity.expect("activity").due_date,
        NaiveDate::from_ymd_opt(2027, 6, 30).unwrap()
    );
    // No day (or no date): due_in_days from the capture.
    for due in ["{{ vars.unset_day }}", "{{ vars.team_size }}"] {
        let fallback = capture(json!({ "title": "Lead", "activity": {
            "subject": "Meeting", "due": due, "due_in_days": 2 } }));
        assert_eq!(
            fallback.activity.expect("activity").due_date,
            NaiveDate::from_ymd_opt(2027, 3, 6).unwrap(),
            "{due}"
        );
    }
}

#[test]
fn notify_queues_a_rendered_email() {
    let pb = playbook(json!([
        { "id": "tell", "type": "notify", "to": ["sales@example.com"],
          "subject": "New lead: {{ person.email | \"unknown\" }}",
          "body": "Score {{ score }} from {{ visitor.url }}", "next": "e" },
        { "id": "e", "type": "end" },
    ]));
    let mut chat = Chat::new(pb);
    chat.state.vars.set("visitor.url", json!("/pricing"));
    let out = chat.start();
    assert_eq!(
        out.effects[1],
        Effect::QueueEmail(Email {
            to: vec!["sales@example.com".into()],
            subject: "New lead: unknown".into(),
            body: "Score 0 from /pricing".into(),
            card: "tell".into(),
            answers: vec![],
        })
    );
}

/// The lead-qualification example of the format reference, as a JSON document.
fn lead_qualification() -> Playbook {
    let doc = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/lead_qualification.json"
    ));
    serde_json::from_str(doc).expect("example parses")
}

#[test]
fn a_small_team_is_captured_as_a_lead_and_the_team_told() {
    let mut chat = Chat::new(lead_qualification()).online();
    chat.state.vars.set("visitor.url", json!("/"));
    let out = chat.start();
    assert_eq!(
        texts(&out),
        [
            "Hi there! I can help you find the right plan.",
            "How big is your team?"
        ]
    );
    chat.choice(0);
    let out = chat.text("ada@example.com");
    assert_eq!(reached(&out), ["route", "capture", "tell_team", "thanks"]);
    let kinds: Vec<&str> = out
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::QueueCrm(_) => Some("crm"),
            Effect::QueueEmail(_) => Some("email"),
            Effect::Say(_) => Some("say"),
            Effect::End => Some("end"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["crm", "email", "say", "end"]);
}

#[test]
fn a_large_team_goes_to_a_rep() {
    let mut chat = Chat::new(lead_qualification()).online();
    chat.start();
    chat.choice(2);
    let out = chat.text("ada@example.com");
    assert_eq!(reached(&out), ["route", "rep"]);
    assert_eq!(chat.phase(), Phase::AwaitingRep);
}
