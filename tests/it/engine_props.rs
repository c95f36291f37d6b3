//! Property tests of the engine: random playbooks (valid or not) of every card type with
//! random transitions, fed random event sequences. The engine must never panic, never run
//! away, and after every event either wait for something or have ended.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};

use concierge::playbook::effect::Effect;
use concierge::playbook::engine::{MAX_AUTOMATIC_STEPS, step};
use concierge::playbook::model::*;
use concierge::playbook::state::{Env, Event, HttpOutcome, Phase, State};

const IDS: [&str; 8] = ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"];
/// Transition targets: mostly cards that may exist, sometimes one that never does.
const TARGETS: [&str; 9] = ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "missing"];
const VARS: [&str; 8] = [
    "person.name",
    "person.email",
    "person.phone",
    "org.name",
    "deal.value",
    "vars.x",
    "score",
    "tags",
];
const TEXTS: [&str; 6] = [
    "plain text",
    "Hi {{ person.name | \"there\" }}!",
    "{{ org.name | person.email }} — {{ score }} {{ tags }}",
    "{{ unclosed",
    "{{ vars.x }}/{{ deal.value | 'none' }}",
    "",
];
const LABELS: [&str; 5] = ["Yes", "No", "1-10", "50+", "stop"];
const OPS: [Op; 11] = [
    Op::Eq,
    Op::Ne,
    Op::Contains,
    Op::In,
    Op::Gt,
    Op::Gte,
    Op::Lt,
    Op::Lte,
    Op::Set,
    Op::Unset,
    Op::Matches,
];
const INPUTS: [InputKind; 7] = [
    InputKind::Text,
    InputKind::LongText,
    InputKind::Email,
    InputKind::Phone,
    InputKind::Number,
    InputKind::Date,
    InputKind::Url,
];

fn target() -> impl Strategy<Value = String> {
    prop::sample::select(&TARGETS[..]).prop_map(str::to_owned)
}

fn text() -> impl Strategy<Value = String> {
    prop::sample::select(&TEXTS[..]).prop_map(str::to_owned)
}

fn var() -> impl Strategy<Value = String> {
    prop::sample::select(&VARS[..]).prop_map(str::to_owned)
}

fn json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(null)),
        any::<i32>().prop_map(|n| json!(n)),
        Just(json!("2027-03-04")),
        Just(json!("enterprise")),
        Just(json!("/pricing*")),
        Just(json!(["a", "enterprise", 3])),
        Just(json!({ "nested": true })),
    ]
}

fn cond() -> impl Strategy<Value = Cond> {
    let leaf = (
        var(),
        prop::sample::select(&OPS[..]),
        prop::option::of(json_value()),
    )
        .prop_map(|(var, op, value)| Cond::Test { var, op, value });
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Cond::All),
            prop::collection::vec(inner, 0..3).prop_map(Cond::Any),
        ]
    })
}

fn button_option() -> impl Strategy<Value = ButtonOption> {
    (
        prop::sample::select(&LABELS[..]),
        prop::option::of(text()),
        target(),
        prop::option::of(any::<i64>()),
        prop::collection::vec(prop::sample::select(&LABELS[..]), 0..2),
    )
        .prop_map(|(label, value, next, score, tags)| ButtonOption {
            label: label.to_owned(),
            value,
            next,
            score,
            tags: tags.into_iter().map(str::to_owned).collect(),
        })
}

fn question() -> impl Strategy<Value = CardKind> {
    (
        prop::option::of(text()),
        prop::option::of(prop::sample::select(&INPUTS[..])),
        prop::option::of(var()),
        prop::option::of(text()),
        prop::option::of(0u32..5),
        prop::option::of(target()),
        target(),
    )
        .prop_map(
            |(text, input, save, retry_text, max_tries, on_fail, next)| {
                CardKind::Question(QuestionCard {
                    text: text.map(Text::from),
                    input,
                    save,
                    placeholder: None,
                    retry_text: retry_text.map(Text::from),
                    max_tries,
                    on_fail,
                    next,
                })
            },
        )
}

fn http() -> impl Strategy<Value = CardKind> {
    (
        text(),
        prop::collection::btree_map(prop::sample::select(&["Accept", "X-Id"][..]), text(), 0..2),
        prop::option::of(prop::sample::select(
            &["{\"a\": \"{{ person.name }}\"}", "x={{ vars.x }}"][..],
        )),
        prop::option::of(0u32..100),
        prop::collection::btree_map(
            var(),
            prop::sample::select(&["/status", "", "bad", "/a/0"][..]),
            0..3,
        ),
        target(),
        prop::option::of(target()),
    )
        .prop_map(
            |(url, headers, body, timeout_seconds, save, next, on_error)| {
                CardKind::Http(HttpCard {
                    method: HttpMethod::Get,
                    url: url.into(),
                    headers: headers
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), Text::from(v)))
                        .collect(),
                    body: body.map(Text::from),
                    timeout_seconds,
                    save: save.into_iter().map(|(k, v)| (k, v.to_owned())).collect(),
                    next,
                    on_error,
                })
            },
        )
}

fn capture() -> impl Strategy<Value = CardKind> {
    (
        text(),
        prop::option::of(any::<f64>()),
        prop::option::of(any::<u32>()),
        prop::option::of((text(), any::<u32>())),
        any::<bool>(),
        target(),
    )
        .prop_map(
            |(title, amount, expected_close_days, activity, deal, next)| {
                CardKind::Capture(CaptureCard {
                    create: if deal {
                        CaptureTarget::Deal
                    } else {
                        CaptureTarget::Lead
                    },
                    title: title.into(),
                    value: amount.map(|amount| Money {
                        amount,
                        currency: "EUR".into(),
                    }),
                    expected_close_days,
                    owner: Owner::Rep,
                    label: None,
                    activity: activity.map(|(subject, due_in_days)| ActivitySpec {
                        subject: subject.into(),
                        kind: "call".into(),
                        due: None,
                        due_in_days,
                    }),
                    note: NoteMode::Transcript,
                    next,
                })
            },
        )
}

fn card_kind() -> impl Strategy<Value = CardKind> {
    prop_oneof![
        (text(), target()).prop_map(|(text, next)| CardKind::Message(MessageCard {
            text: text.into(),
            next
        })),
        question(),
        (
            prop::option::of(text()),
            prop::option::of(var()),
            prop::collection::vec(button_option(), 0..4),
            prop::option::of(target()),
        )
            .prop_map(
                |(text, save, options, other_next)| CardKind::Buttons(ButtonsCard {
                    text: text.map(Text::from),
                    save,
                    options,
                    other_next,
                })
            ),
        (
            prop::collection::vec((cond(), target()), 0..3),
            prop::option::of(target()),
        )
            .prop_map(|(rules, else_)| CardKind::Condition(ConditionCard {
                rules: rules
                    .into_iter()
                    .map(|(when, next)| Rule { when, next })
                    .collect(),
                else_,
            })),
        (
            prop::collection::btree_map(var(), json_value(), 0..3),
            prop::option::of(any::<i64>()),
            prop::collection::vec(prop::sample::select(&LABELS[..]), 0..2),
            target(),
        )
            .prop_map(|(set, add_score, tags, next)| CardKind::Set(SetCard {
                set: set.into_iter().collect::<BTreeMap<_, _>>(),
                add_score,
                add_tags: tags.into_iter().map(str::to_owned).collect(),
                next,
            })),
        http(),
        (text(), any::<u32>(), text(), prop::option::of(target())).prop_map(
            |(online_message, wait_seconds, offline_message, offline_next)| {
                CardKind::LiveChat(LiveChatCard {
                    online_message: online_message.into(),
                    wait_seconds,
                    offline_message: offline_message.into(),
                    offline_next,
                    team: None,
                })
            }
        ),
        capture(),
        (text(), text(), target()).prop_map(|(subject, body, next)| CardKind::Notify(NotifyCard {
            to: vec!["sales@example.com".into()],
            subject: subject.into(),
            body: body.into(),
            next,
        })),
        (text(), prop::option::of(target())).prop_map(|(url, next)| CardKind::Redirect(
            RedirectCard {
                url: url.into(),
                next
            }
        )),
        prop::option::of(text()).prop_map(|text| CardKind::End(EndCard {
            text: text.map(Text::from)
        })),
    ]
}

fn playbook() -> impl Strategy<Value = Playbook> {
    (
        prop::collection::vec((prop::sample::select(&IDS[..]), card_kind()), 1..9),
        target(),
        prop::sample::select(
            &[
                Language::En,
                Language::Fr,
                Language::Pt,
                Language::De,
                Language::Es,
            ][..],
        ),
    )
        .prop_map(|(cards, start, language)| {
            let mut pb: Playbook = serde_json::from_value(json!({
                "slug": "random", "name": "Random", "trigger": { "on": "page_load" },
                "start": "c0", "cards": [],
            }))
            .expect("base playbook parses");
            pb.cards = cards
                .into_iter()
                .enumerate()
                // Mostly distinct ids in order, sometimes a random (possibly duplicate) one.
                .map(|(i, (id, kind))| Card {
                    id: if i % 3 == 2 {
                        id.to_owned()
                    } else {
                        IDS[i].to_owned()
                    },
                    kind,
                })
                .collect();
            pb.start = start;
            pb.language = language;
            pb
        })
}

fn event() -> impl Strategy<Value = Event> {
    const ANSWERS: [&str; 13] = [
        "stop",
        " QUIT ",
        "ada@example.com",
        "+33 6 12 34 56 78",
        "0612345678",
        "1 000",
        "12",
        "2027-03-04",
        "example.com",
        "Yes",
        "50+",
        "",
        "not valid @@",
    ];
    prop_oneof![
        3 => Just(Event::Start),
        6 => prop::sample::select(&ANSWERS[..]).prop_map(|t| Event::Text { text: t.to_owned() }),
        1 => "\\PC{0,20}".prop_map(|text| Event::Text { text }),
        4 => (0usize..5).prop_map(|index| Event::Choice { index }),
        1 => Just(Event::Exit),
        1 => Just(Event::RepJoined { rep_name: "Sam".into() }),
        2 => Just(Event::WaitExpired),
        2 => json_value().prop_map(|v| Event::HttpResult {
            outcome: HttpOutcome::Ok { status: 200, body: json!({ "status": v, "a": [v] }) },
        }),
        1 => Just(Event::HttpResult { outcome: HttpOutcome::Failed { reason: "timeout".into() } }),
    ]
}

fn kind_at(pb: &Playbook, state: &State) -> Option<&'static str> {
    let id = state.at.as_deref()?;
    pb.card(id).map(|c| c.kind.type_name())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(768))]

    #[test]
    fn the_engine_always_waits_or_ends(
        pb in playbook(),
        events in prop::collection::vec((event(), any::<bool>()), 1..16),
    ) {
        let mut state = State::default();
        for (event, reps_online) in events {
            let env = Env {
                now: Utc.with_ymd_and_hms(2027, 3, 4, 10, 0, 0).unwrap(),
                reps_online,
            };
            let before = state.clone();
            let out = step(&pb, &before, &event, &env);
            state = out.state.clone();
            let effects = &out.effects;

            let reached = effects.iter().filter(|e| matches!(e, Effect::Reached { .. })).count();
            prop_assert!(reached <= MAX_AUTOMATIC_STEPS);

            let ends = effects.iter().filter(|e| **e == Effect::End).count();
            prop_assert!(ends <= 1);
            if ends == 1 {
                prop_assert_eq!(effects.last(), Some(&Effect::End), "End comes last");
                prop_assert_eq!(state.phase, Phase::Ended);
            }

            match state.phase {
                Phase::Idle => {
                    prop_assert_eq!(before.phase, Phase::Idle);
                    prop_assert!(event != Event::Start);
                    prop_assert!(effects.is_empty());
                }
                Phase::AwaitingInput => {
                    let kind = kind_at(&pb, &state);
                    prop_assert!(matches!(kind, Some("question" | "buttons")), "waits at {:?}", kind);
                }
                Phase::AwaitingRep => {
                    prop_assert_eq!(kind_at(&pb, &state), Some("live_chat"));
                    if before.phase != Phase::AwaitingRep {
                        let armed = effects.iter().any(|e| matches!(e, Effect::ArmTimer { .. }));
                        prop_assert!(armed, "no timer armed");
                    }
                }
                Phase::AwaitingHttp => {
                    prop_assert_eq!(kind_at(&pb, &state), Some("http"));
                    if before.phase != Phase::AwaitingHttp {
                        let called = effects.iter().any(|e| matches!(e, Effect::CallHttp(_)));
                        prop_assert!(called, "no call made");
                    }
                }
                Phase::WithRep => {
                    let spoke = effects.iter().any(|e| matches!(e, Effect::Say(_)));
                    prop_assert!(!spoke, "the bot spoke to a visitor with a rep");
                }
                Phase::Ended => {
                    prop_assert!(before.phase == Phase::Ended || ends == 1);
                }
            }
            if before.phase == Phase::Ended || before.phase == Phase::WithRep {
                prop_assert!(effects.is_empty(), "{:?} after the flow is over", effects);
            }
            if effects.is_empty() {
                prop_assert_eq!(&state.vars, &before.vars);
            }
        }
    }
}
