//! What the reps' inbox streams carry besides conversation events, and the chat summary
//! the inbox lists.

use serde::{Deserialize, Serialize};

pub use crate::db::live::notify;
pub use crate::db::summary::{RepRef, Summary, VisitorRef};

/// Something the reps of a company should see, besides conversation events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum RepEvent {
    /// A chat is new to the inbox or changed (status, assignee).
    Conversation(Summary),
    /// The visitor is typing (or stopped).
    Typing {
        conversation_id: String,
        typing: bool,
    },
    /// A rep's effective presence changed.
    Presence { user_id: i64, online: bool },
    /// A notification for the reps in `to` (CRM user ids).
    Notify {
        kind: String,
        title: String,
        body: String,
        conversation_id: Option<String>,
        to: Vec<i64>,
    },
    /// A waiting chat is offered to one rep (automatic assignment) until `expires_at`.
    Offer {
        conversation_id: String,
        expires_at: i64,
        to: i64,
    },
    /// A CRM record of the conversation changed (created, failed).
    Crm { conversation_id: String },
}
