//! What a write transaction announces, bound to that transaction.
//!
//! A change and its announcement commit together: [`Chat::write_announced`] runs the
//! caller's work in one write transaction, collecting [`Notices`] as it goes, and hands
//! them to [`Hub::notify_in`] on the transaction's own connection just before the commit.
//! On PostgreSQL that is `pg_notify`, which the server delivers to the other nodes when
//! (and only when) the transaction commits: a rolled-back change announces nothing, and a
//! committed one is announced even if this node dies right after the commit. Once the
//! transaction committed, [`Hub::deliver_local`] hands the same notices to this node's own
//! subscribers. With SQLite (one process) only the local delivery happens.
//!
//! [`Chat::write_announced`]: super::Chat::write_announced
//! [`Hub::notify_in`]: super::realtime::Hub::notify_in
//! [`Hub::deliver_local`]: super::realtime::Hub::deliver_local

use super::events::RepEvent;
use super::message::Message;
use super::realtime::LiveEvent;
use super::turn::Outcome;

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
}

/// The announcements of one write transaction, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Notices(Vec<Notice>);

impl Notices {
    pub fn new() -> Notices {
        Notices::default()
    }

    /// Announce `event` to a conversation's watchers.
    pub fn conversation(&mut self, company_id: &str, conversation_id: &str, event: LiveEvent) {
        self.0.push(Notice::Conversation {
            company_id: company_id.to_owned(),
            conversation_id: conversation_id.to_owned(),
            event,
        });
    }

    /// Announce `event` to the company's reps.
    pub fn rep(&mut self, company_id: &str, event: RepEvent) {
        self.0.push(Notice::Rep {
            company_id: company_id.to_owned(),
            event,
        });
    }

    /// What a turn (a visitor's, a rep's action, a timer firing) stored: its messages, its
    /// other events, and the offer it made.
    pub fn outcome(&mut self, outcome: &Outcome) {
        let Some(conv) = &outcome.conversation else {
            return;
        };
        for row in &outcome.messages {
            self.conversation(
                &conv.company_id,
                &conv.id,
                LiveEvent::Message(Message::from(row)),
            );
        }
        for event in &outcome.events {
            self.conversation(&conv.company_id, &conv.id, event.clone());
        }
        if let Some(offer) = outcome.offer {
            self.rep(
                &conv.company_id,
                RepEvent::Offer {
                    conversation_id: conv.id.clone(),
                    expires_at: offer.expires_at,
                    to: offer.to,
                },
            );
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Notice> {
        self.0.iter()
    }
}

impl IntoIterator for Notices {
    type Item = Notice;
    type IntoIter = std::vec::IntoIter<Notice>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}
