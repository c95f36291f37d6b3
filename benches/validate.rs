//! Validation of a 200-card playbook (target: ≤ 5 ms): loading and checking its YAML
//! text, and the validator alone on the parsed model.
// Test and benchmark code: a failed unwrap is the report, and results go to stdout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::fmt::Write as _;
use std::hint::black_box;

use concierge::playbook::check::check_document;
use concierge::playbook::load::Format;
use concierge::playbook::validate::validate;
use criterion::{Criterion, criterion_group, criterion_main};

/// Cards in one repeated block of the generated playbook.
const BLOCK: usize = 10;
const BLOCKS: usize = 19;

/// A valid playbook of exactly 200 cards that uses every card type: 19 blocks of
/// buttons, question, condition, set, message, http, e-mail question, retry buttons,
/// capture and notify, then a live chat hand-off and its endings.
fn generate() -> String {
    let mut y = String::from(
        "slug: big\nname: Big playbook\ntrigger: { on: page_load }\nstart: b0_ask\ncards:\n",
    );
    for k in 0..BLOCKS {
        let next_block = if k + 1 < BLOCKS {
            format!("b{}_ask", k + 1)
        } else {
            "rep".to_owned()
        };
        let _ = write!(
            y,
            r#"  - id: b{k}_ask
    type: buttons
    text: "Question {k}?"
    save: vars.choice_{k}
    options:
      - {{ label: A, next: b{k}_q }}
      - {{ label: B, next: b{k}_q, tags: [t{k}] }}
      - {{ label: C, next: b{k}_cond, score: 5 }}
  - id: b{k}_q
    type: question
    text: "Hi {{{{ person.name | \"there\" }}}}, why {{{{ vars.choice_{k} }}}}?"
    input: text
    save: vars.answer_{k}
    on_fail: b{k}_cond
    next: b{k}_cond
  - id: b{k}_cond
    type: condition
    rules:
      - {{ when: {{ var: score, op: gte, value: {k} }}, next: b{k}_set }}
      - {{ when: {{ all: [ {{ var: tags, op: contains, value: t{k} }}, {{ var: vars.answer_{k}, op: set }} ] }}, next: b{k}_msg }}
    else: b{k}_msg
  - id: b{k}_set
    type: set
    set: {{ vars.seg_{k}: "{{{{ vars.answer_{k} | \"none\" }}}}" }}
    add_score: 1
    add_tags: [s{k}]
    next: b{k}_msg
  - id: b{k}_msg
    type: message
    text: "Block {k}: **{{{{ vars.seg_{k} | vars.choice_{k} | \"?\" }}}}**"
    next: b{k}_http
  - id: b{k}_http
    type: http
    url: "https://api.example.com/items/{{{{ vars.choice_{k} }}}}"
    save: {{ vars.h_{k}: /data/0/name }}
    next: b{k}_email
    on_error: b{k}_email
  - id: b{k}_email
    type: question
    text: "Your e-mail?"
    input: email
    save: person.email
    on_fail: b{k}_retry
    next: b{k}_cap
  - id: b{k}_retry
    type: buttons
    text: "Try again?"
    options:
      - {{ label: Yes, next: b{k}_email }}
      - {{ label: No, next: {next_block} }}
  - id: b{k}_cap
    type: capture
    title: "{{{{ person.email }}}} {{{{ vars.h_{k} | \"\" }}}}"
    activity: {{ subject: "Call {{{{ person.email }}}}", type: call }}
    next: b{k}_notify
  - id: b{k}_notify
    type: notify
    to: [team@example.com]
    subject: "Lead {{{{ person.email }}}}"
    body: "Score {{{{ score }}}}, answer {{{{ vars.answer_{k} | \"-\" }}}}"
    next: {next_block}
"#
        );
    }
    y.push_str(
        r#"  - id: rep
    type: live_chat
    online_message: "Connecting…"
    offline_message: "Nobody is free."
    offline_next: phone
  - id: phone
    type: question
    text: "Your phone?"
    input: phone
    save: person.phone
    on_fail: bye
    next: final_cap
  - id: final_cap
    type: capture
    create: deal
    title: "{{ person.phone }}"
    next: final_notify
  - id: final_notify
    type: notify
    to: [team@example.com]
    subject: "Call back {{ person.phone }}"
    body: "{{ tags }}"
    next: final_route
  - id: final_route
    type: condition
    rules:
      - { when: { var: score, op: gte, value: 50 }, next: to_site }
    else: thanks
  - id: to_site
    type: redirect
    url: "/thanks"
  - id: thanks
    type: message
    text: "Thanks!"
    next: survey
  - id: survey
    type: buttons
    text: "Was this useful?"
    options:
      - { label: Yes, next: bye }
      - { label: No, next: feedback }
  - id: feedback
    type: question
    text: "What could be better?"
    input: long_text
    save: vars.feedback
    on_fail: bye
    next: bye
  - id: bye
    type: end
    text: "Bye {{ person.name | \"for now\" }}"
"#,
    );
    y
}

fn bench(c: &mut Criterion) {
    let yaml = generate();
    let playbook = match check_document(&yaml, Format::Yaml) {
        Ok(pb) => pb,
        Err(report) => panic!("{}", report.render("generated")),
    };
    assert_eq!(playbook.cards.len(), BLOCK * BLOCKS + 10);
    assert_eq!(playbook.cards.len(), 200);
    let json = serde_json::to_string(&playbook).expect("serialise");

    c.bench_function("check_document 200 cards (YAML)", |b| {
        b.iter(|| check_document(black_box(&yaml), Format::Yaml))
    });
    c.bench_function("check_document 200 cards (JSON)", |b| {
        b.iter(|| check_document(black_box(&json), Format::Json))
    });
    c.bench_function("validate 200 cards (model)", |b| {
        b.iter(|| validate(black_box(&playbook)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
