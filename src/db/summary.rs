//! The chat summary the inbox lists, as the queries of [`super::live`] read it.

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
