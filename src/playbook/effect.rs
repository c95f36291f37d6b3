//! What one engine step asks the outside world to do. The caller carries every effect
//! out in one database transaction (or, for `CallHttp`, right after it).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::{CaptureTarget, HttpMethod, InputKind, Money, NoteMode, Owner};

/// The result of one step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub state: super::state::State,
    pub effects: Vec<Effect>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// The flow arrived at a card (for the per-card funnel).
    Reached { card: String },
    /// The bot says something.
    Say(BotMessage),
    /// A variable changed.
    VarSet { path: String, value: Value },
    /// A CRM write to put in the outbox (boxed: it is much larger than the other effects).
    QueueCrm(Box<CrmWrite>),
    /// An e-mail to put in the outbox.
    QueueEmail(Email),
    /// Arm a durable timer.
    ArmTimer {
        kind: TimerKind,
        card: String,
        due_at: DateTime<Utc>,
    },
    /// Cancel a timer of this kind for the conversation.
    CancelTimer { kind: TimerKind },
    /// Put the conversation in the Unassigned folder and notify online reps.
    HandOff { card: String },
    /// Call an external API; the result comes back as `Event::HttpResult`.
    CallHttp(HttpRequest),
    /// Send the visitor's page to a URL.
    Redirect { url: String },
    /// The flow is over.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    LiveChatWait,
    /// A waiting chat offered to one rep (automatic assignment) lapses.
    LiveChatOffer,
}

impl TimerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::LiveChatWait => "live_chat_wait",
            TimerKind::LiveChatOffer => "live_chat_offer",
        }
    }
}

/// A bot message as the widget shows it. `text` is rich-text source (a Markdown subset).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BotMessage {
    pub card: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
}

/// What a capture card writes: every template already filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrmWrite {
    pub card: String,
    pub create: CaptureTarget,
    pub title: String,
    pub person: PersonData,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<OrgData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_close_date: Option<NaiveDate>,
    pub owner: Owner,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<ActivityData>,
    pub note: NoteMode,
    /// The collected answers for the note: (the question's text, or the variable's name
    /// in words → the answer).
    #[serde(default)]
    pub answers: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgData {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityData {
    pub subject: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub due_date: NaiveDate,
}

/// A notify card's e-mail to the team: its templates filled in, and the answers collected
/// so far (as a capture's note has them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    /// The notify card.
    #[serde(default)]
    pub card: String,
    /// (the question's text, or the variable's name in words → the answer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpRequest {
    pub card: String,
    pub method: HttpMethod,
    pub url: String,
    pub headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub timeout_seconds: u32,
}
