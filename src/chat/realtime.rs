//! Real-time delivery: what happens in a conversation reaches everyone watching it.
//!
//! Everything goes through the small [`Hub`] trait. What a write transaction stores is
//! announced with it ([`Notices`]: sent to the other nodes inside the transaction,
//! delivered to this node's subscribers once it committed); what is never stored (typing)
//! is published at once. What follows from a change of a live chat — its summary for the
//! inboxes, the reps' notifications, the waiting visitors' places — travels as a small
//! [`Derived`] notice in the same transaction, and each node works it out from the
//! database for its own subscribers (`chat::live::announce`). The Server-Sent Events route subscribes. [`LocalHub`] fans events
//! out inside one process with tokio broadcast channels; with PostgreSQL, [`PgHub`]
//! (`pg_hub.rs`) carries them to the other nodes over `LISTEN/NOTIFY` and feeds what
//! arrives into its own `LocalHub`. Delivery is best effort by design: the database is the
//! record, and a subscriber that falls behind (or is told to [`LiveEvent::Resync`])
//! re-reads what it missed by `seq`.
//!
//! [`PgHub`]: super::pg_hub::PgHub

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};

use super::events::RepEvent;
use super::message::Message;
use crate::db::{DbConn, DbError};

/// Events buffered per conversation for a slow subscriber before it must re-read (from
/// the database, by `seq`). A conversation's events come a few at a time, and every
/// slot is allocated when the channel is made: one per open widget stream.
const CHANNEL_CAPACITY: usize = 16;
/// Every so many subscriptions, channels nobody listens to any more are dropped.
const SWEEP_EVERY: usize = 256;

/// Something a conversation's watchers should see now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum LiveEvent {
    /// A new message (the event id is its `seq`).
    Message(Message),
    /// Someone is writing (or stopped).
    Typing {
        /// `bot` or `rep`.
        author: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        typing: bool,
    },
    /// The conversation's status changed; a closed one may say how it ended (`missed`).
    Status {
        status: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outcome: Option<String>,
    },
    /// The visitor's page should go to this URL.
    Redirect { url: String },
    /// A rep joined (or, with no name, left) the conversation: who speaks for the company.
    Agent {
        name: Option<String>,
        avatar_url: Option<String>,
    },
    /// The visitor's place among the company's waiting chats and the expected wait.
    Queue {
        position: i64,
        expected_wait_seconds: Option<i64>,
    },
    /// Events may have been lost (the node's link to the others was down): re-read the
    /// conversation from the database. Handled by the stream, never sent as such.
    Resync,
}

impl LiveEvent {
    /// The Server-Sent Events `event:` name.
    pub fn name(&self) -> &'static str {
        match self {
            LiveEvent::Message(_) => "message",
            LiveEvent::Typing { .. } => "typing",
            LiveEvent::Status { .. } => "status",
            LiveEvent::Redirect { .. } => "redirect",
            LiveEvent::Agent { .. } => "agent",
            LiveEvent::Queue { .. } => "queue",
            LiveEvent::Resync => "resync",
        }
    }

    /// The `id:` of the event: a message's `seq`; other events have none.
    pub fn seq(&self) -> Option<i64> {
        match self {
            LiveEvent::Message(m) => Some(m.seq),
            _ => None,
        }
    }

    /// The `data:` of the event, as JSON.
    pub fn data(&self) -> serde_json::Value {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut map)) => {
                map.remove("data").unwrap_or(serde_json::Value::Null)
            }
            _ => serde_json::Value::Null,
        }
    }
}

/// Receives a conversation's events. On `RecvError::Lagged`, re-read from the database.
pub type Subscription = broadcast::Receiver<Arc<LiveEvent>>;

/// What the reps of a company watch (their inbox's event stream): every conversation
/// event of the company, and the events of the rep side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CompanyEvent {
    /// An event published to one of the company's conversations.
    Conversation {
        conversation_id: String,
        event: LiveEvent,
    },
    /// An event of the rep side (a chat changed, presence, notifications, typing).
    Rep { event: RepEvent },
    /// Events may have been lost: catch up from the database with what changed at or
    /// after `since` (Unix ms), or reload it all when there is no such time.
    Resync { since: Option<i64> },
}

/// Receives a company's events. On `RecvError::Lagged`, re-read from the database.
pub type CompanySubscription = broadcast::Receiver<Arc<CompanyEvent>>;

/// Carries events to the watchers of a conversation and to the reps of its company,
/// wherever they are connected.
pub trait Hub: Send + Sync + 'static {
    /// Deliver `event` to every current subscriber of the conversation, and to the
    /// company's rep streams, on every node. Never blocks and never fails the caller: for
    /// what is not stored (typing); a stored change is announced with its transaction
    /// ([`Hub::notify_in`], [`Hub::deliver_local`]).
    fn publish(&self, company_id: &str, conversation_id: &str, event: LiveEvent);

    /// Watch a conversation (ids are checked by the caller, who knows the company).
    fn subscribe(&self, conversation_id: &str) -> Subscription;

    /// Deliver a rep-side event to the company's rep streams (not to visitors).
    fn publish_rep(&self, company_id: &str, event: RepEvent);

    /// Watch every event of a company (a rep's inbox; the caller checks who may see what).
    fn subscribe_company(&self, company_id: &str) -> CompanySubscription;

    /// The conversations someone watches now; `None` when the hub cannot tell (its
    /// watchers may be on other nodes).
    fn watching(&self) -> Option<HashSet<String>> {
        None
    }

    /// Announce `notices` to the other nodes from inside the write transaction on `conn`
    /// that made the change, just before it commits. PostgreSQL delivers the
    /// notifications when that transaction commits, never when it rolls back. One node
    /// (SQLite): nothing to do.
    fn notify_in(&self, conn: &mut DbConn, notices: &Notices) -> Result<(), DbError> {
        let _ = (conn, notices);
        Ok(())
    }

    /// Deliver committed `notices` to this node's own subscribers. One node: that is
    /// everyone. A derived notice goes to this node's announcer ([`Hub::derive`]).
    fn deliver_local(&self, notices: Notices) {
        for notice in notices {
            match notice {
                Notice::Conversation {
                    company_id,
                    conversation_id,
                    event,
                } => self.publish(&company_id, &conversation_id, event),
                Notice::Rep { company_id, event } => self.publish_rep(&company_id, event),
                // `Chat::write_announced` drops this node's copy itself.
                Notice::Changed { .. } => {}
                Notice::Derived {
                    company_id,
                    derived,
                } => self.derive(&company_id, derived),
            }
        }
    }

    /// Hand a committed derived notice (of any node) to this node's announcer, which works
    /// out what it means for this node's subscribers. Without an announcer: nothing.
    fn derive(&self, company_id: &str, derived: Derived) {
        let _ = (company_id, derived);
    }

    /// The derived notices this node must work out, for its announcer: given once.
    fn derivations(&self) -> Option<Derivations> {
        None
    }

    /// Does anyone on this node watch the company's events (an inbox)? When it cannot
    /// tell, `true`.
    fn watches_company(&self, company_id: &str) -> bool {
        let _ = company_id;
        true
    }

    /// Can this hub reach every node now? (`/readyz`)
    fn connected(&self) -> bool {
        true
    }

    /// How often the link to the other nodes was lost and made again.
    fn reconnects(&self) -> u64 {
        0
    }
}

/// Events buffered per company for a slow rep stream before it must re-read.
const COMPANY_CAPACITY: usize = 256;

type Channels<T> = Mutex<HashMap<String, broadcast::Sender<Arc<T>>>>;

/// The in-process hub: one broadcast channel per watched conversation and per company
/// with an open inbox.
#[derive(Debug, Default)]
pub struct LocalHub {
    channels: Channels<LiveEvent>,
    companies: Channels<CompanyEvent>,
    subscriptions: AtomicUsize,
    /// To this node's announcer, once it asked for the derived notices.
    derived: Mutex<Option<mpsc::UnboundedSender<(String, Derived)>>>,
}

impl LocalHub {
    pub fn new() -> LocalHub {
        LocalHub::default()
    }

    /// Conversations with at least one channel (watched now or recently).
    pub fn channel_count(&self) -> usize {
        self.lock().len()
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, broadcast::Sender<Arc<LiveEvent>>>> {
        // A panic while holding the lock leaves a map that is still consistent.
        self.channels.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tell every subscriber of this process to re-read from the database what changed
    /// at or after `since` (Unix ms): widgets re-read by `seq`, inboxes catch up.
    pub fn resync_all(&self, since: i64) {
        for tx in self.lock().values() {
            let _ = tx.send(Arc::new(LiveEvent::Resync));
        }
        let companies = self.companies.lock().unwrap_or_else(|e| e.into_inner());
        for tx in companies.values() {
            let _ = tx.send(Arc::new(CompanyEvent::Resync { since: Some(since) }));
        }
    }

    /// Tell the company's rep streams on this process to reload.
    pub fn resync_company(&self, company_id: &str) {
        self.to_company(company_id, CompanyEvent::Resync { since: None });
    }

    /// Is anyone on this process watching the conversation?
    pub fn watches(&self, conversation_id: &str) -> bool {
        self.lock().contains_key(conversation_id)
    }

    fn to_company(&self, company_id: &str, event: CompanyEvent) {
        let mut companies = self.companies.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = companies.get(company_id)
            && tx.send(Arc::new(event)).is_err()
        {
            companies.remove(company_id);
        }
    }
}

impl Hub for LocalHub {
    fn publish(&self, company_id: &str, conversation_id: &str, event: LiveEvent) {
        // A place in the queue is the visitor's own: a burst of them (many chats moving up
        // at once) would only push the reps' streams into a resync.
        let for_reps = !matches!(event, LiveEvent::Queue { .. });
        if for_reps && self.watches_company(company_id) {
            self.to_company(
                company_id,
                CompanyEvent::Conversation {
                    conversation_id: conversation_id.to_owned(),
                    event: event.clone(),
                },
            );
        }
        let mut channels = self.lock();
        if let Some(tx) = channels.get(conversation_id)
            && tx.send(Arc::new(event)).is_err()
        {
            // Nobody listens any more.
            channels.remove(conversation_id);
        }
    }

    fn publish_rep(&self, company_id: &str, event: RepEvent) {
        self.to_company(company_id, CompanyEvent::Rep { event });
    }

    fn derive(&self, company_id: &str, derived: Derived) {
        let mut tx = self.derived.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = tx.as_ref()
            && sender.send((company_id.to_owned(), derived)).is_err()
        {
            // The announcer stopped (the node is stopping).
            *tx = None;
        }
    }

    fn derivations(&self) -> Option<Derivations> {
        let mut tx = self.derived.lock().unwrap_or_else(|e| e.into_inner());
        if tx.is_some() {
            return None;
        }
        let (sender, receiver) = mpsc::unbounded_channel();
        *tx = Some(sender);
        Some(receiver)
    }

    /// Is anyone on this process watching the company's events?
    fn watches_company(&self, company_id: &str) -> bool {
        self.companies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(company_id)
            .is_some_and(|tx| tx.receiver_count() > 0)
    }

    /// One process has every watcher: a channel with a receiver is a watched conversation.
    fn watching(&self) -> Option<HashSet<String>> {
        Some(
            self.lock()
                .iter()
                .filter(|(_, tx)| tx.receiver_count() > 0)
                .map(|(id, _)| id.clone())
                .collect(),
        )
    }

    fn subscribe_company(&self, company_id: &str) -> CompanySubscription {
        let mut companies = self.companies.lock().unwrap_or_else(|e| e.into_inner());
        companies.retain(|_, tx| tx.receiver_count() > 0);
        companies
            .entry(company_id.to_owned())
            .or_insert_with(|| broadcast::channel(COMPANY_CAPACITY).0)
            .subscribe()
    }

    fn subscribe(&self, conversation_id: &str) -> Subscription {
        let mut channels = self.lock();
        if self.subscriptions.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            channels.retain(|_, tx| tx.receiver_count() > 0);
        }
        channels
            .entry(conversation_id.to_owned())
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0)
            .subscribe()
    }
}

/// One announcement.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// An event of a conversation (its watchers and the company's reps see it).
    Conversation {
        company_id: String,
        conversation_id: String,
        event: LiveEvent,
    },
    /// An event of the rep side (the company's reps see it).
    Rep { company_id: String, event: RepEvent },
    /// What turns keep of the company (`chat::cache`) changed: every node drops it.
    Changed { company_id: String },
    /// What follows from changes of the company's live chats, for each node to work out.
    Derived {
        company_id: String,
        derived: Derived,
    },
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A change of a live chat, as much as a node needs to work out what it means for its
/// subscribers; the rest (the chat's summary, who is online, who wants which
/// notification) it reads from the database. Short names: it travels in notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    #[serde(rename = "c")]
    pub conversation_id: String,
    /// Its status changed (folders and the queue move).
    #[serde(rename = "s", default, skip_serializing_if = "is_false")]
    pub status_changed: bool,
    /// It began to wait in Unassigned (the online reps are notified).
    #[serde(rename = "u", default, skip_serializing_if = "is_false")]
    pub became_unassigned: bool,
    /// The id of the visitor's message of this change (the assignee is notified).
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    pub visitor_message: Option<String>,
    /// A rep (CRM user id) given the chat by someone else (they are notified).
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    pub assigned_to_other: Option<i64>,
}

/// What follows from one transaction's changes of a company's live chats.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Derived {
    /// Chats that changed: their summaries and notifications.
    #[serde(rename = "ch", default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// The company's queue may have moved (a chat began or stopped waiting, a rep's
    /// presence changed): the waiting visitors' places are worked out again.
    #[serde(rename = "q", default, skip_serializing_if = "is_false")]
    pub queue: bool,
}

impl Derived {
    /// Add `other`'s changes to these.
    pub fn merge(&mut self, other: Derived) {
        self.changes.extend(other.changes);
        self.queue |= other.queue;
    }
}

/// Receives the derived notices of every node's committed changes (one node's announcer).
pub type Derivations = mpsc::UnboundedReceiver<(String, Derived)>;

/// The announcements of one write transaction, in order, bound to that transaction:
/// `Chat::write_announced` collects them while it runs the work, hands them to
/// [`Hub::notify_in`] on the transaction's own connection just before the commit (on
/// PostgreSQL `pg_notify`, delivered when and only when the transaction commits), and once
/// it committed to [`Hub::deliver_local`] for this node's own subscribers. The derived
/// notices come last, one per company.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Notices {
    events: Vec<Notice>,
    /// `Notice::Derived`, one per company.
    derived: Vec<Notice>,
}

impl Notices {
    pub fn new() -> Notices {
        Notices::default()
    }

    /// Announce `event` to a conversation's watchers.
    pub fn conversation(&mut self, company_id: &str, conversation_id: &str, event: LiveEvent) {
        self.events.push(Notice::Conversation {
            company_id: company_id.to_owned(),
            conversation_id: conversation_id.to_owned(),
            event,
        });
    }

    /// Announce `event` to the company's reps.
    pub fn rep(&mut self, company_id: &str, event: RepEvent) {
        self.events.push(Notice::Rep {
            company_id: company_id.to_owned(),
            event,
        });
    }

    /// Announce that what turns keep of the company changed (its settings, published
    /// playbooks or answer rules): each node reads it anew at the next turn.
    pub fn changed(&mut self, company_id: &str) {
        self.events.push(Notice::Changed {
            company_id: company_id.to_owned(),
        });
    }

    /// Announce what follows from a change of the company's live chats (merged with the
    /// company's other derived changes of this transaction).
    pub fn derived(&mut self, company_id: &str, more: Derived) {
        for notice in &mut self.derived {
            if let Notice::Derived {
                company_id: c,
                derived,
            } = notice
                && c == company_id
            {
                derived.merge(more);
                return;
            }
        }
        self.derived.push(Notice::Derived {
            company_id: company_id.to_owned(),
            derived: more,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.derived.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Notice> {
        self.events.iter().chain(self.derived.iter())
    }
}

impl IntoIterator for Notices {
    type Item = Notice;
    type IntoIter = std::iter::Chain<std::vec::IntoIter<Notice>, std::vec::IntoIter<Notice>>;

    fn into_iter(self) -> Self::IntoIter {
        self.events.into_iter().chain(self.derived)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(s: &str) -> LiveEvent {
        LiveEvent::Status {
            status: s.into(),
            outcome: None,
        }
    }

    #[tokio::test]
    async fn subscribers_get_their_conversation_only() {
        let hub = LocalHub::new();
        let mut a = hub.subscribe("a");
        let mut b = hub.subscribe("b");
        hub.publish("c", "a", status("closed"));
        assert_eq!(*a.recv().await.unwrap(), status("closed"));
        assert!(b.try_recv().is_err());
        drop(a);
        hub.publish("c", "a", status("bot"));
        assert_eq!(hub.channel_count(), 1, "the unwatched channel is dropped");
    }

    #[test]
    fn events_name_their_data() {
        let e = LiveEvent::Typing {
            author: "bot".into(),
            name: None,
            typing: true,
        };
        assert_eq!(e.name(), "typing");
        assert_eq!(
            e.data(),
            serde_json::json!({"author": "bot", "typing": true})
        );
        assert_eq!(e.seq(), None);
    }
}
