//! Messages as the widget (and later the inbox) receives them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::conversations::{Conversation, MessageRow};

/// One message of a conversation. `text` is rich-text source (**bold**, *italic*,
/// [label](https://…), "- " list lines, ![alt](https://…) images), shown as text by the
/// widget, never as HTML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    pub id: String,
    /// Position in the conversation, from 1; the real-time event id.
    pub seq: i64,
    /// `visitor`, `bot`, `rep` or `system`.
    pub author: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_name: Option<String>,
    pub text: String,
    /// Labels of the buttons to choose from (a buttons card).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<String>,
    /// The input kind a question asks for: text, long_text, email, phone, number, date, url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    /// The page is sent to this URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
}

impl From<&MessageRow> for Message {
    fn from(row: &MessageRow) -> Message {
        let p = row.payload();
        Message {
            id: row.id.clone(),
            seq: row.seq,
            author: row.author.clone(),
            author_name: p.author_name,
            text: row.body.clone(),
            buttons: p.buttons,
            input: p.input,
            placeholder: p.placeholder,
            redirect: p.redirect,
            created_at: row.created_at,
        }
    }
}

/// A conversation's id and status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConversationRef {
    pub id: String,
    /// `bot`, `unassigned`, `assigned` or `closed`.
    pub status: String,
}

impl From<&Conversation> for ConversationRef {
    fn from(c: &Conversation) -> ConversationRef {
        ConversationRef {
            id: c.id.clone(),
            status: c.status.clone(),
        }
    }
}
