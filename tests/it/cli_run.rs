//! `concierge playbook run`: a scripted conversation in the terminal.

use std::path::Path;
use std::process::{Command, Output};

const PLAYBOOK: &str = r#"
slug: demo
name: Demo
language: en
trigger: { on: page_load }
start: welcome
cards:
  - id: welcome
    type: message
    text: "Hi {{ person.name | \"there\" }}!"
    next: size
  - id: size
    type: buttons
    text: "How big is your team?"
    save: vars.team_size
    options:
      - { label: "1-10", value: small, next: email }
      - { label: "50+", value: large, next: rep, score: 25 }
  - id: rep
    type: live_chat
    online_message: "Connecting you…"
    wait_seconds: 60
    offline_message: "Everyone is busy right now."
    offline_next: email
  - id: email
    type: question
    text: "Your work e-mail?"
    input: email
    save: person.email
    retry_text: "That doesn't look like an e-mail address."
    on_fail: thanks
    next: capture
  - id: capture
    type: capture
    create: lead
    title: "{{ person.email }} — chatbot"
    activity: { subject: "Call {{ person.email }}", type: call, due_in_days: 1 }
    next: thanks
  - id: thanks
    type: end
    text: "Thanks — we'll be in touch!"
"#;

fn run(dir: &Path, answers: &str, extra: &[&str]) -> (Output, String) {
    let playbook = dir.join("demo.yaml");
    std::fs::write(&playbook, PLAYBOOK).unwrap();
    let answers_file = dir.join("answers.txt");
    std::fs::write(&answers_file, answers).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_concierge"))
        .args(["playbook", "run"])
        .arg(&playbook)
        .arg("--answers")
        .arg(&answers_file)
        .args(extra)
        .output()
        .unwrap();
    let transcript = String::from_utf8(output.stdout.clone()).unwrap();
    (output, transcript)
}

#[test]
fn a_scripted_run_shows_the_conversation_and_the_queued_crm_write() {
    let dir = tempfile::tempdir().unwrap();
    let (output, transcript) = run(
        dir.path(),
        "2\nnot an address\nada@example.com\n",
        &["--offline"],
    );
    assert!(
        output.status.success(),
        "{transcript}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected_in_order = [
        "bot: Hi there!",
        "bot: How big is your team?",
        "[1] 1-10",
        "[2] 50+",
        "you: 2",
        "vars.team_size = \"large\"",
        "bot: Everyone is busy right now.",
        "bot: Your work e-mail?",
        "you: not an address",
        "bot: That doesn't look like an e-mail address.",
        "you: ada@example.com",
        "[CRM write queued]",
        "\"title\": \"ada@example.com — chatbot\"",
        "\"email\": \"ada@example.com\"",
        "\"subject\": \"Call ada@example.com\"",
        "bot: Thanks — we'll be in touch!",
        "[end of the flow]",
    ];
    let mut rest = transcript.as_str();
    for expected in expected_in_order {
        let Some(i) = rest.find(expected) else {
            panic!("`{expected}` missing (or out of order) in:\n{transcript}");
        };
        rest = &rest[i + expected.len()..];
    }
    assert!(
        !transcript.contains("handed to the online reps"),
        "--offline: no rep\n{transcript}"
    );
}

#[test]
fn online_asks_whether_a_rep_takes_the_chat() {
    let dir = tempfile::tempdir().unwrap();
    let (output, transcript) = run(dir.path(), "50+\ny\n", &[]);
    assert!(output.status.success());
    assert!(transcript.contains("bot: Connecting you…"), "{transcript}");
    assert!(
        transcript.contains("[chat handed to the online reps]"),
        "{transcript}"
    );
    assert!(
        transcript.contains("[a rep joined the chat]"),
        "{transcript}"
    );
    assert!(
        transcript.contains("the bot's part is over"),
        "{transcript}"
    );
    assert!(!transcript.contains("CRM write queued"), "{transcript}");
}

#[test]
fn the_run_stops_when_the_answers_run_out() {
    let dir = tempfile::tempdir().unwrap();
    let (output, transcript) = run(dir.path(), "1\n", &["--offline"]);
    assert!(output.status.success());
    assert!(
        transcript.trim_end().ends_with("[no more answers]"),
        "{transcript}"
    );
    assert!(!transcript.contains("[end of the flow]"));
}

#[test]
fn a_broken_playbook_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.yaml");
    std::fs::write(&file, "slug: x\nname: X\ntrigger: { on: page_load }\nstart: a\ncards:\n  - { id: a, type: message }\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_concierge"))
        .args(["playbook", "run"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("broken.yaml:6: card 'a': missing key 'text'"),
        "{stderr}"
    );
}

#[test]
fn http_cards_are_called_for_real() {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap() == 0 || header == "\r\n" {
                break;
            }
        }
        let body = r#"{"status":"shipped"}"#;
        let mut stream = reader.into_inner();
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        request_line
    });

    let dir = tempfile::tempdir().unwrap();
    let playbook = dir.path().join("orders.yaml");
    std::fs::write(
        &playbook,
        format!(
            r#"
slug: orders
name: Orders
trigger: {{ on: page_load }}
start: order
cards:
  - {{ id: order, type: question, text: "Order number?", input: text, save: vars.order, next: lookup }}
  - id: lookup
    type: http
    url: "http://127.0.0.1:{port}/orders/{{{{ vars.order }}}}"
    timeout_seconds: 5
    save: {{ vars.order_status: /status }}
    next: status
    on_error: sorry
  - {{ id: status, type: end, text: "Your order is {{{{ vars.order_status }}}}." }}
  - {{ id: sorry, type: end, text: "Sorry, no news." }}
"#
        ),
    )
    .unwrap();
    let answers = dir.path().join("answers.txt");
    std::fs::write(&answers, "A 17\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_concierge"))
        .args(["playbook", "run"])
        .arg(&playbook)
        .arg("--answers")
        .arg(&answers)
        .output()
        .unwrap();
    let transcript = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{transcript}");
    assert_eq!(server.join().unwrap(), "GET /orders/A%2017 HTTP/1.1\r\n");
    assert!(
        transcript.contains("bot: Your order is shipped."),
        "{transcript}"
    );
}
