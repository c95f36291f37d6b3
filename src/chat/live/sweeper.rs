//! The live chat sweep, every few seconds on each node: chats of reps who switched off or
//! whose inbox is gone (no event stream, no heartbeat within the company's timeout) and
//! chats whose visitor waits for an answer longer than the company allows go back to
//! Unassigned; the online reps are told, the visitor learns someone else will answer.
//! Reps whose presence changed without a request (their inbox went away, business hours
//! began or ended) are announced to the inboxes connected to this node.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;

use super::{RepEvent, actions, effective_online};
use crate::chat::Chat;
use crate::chat::turn;
use crate::db::companies::{self, Company};
use crate::db::{DbError, live};

/// Reps last seen longer ago than this are looked at (the company's own timeout decides).
const MIN_TIMEOUT_MS: i64 = 10_000;

/// What the sweep remembers between rounds: the presence it last announced.
#[derive(Debug, Default)]
pub struct Sweeper {
    announced: HashMap<(String, i64), bool>,
}

/// Sweep every `every` until the task is aborted.
pub fn spawn(chat: Chat, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut sweeper = Sweeper::default();
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = sweeper.round(&chat).await {
                tracing::warn!(error = %e, "live chat sweep failed");
            }
        }
    })
}

impl Sweeper {
    pub async fn round(&mut self, chat: &Chat) -> Result<(), DbError> {
        let now = Utc::now();
        let now_ms = now.timestamp_millis();
        let (absent, unanswered, on, companies) = chat
            .db
            .run(move |conn| {
                let absent = live::chats_of_absent_reps(conn, now_ms - MIN_TIMEOUT_MS)?;
                let unanswered = live::unanswered(conn)?;
                let on = live::switched_on(conn)?;
                let mut companies: HashMap<String, Company> = HashMap::new();
                let ids = absent
                    .iter()
                    .map(|(c, _, _)| c)
                    .chain(unanswered.iter().map(|(c, _, _)| c))
                    .chain(on.iter().map(|r| &r.company_id))
                    .cloned()
                    .collect::<Vec<_>>();
                for id in ids {
                    if !companies.contains_key(&id)
                        && let Some(c) = companies::by_id(conn, &id)?
                    {
                        companies.insert(id, c);
                    }
                }
                Ok::<_, DbError>((absent, unanswered, on, companies))
            })
            .await?;
        for (company_id, conversation_id, rep) in absent {
            let Some(company) = companies.get(&company_id) else {
                continue;
            };
            let timeout = i64::from(company.settings().heartbeat_timeout_seconds) * 1000;
            if !rep.connected(now_ms - timeout) {
                give_back(chat, &company_id, &conversation_id, Some(rep.id.clone())).await;
            }
        }
        for (company_id, conversation_id, since) in unanswered {
            let Some(company) = companies.get(&company_id) else {
                continue;
            };
            let minutes = i64::from(company.settings().live_chat.unanswered_minutes.max(1));
            if now_ms - since >= minutes * 60_000 {
                give_back(chat, &company_id, &conversation_id, None).await;
            }
        }
        // Presence changes nobody asked for (an inbox went away, business hours).
        let mut seen = HashMap::new();
        for rep in on {
            let Some(company) = companies.get(&rep.company_id) else {
                continue;
            };
            seen.insert(
                (rep.company_id.clone(), rep.crm_user_id),
                effective_online(&rep, company, now),
            );
        }
        for (key, online) in &seen {
            if self.announced.get(key) != Some(online) {
                chat.hub.publish_rep(
                    &key.0,
                    RepEvent::Presence {
                        user_id: key.1,
                        online: *online,
                    },
                );
            }
        }
        for key in self.announced.keys() {
            if !seen.contains_key(key) {
                chat.hub.publish_rep(
                    &key.0,
                    RepEvent::Presence {
                        user_id: key.1,
                        online: false,
                    },
                );
            }
        }
        self.announced = seen;
        Ok(())
    }
}

/// Hand a chat back to Unassigned if it is still assigned (to `rep_id`, when given).
pub async fn give_back(
    chat: &Chat,
    company_id: &str,
    conversation_id: &str,
    rep_id: Option<String>,
) {
    let (company, id, versions) = (
        company_id.to_owned(),
        conversation_id.to_owned(),
        chat.versions.clone(),
    );
    let result = chat
        .write_announced(move |conn, notices| {
            let done = turn::locked(conn, &versions, &company, &id, Utc::now(), |t| {
                actions::give_back(t, rep_id.as_deref())
            })?;
            if done.1 {
                done.0.announce(notices);
            }
            Ok::<_, super::LiveError>(done)
        })
        .await;
    match result {
        Ok((outcome, true)) => {
            chat.deliver(&outcome);
        }
        Ok((_, false)) => {}
        Err(e) => {
            tracing::warn!(error = %e, conversation = %conversation_id, "cannot hand a chat back")
        }
    }
}

/// Hand back every chat a rep has.
pub async fn give_back_all(chat: &Chat, company_id: &str, rep_id: &str) {
    let (company, rep) = (company_id.to_owned(), rep_id.to_owned());
    let chats = chat
        .db
        .run(move |conn| live::assigned_to(conn, &company, &rep))
        .await;
    match chats {
        Ok(ids) => {
            for id in ids {
                give_back(chat, company_id, &id, Some(rep_id.to_owned())).await;
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot list a rep's chats"),
    }
}
