//! One engine step on the lead-qualification playbook (target: ≤ 2 µs median).
// Test and benchmark code: a failed unwrap is the report, and results go to stdout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};

use concierge::playbook::model::Playbook;
use concierge::playbook::state::{Env, Event, State};
use concierge::playbook::step;

const LEAD_QUALIFICATION: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/lead_qualification.json"
));

fn engine_step(c: &mut Criterion) {
    let playbook: Playbook = match serde_json::from_str(LEAD_QUALIFICATION) {
        Ok(pb) => pb,
        Err(e) => panic!("the lead-qualification fixture does not parse: {e}"),
    };
    let env = Env {
        now: Utc.with_ymd_and_hms(2027, 3, 4, 10, 0, 0).unwrap(),
        reps_online: true,
    };
    let mut at_buttons = State::default();
    at_buttons
        .vars
        .set("visitor.url", serde_json::json!("/pricing"));
    at_buttons = step(&playbook, &at_buttons, &Event::Start, &env).state;
    let choice = Event::Choice { index: 1 };
    let at_email = step(&playbook, &at_buttons, &choice, &env).state;
    let email = Event::Text {
        text: "ada@example.com".into(),
    };
    assert_eq!(at_email.at.as_deref(), Some("email"));

    c.bench_function("start: welcome → buttons", |b| {
        let idle = State::default();
        b.iter(|| step(&playbook, black_box(&idle), black_box(&Event::Start), &env))
    });
    c.bench_function("buttons choice → e-mail question", |b| {
        b.iter(|| step(&playbook, black_box(&at_buttons), black_box(&choice), &env))
    });
    c.bench_function("e-mail answer → condition, capture, notify, end", |b| {
        b.iter(|| step(&playbook, black_box(&at_email), black_box(&email), &env))
    });
}

criterion_group!(benches, engine_step);
criterion_main!(benches);
