//! The signed-in rep as the inbox shows them: presence, notification choices, the reassign
//! list's entries.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::effective_online;
use crate::db::companies::Company;
use crate::db::live::Rep;

/// The signed-in rep as the inbox starts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Me {
    pub user_id: i64,
    pub name: String,
    pub is_admin: bool,
    /// The online switch.
    pub toggle: bool,
    /// Counted as online now (switched on, connected, within business hours).
    pub online: bool,
    pub notifications: Notifications,
}

/// Which notifications a rep gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct Notifications {
    pub new_chat: bool,
    pub assigned: bool,
    pub message: bool,
}

/// A rep in the reassign list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RepInfo {
    pub user_id: i64,
    pub name: String,
    pub online: bool,
    pub open_chats: i64,
}

pub(super) fn notifications_of(rep: &Rep) -> Notifications {
    Notifications {
        new_chat: rep.notify_new_chat,
        assigned: rep.notify_assigned,
        message: rep.notify_message,
    }
}

pub(super) fn me_of(rep: &Rep, company: &Company, now: DateTime<Utc>) -> Me {
    Me {
        user_id: rep.crm_user_id,
        name: rep.name.clone(),
        is_admin: rep.admin(),
        toggle: rep.online,
        online: effective_online(rep, company, now),
        notifications: notifications_of(rep),
    }
}
