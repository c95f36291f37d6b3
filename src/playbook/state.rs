//! What the engine reads and returns besides the playbook: the conversation state, the
//! input events and the environment passed in from outside (the engine reads no clock).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::vars::Vars;

/// A conversation's place in its playbook. Stored as JSON with the conversation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub vars: Vars,
    /// The card the flow stands on (the one it waits at), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    #[serde(default)]
    pub phase: Phase,
    /// Invalid answers given to the current question.
    #[serde(default)]
    pub tries: u32,
}

/// What the flow is doing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Not started yet.
    #[default]
    Idle,
    /// Waiting for the visitor at a question or buttons card.
    AwaitingInput,
    /// At a live chat card, reps online, wait timer armed.
    AwaitingRep,
    /// A rep took the chat: the bot's part is over.
    WithRep,
    /// Waiting for the result of an http card's call.
    AwaitingHttp,
    /// The flow reached an end (or the visitor left it).
    Ended,
}

/// Something that happened to the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The playbook starts (trigger fired).
    Start,
    /// The visitor typed text.
    Text { text: String },
    /// The visitor pressed the button at this index of the current buttons card.
    Choice { index: usize },
    /// The visitor left the flow (exit word or the widget's close).
    Exit,
    /// The visitor asked for another playbook (a click or the SDK): the flow stops where
    /// it stands, without a goodbye or an ending, for the other playbook to start.
    Interrupt,
    /// A rep took the chat.
    RepJoined { rep_name: String },
    /// The live chat wait timer fired.
    WaitExpired,
    /// The http card's call finished.
    HttpResult { outcome: HttpOutcome },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum HttpOutcome {
    /// A 2xx answer; `body` is its JSON (`null` when it was not JSON).
    Ok { status: u16, body: Value },
    /// Any other status, a timeout, a refused address, …
    Failed { reason: String },
}

/// Facts from outside the engine, passed in with every event.
#[derive(Debug, Clone, PartialEq)]
pub struct Env {
    pub now: DateTime<Utc>,
    /// At least one rep is online (and the company is within business hours).
    pub reps_online: bool,
}
