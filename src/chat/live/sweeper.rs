//! The live chat sweep, every few seconds on each node: chats of reps who switched off or
//! whose inbox is gone (no event stream, no heartbeat within the company's timeout) and
//! chats whose visitor waits for an answer longer than the company allows go back to
//! Unassigned; the online reps are told, the visitor learns someone else will answer.
//! Reps whose presence changed without a request (their inbox went away, business hours
//! began or ended) are announced once, whatever the number of nodes: the node whose
//! write of the rep's announced presence (`presence_announced`) changes it announces
//! it, with that write's transaction.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;

use super::{RepEvent, actions, effective_online};
use crate::chat::Chat;
use crate::chat::turn;
use crate::db::companies::{self, Company};
use crate::db::live::Rep;
use crate::db::{DbError, live};

/// Reps last seen longer ago than this are looked at (the company's own timeout decides).
const MIN_TIMEOUT_MS: i64 = 10_000;

/// Sweep every `every` until the task is aborted.
pub fn spawn(chat: Chat, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = round(&chat).await {
                tracing::warn!(error = %e, "live chat sweep failed");
            }
        }
    })
}

/// One sweep (it remembers nothing between rounds: the database does).
pub async fn round(chat: &Chat) -> Result<(), DbError> {
    let now = Utc::now();
    let now_ms = now.timestamp_millis();
    let (absent, unanswered, on, companies) = chat
        .db
        .run(move |conn| {
            let absent = live::chats_of_absent_reps(conn, now_ms - MIN_TIMEOUT_MS)?;
            let unanswered = live::unanswered(conn)?;
            let on = live::presence_to_check(conn)?;
            let mut companies: HashMap<String, Company> = HashMap::new();
            let ids = absent
                .iter()
                .map(|(c, _, _)| c)
                .chain(unanswered.iter().map(|(c, _, _)| c))
                .chain(on.iter().map(|(r, _)| &r.company_id))
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
    for (rep, announced) in on {
        let online = companies
            .get(&rep.company_id)
            .is_some_and(|company| effective_online(&rep, company, now));
        if announced != Some(online) {
            announce_presence(chat, rep, online).await;
        }
    }
    Ok(())
}

/// Announce a rep's presence if this node is the one that records it as announced.
async fn announce_presence(chat: &Chat, rep: Rep, online: bool) {
    let result = chat
        .write_announced(move |conn, notices| {
            if live::announce_presence(conn, &rep.id, online)? {
                notices.rep(
                    &rep.company_id,
                    RepEvent::Presence {
                        user_id: rep.crm_user_id,
                        online,
                    },
                );
            }
            Ok::<_, DbError>(())
        })
        .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "cannot announce a rep's presence");
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
            Ok::<_, super::LiveError>(())
        })
        .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, conversation = %conversation_id, "cannot hand a chat back")
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
