//! Support for the widget API tests: a company with test playbooks, a widget client that
//! speaks the API over HTTP, and a Server-Sent Events reader.
#![allow(dead_code)]

use std::time::Duration;

use concierge::db::companies::{self, Company};
use concierge::db::{answer_rules, playbooks};
use concierge::playbook::check::check_document;
use concierge::playbook::load::Format;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::TestApp;
use crate::wait::eventually;

/// A buttons → e-mail → live chat (offline) → capture → notify → redirect flow.
pub const QUALIFY: &str = r#"
slug: qualify
name: Qualify
priority: 5
trigger:
  on: page_load
  urls: { include: ["/pricing*"], exclude: ["/pricing/secret"] }
start: hello
cards:
  - id: hello
    type: message
    text: "Hello **there**!"
    next: size
  - id: size
    type: buttons
    text: "How big is your team?"
    save: vars.team_size
    options:
      - { label: "1-10", value: small, next: email }
      - { label: "50+", value: large, next: email, score: 25 }
  - id: email
    type: question
    text: "Your e-mail?"
    input: email
    save: person.email
    retry_text: "That is not an e-mail address."
    on_fail: docs
    next: rep
  - id: rep
    type: live_chat
    online_message: "Connecting you…"
    wait_seconds: 60
    offline_message: "Nobody is online right now — we'll call you back."
    offline_next: capture
  - id: capture
    type: capture
    create: lead
    title: "{{ person.email }} — chatbot"
    next: tell
  - id: tell
    type: notify
    to: [sales@acme.test]
    subject: "New lead: {{ person.email }}"
    body: "Team size {{ vars.team_size }}"
    next: docs
  - id: docs
    type: redirect
    url: "https://acme.test/docs"
"#;

/// Starts on a visitor message containing "broken".
pub const SUPPORT: &str = r#"
slug: support
name: Support
trigger: { on: keyword, keywords: [broken] }
start: what
cards:
  - id: what
    type: question
    text: "Sorry to hear that! What is broken?"
    input: text
    save: vars.problem
    next: bye
  - id: bye
    type: end
    text: "Thanks, we'll look into it."
"#;

/// Asks for an order number and looks it up at `API_BASE` (replaced by the test).
pub const ORDER: &str = r##"
slug: order
name: Order status
trigger: { on: click, selector: "#order" }
start: ask
cards:
  - id: ask
    type: question
    text: "Your order number?"
    input: text
    save: vars.order_id
    next: lookup
  - id: lookup
    type: http
    url: "API_BASE/orders/{{ vars.order_id }}"
    timeout_seconds: 5
    save: { vars.status: /status }
    next: show
    on_error: sorry
  - id: show
    type: end
    text: "Your order is {{ vars.status }}."
  - id: sorry
    type: end
    text: "Sorry, I cannot look that up right now."
"##;

/// A company with the given playbooks (YAML) published and two answer rules.
pub async fn company_with(app: &TestApp, yaml: &[&str]) -> Company {
    let docs: Vec<_> = yaml
        .iter()
        .map(|y| check_document(y, Format::Yaml).unwrap_or_else(|r| panic!("{}", r.render("test"))))
        .collect();
    app.state
        .db
        .run(move |conn| {
            let company = companies::create(conn, "Acme", None)?;
            for doc in &docs {
                playbooks::save_and_publish(conn, &company.id, doc)?;
            }
            answer_rules::create(
                conn,
                &company.id,
                &["opening hours".to_string()],
                "We are open 9 to 5.",
            )?;
            Ok::<_, concierge::db::DbError>(company)
        })
        .await
        .expect("company")
}

/// A widget on one page: keeps its token like the real one does.
pub struct Widget {
    pub client: reqwest::Client,
    pub base: String,
    pub key: String,
    pub token: Option<String>,
    pub page: String,
    /// The browser's language tag.
    pub language: String,
}

/// A response: status, `Retry-After`, JSON body.
pub struct Reply {
    pub status: StatusCode,
    pub retry_after: Option<String>,
    pub body: Value,
}

impl Widget {
    pub fn new(app: &TestApp, company: &Company) -> Widget {
        Widget {
            client: reqwest::Client::new(),
            base: app.url.clone(),
            key: company.public_key.clone(),
            token: None,
            page: "https://acme.test/pricing".into(),
            language: "en-GB".into(),
        }
    }

    pub fn page(&self) -> Value {
        json!({ "url": self.page, "referrer": "", "language": self.language, "title": "Pricing" })
    }

    /// Start or resume the session, keeping the token.
    pub async fn session(&mut self) -> Value {
        let body = json!({ "key": self.key, "token": self.token, "page": self.page() });
        let r = self
            .send(reqwest::Method::POST, "session", Some(body))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        self.token = r.body["token"].as_str().map(str::to_owned);
        r.body
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self
            .client
            .request(method, format!("{}/api/widget/{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        Reply {
            status,
            retry_after,
            body,
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    /// Send text; expects 200.
    pub async fn say(&self, text: &str) -> Value {
        let r = self.post("messages", json!({ "text": text })).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body
    }

    /// Press button `index` of message `message_id`; expects 200.
    pub async fn choose(&self, message_id: &str, index: usize) -> Value {
        let r = self
            .post(
                "messages",
                json!({ "choice": { "message_id": message_id, "index": index } }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body
    }

    pub async fn trigger(&self, slug: &str, reason: &str) -> Value {
        let body = json!({ "slug": slug, "page": self.page(), "reason": reason });
        let r = self.post("trigger", body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body
    }

    pub async fn history(&self, after: i64) -> Vec<Value> {
        let r = self
            .send(
                reqwest::Method::GET,
                &format!("messages?after={after}"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body["messages"].as_array().cloned().unwrap_or_default()
    }

    /// Poll the history until a message with this text arrives (replies that come later,
    /// like an http card's).
    pub async fn wait_for_text(&self, text: &str) -> Vec<Value> {
        eventually(&format!("the message {text:?}"), || async {
            let all = self.history(0).await;
            all.iter().any(|m| m["text"] == text).then_some(all)
        })
        .await
    }

    /// Open the event stream (optionally resuming after `last_event_id`).
    pub async fn events(&self, last_event_id: Option<i64>) -> reqwest::Response {
        let token = self.token.clone().unwrap_or_default();
        let mut req = self
            .client
            .get(format!("{}/api/widget/events", self.base))
            .query(&[("token", token)]);
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        req.send().await.expect("events")
    }
}

/// Texts of messages, in order.
pub fn texts(messages: &Value) -> Vec<String> {
    messages
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// One Server-Sent Event.
#[derive(Debug, Clone, PartialEq)]
pub struct Sse {
    pub id: Option<i64>,
    pub event: String,
    pub data: Value,
}

/// Reads events from a `text/event-stream` response.
pub struct SseReader {
    resp: reqwest::Response,
    buf: String,
}

impl SseReader {
    pub fn new(resp: reqwest::Response) -> SseReader {
        assert_eq!(resp.status(), StatusCode::OK);
        let kind = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        SseReader {
            resp,
            buf: String::new(),
        }
    }

    /// The next event (comments and `retry:` skipped), waiting at most 5 s.
    pub async fn next(&mut self) -> Sse {
        tokio::time::timeout(Duration::from_secs(5), self.next_inner())
            .await
            .expect("an event within 5 s")
    }

    async fn next_inner(&mut self) -> Sse {
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf[..end].to_owned();
                self.buf.drain(..end + 2);
                let (mut id, mut event, mut data) = (None, None, None);
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = v.parse().ok();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = Some(serde_json::from_str(v).expect("data is JSON"));
                    }
                }
                if let (Some(event), Some(data)) = (event, data) {
                    return Sse { id, event, data };
                }
            }
            let chunk = self
                .resp
                .chunk()
                .await
                .expect("stream")
                .expect("stream open");
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Events until one satisfies `pred` (which is returned).
    pub async fn until(&mut self, pred: impl Fn(&Sse) -> bool) -> Sse {
        loop {
            let e = self.next().await;
            if pred(&e) {
                return e;
            }
        }
    }
}
