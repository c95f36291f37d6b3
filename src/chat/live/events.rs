//! What the reps' inbox streams carry besides conversation events, and the chat summary
//! the inbox lists.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A rep as the inbox names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RepRef {
    /// The CRM user id.
    pub user_id: i64,
    pub name: String,
}

/// Who the visitor is, as far as the conversation knows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VisitorRef {
    pub name: Option<String>,
    pub email: Option<String>,
}

/// One chat in the inbox's list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Summary {
    pub id: String,
    /// `bot`, `unassigned`, `assigned` or `closed`.
    pub status: String,
    /// `missed` when nobody took the chat before the wait ended.
    pub outcome: Option<String>,
    pub assignee: Option<RepRef>,
    pub visitor: VisitorRef,
    /// The newest message's text (at most 120 characters).
    pub preview: String,
    /// Unix milliseconds, as every time below.
    pub created_at: i64,
    pub last_message_at: i64,
    /// Since when it waits in Unassigned.
    pub waiting_since: Option<i64>,
    pub closed_at: Option<i64>,
    /// The team whose reps see it in Unassigned.
    pub team: Option<String>,
}

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

/// Kinds of notification a rep can switch off.
pub mod notify {
    pub const NEW_CHAT: &str = "new_chat";
    pub const ASSIGNED: &str = "assigned";
    pub const MESSAGE: &str = "message";
}
