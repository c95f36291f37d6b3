//! What travels between nodes in a [`super::pg_hub::PgHub`] notification, and how: a
//! notice of one node becomes the JSON text of one notification (or several), which the
//! other nodes read back.
//!
//! Payloads stay small: ids, `seq` and the event itself. A message too long for a
//! notification (over [`MAX_PAYLOAD`] bytes of JSON) travels as its id and `seq`, and the
//! receiving node reads it from the database; any other event too large is replaced by a
//! resync of its conversation and company. A [`Derived`] notice carries ids and flags only
//! (split in several notifications when it holds many changes): each node reads the
//! summaries, reps and places it needs for its own subscribers.

use serde::{Deserialize, Serialize};

use super::live::RepEvent;
use super::realtime::{Derived, LiveEvent, Notice};

/// Largest payload sent as is (PostgreSQL refuses 8,000 bytes and more).
pub const MAX_PAYLOAD: usize = 7_000;

/// One notification.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Wire {
    /// The node that published it.
    pub node: String,
    pub company: String,
    #[serde(flatten)]
    pub body: Body,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub(super) enum Body {
    Conversation {
        conversation: String,
        event: LiveEvent,
    },
    /// A message too long to travel: read it from the database.
    MessageRef {
        conversation: String,
        id: String,
        seq: i64,
    },
    Rep {
        event: RepEvent,
    },
    /// What follows from changes of the company's live chats.
    Derived {
        d: Derived,
    },
    /// Something too large to travel changed: reload.
    Resync {
        conversation: Option<String>,
    },
    /// What turns keep of the company changed: drop it
    /// ([`super::cache::CompanyCache::forget`]).
    Changed,
}

/// The notification texts of a notice sent by `node` (one, unless a derived notice is too
/// long).
pub(super) fn payloads(node: &str, notice: &Notice) -> Vec<String> {
    match notice {
        Notice::Conversation {
            company_id,
            conversation_id,
            event,
        } => vec![encode(
            node,
            company_id,
            Body::Conversation {
                conversation: conversation_id.clone(),
                event: event.clone(),
            },
        )],
        Notice::Rep { company_id, event } => vec![encode(
            node,
            company_id,
            Body::Rep {
                event: event.clone(),
            },
        )],
        Notice::Derived {
            company_id,
            derived,
        } => encode_derived(node, company_id, derived.clone()),
        Notice::Changed { company_id } => vec![encode(node, company_id, Body::Changed)],
    }
}

/// A notification's text read back.
pub(super) fn decode(payload: &str) -> Result<Wire, serde_json::Error> {
    serde_json::from_str(payload)
}

/// The notification's text: the event itself when small enough, else a reference.
pub(super) fn encode(node: &str, company: &str, body: Body) -> String {
    let wire = Wire {
        node: node.to_owned(),
        company: company.to_owned(),
        body,
    };
    let text = serde_json::to_string(&wire).unwrap_or_default();
    if text.len() <= MAX_PAYLOAD && !text.is_empty() {
        return text;
    }
    let body = match wire.body {
        Body::Conversation {
            conversation,
            event: LiveEvent::Message(m),
        } => Body::MessageRef {
            conversation,
            id: m.id,
            seq: m.seq,
        },
        Body::Conversation { conversation, .. } => Body::Resync {
            conversation: Some(conversation),
        },
        _ => Body::Resync { conversation: None },
    };
    let small = Wire { body, ..wire };
    serde_json::to_string(&small).unwrap_or_default()
}

/// A derived notice's notification texts: one, or the changes split over several so that
/// each stays within [`MAX_PAYLOAD`] (the queue flag goes with the first).
fn encode_derived(node: &str, company: &str, derived: Derived) -> Vec<String> {
    let whole = |d: Derived| {
        let wire = Wire {
            node: node.to_owned(),
            company: company.to_owned(),
            body: Body::Derived { d },
        };
        serde_json::to_string(&wire).unwrap_or_default()
    };
    let text = whole(derived.clone());
    if text.len() <= MAX_PAYLOAD || derived.changes.len() <= 1 {
        return vec![text];
    }
    let mut first = derived;
    let rest = first.changes.split_off(first.changes.len() / 2);
    let second = Derived {
        changes: rest,
        queue: false,
    };
    let mut out = encode_derived(node, company, first);
    out.extend(encode_derived(node, company, second));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::message::Message;

    fn message(text: &str) -> LiveEvent {
        LiveEvent::Message(Message {
            id: "m1".into(),
            seq: 4,
            author: "visitor".into(),
            author_name: None,
            text: text.into(),
            buttons: vec![],
            input: None,
            placeholder: None,
            redirect: None,
            created_at: 1,
        })
    }

    fn body(text: &str) -> Body {
        Body::Conversation {
            conversation: "c1".into(),
            event: message(text),
        }
    }

    #[test]
    fn small_events_travel_whole() {
        let text = encode("n", "co", body("hello"));
        let wire: Wire = serde_json::from_str(&text).unwrap();
        assert_eq!(wire.company, "co");
        match wire.body {
            Body::Conversation { event, .. } => assert_eq!(event, message("hello")),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn long_messages_travel_as_their_id_and_seq() {
        let long = "x".repeat(MAX_PAYLOAD * 2);
        let text = encode("n", "co", body(&long));
        assert!(text.len() < 200, "{} bytes", text.len());
        let wire: Wire = serde_json::from_str(&text).unwrap();
        match wire.body {
            Body::MessageRef {
                conversation,
                id,
                seq,
            } => assert_eq!((conversation.as_str(), id.as_str(), seq), ("c1", "m1", 4)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn many_derived_changes_travel_in_several_notifications() {
        use crate::chat::realtime::Change;
        let changes: Vec<Change> = (0..400)
            .map(|i| Change {
                conversation_id: format!("{i:032}"),
                status_changed: true,
                became_unassigned: false,
                visitor_message: None,
                assigned_to_other: None,
            })
            .collect();
        let derived = Derived {
            changes: changes.clone(),
            queue: true,
        };
        let texts = encode_derived("n", "co", derived);
        assert!(texts.len() > 1);
        let mut back = Derived::default();
        for text in &texts {
            assert!(text.len() <= MAX_PAYLOAD, "{} bytes", text.len());
            let wire: Wire = serde_json::from_str(text).unwrap();
            match wire.body {
                Body::Derived { d } => back.merge(d),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(
            back,
            Derived {
                changes,
                queue: true
            },
            "nothing lost, in order"
        );
    }

    #[test]
    fn other_large_events_become_a_resync() {
        let url = format!("https://example.com/{}", "y".repeat(MAX_PAYLOAD));
        let text = encode(
            "n",
            "co",
            Body::Conversation {
                conversation: "c1".into(),
                event: LiveEvent::Redirect { url },
            },
        );
        let wire: Wire = serde_json::from_str(&text).unwrap();
        assert!(matches!(
            wire.body,
            Body::Resync { conversation: Some(c) } if c == "c1"
        ));
    }
}
