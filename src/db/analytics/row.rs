//! What an analytics event is: its kinds and its stored row. Kept apart from recording
//! so the roll-ups (`db::analytics::rollup`), which recording keeps up to date, can name it too.

use diesel::prelude::*;

use crate::db::schema::analytics_events;

/// Event kinds.
pub mod kind {
    /// A playbook started for a visitor (its first card was shown).
    pub const SHOWN: &str = "shown";
    /// The visitor answered a playbook at least once (once per run).
    pub const ENGAGED: &str = "engaged";
    /// The flow arrived at a card (`card`), for the per-card funnel.
    pub const REACHED: &str = "reached";
    /// The flow reached a capture card (`card`): a lead or deal is queued.
    pub const CONVERTED: &str = "converted";
    /// The flow reached its end.
    pub const COMPLETED: &str = "completed";
    /// A live chat card handed the visitor to the reps.
    pub const CHAT_OFFERED: &str = "chat_offered";
    /// A live chat card went offline (nobody online, or nobody took it in time).
    pub const CHAT_MISSED: &str = "chat_missed";
    /// An answer rule replied (`card` holds the rule id).
    pub const ANSWERED: &str = "answered";
    /// Nothing matched a visitor's text: the fallback reply.
    pub const FALLBACK: &str = "fallback";
    /// The visitor pressed a button of a buttons card (`card`; `value` is the option's
    /// index).
    pub const ANSWER: &str = "answer";
    /// The visitor left the flow at `card`; `value` says how ([`super::left`]).
    pub const LEFT: &str = "left";
    /// The flow ended with this score (`value`).
    pub const SCORED: &str = "scored";
    /// A rep took a chat handed to the reps: `card` holds the rep (the CRM's user id in
    /// decimal, `crm_users.crm_user_id`, which an uninstall and a new install keep),
    /// `value` how long the visitor waited since the hand-off, in ms.
    pub const CHAT_TAKEN: &str = "chat_taken";
    /// The first rep message after a hand-off: `card` holds the rep who took the chat,
    /// `value` the time since the hand-off, in ms.
    pub const FIRST_RESPONSE: &str = "first_response";

    /// Counted once per conversation and playbook, however often the playbook restarts.
    pub const ONCE: [&str; 3] = [SHOWN, ENGAGED, CONVERTED];
}

/// How a visitor left a flow: the `value` of a [`kind::LEFT`] event.
pub mod left {
    /// The widget's close button.
    pub const CLOSED: i64 = 1;
    /// One of the playbook's exit words.
    pub const EXIT_WORD: i64 = 2;
}

/// The day (UTC) of a Unix-millisecond time, as roll-ups count it.
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(86_400_000)
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = analytics_events)]
pub struct AnalyticsEvent {
    pub id: String,
    pub company_id: String,
    pub playbook_id: Option<String>,
    pub conversation_id: Option<String>,
    pub visitor_known: bool,
    pub kind: String,
    pub card: Option<String>,
    pub value: Option<i64>,
    pub created_at: i64,
    pub version: Option<i32>,
    pub visitor_returning: bool,
}
