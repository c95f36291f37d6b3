//! After a conversation change committed: tell the company's reps what changed (the
//! chat's summary and the notifications each rep asked for) and tell every waiting
//! visitor their place in the queue with an honest expected wait.
//!
//! The expected wait comes from how long chats actually waited before the reps who are
//! online now took them (their last 50 takes of the past 7 days): with the median take
//! `m`, `n` reps online and place `p`, the chat should be taken after about
//! `m × ⌈p / n⌉`, less what it already waited, and never after its wait timer ends. With
//! nobody online or no takes to learn from, no figure is given.

use chrono::Utc;

use super::{RepEvent, effective_online};
use crate::chat::Chat;
use crate::chat::events::notify;
use crate::chat::realtime::LiveEvent;
use crate::chat::turn::Outcome;
use crate::db::conversations::{author, status};
use crate::db::{DbConn, DbError, companies, live, teams};

/// Takes older than this are not used for the expected wait.
const TAKES_WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;
/// At most this many recent takes are used.
const TAKES_USED: i64 = 50;

/// What a committed outcome means for the reps.
struct Change {
    company_id: String,
    conversation_id: String,
    status_changed: bool,
    became_unassigned: bool,
    visitor_text: Option<String>,
    assigned_to_other: Option<i64>,
}

/// Announce a delivered outcome (in the background: nothing here may slow the caller).
pub fn after(chat: &Chat, outcome: &Outcome) {
    let Some(conv) = &outcome.conversation else {
        return;
    };
    let new_status = outcome.events.iter().find_map(|e| match e {
        LiveEvent::Status { status, .. } => Some(status.as_str()),
        _ => None,
    });
    if conv.status == status::BOT && new_status.is_none() {
        return;
    }
    let change = Change {
        company_id: conv.company_id.clone(),
        conversation_id: conv.id.clone(),
        status_changed: new_status.is_some(),
        became_unassigned: new_status == Some(status::UNASSIGNED),
        visitor_text: outcome
            .messages
            .iter()
            .rev()
            .find(|m| m.author == author::VISITOR)
            .map(|m| m.body.clone()),
        assigned_to_other: outcome.assigned_to_other,
    };
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(announce(chat.clone(), change));
    }
}

async fn announce(chat: Chat, change: Change) {
    let (company, id) = (change.company_id.clone(), change.conversation_id.clone());
    let loaded = chat
        .db
        .run(move |conn| {
            let summary = live::summary(conn, &company, &id)?;
            // A chat handed to a team: only its members hear of it.
            let team = match summary.as_ref().and_then(|s| s.team.clone()) {
                Some(team) => Some(teams::members_of(conn, &company, &[team])?),
                None => None,
            };
            Ok::<_, DbError>((
                summary,
                companies::by_id(conn, &company)?,
                live::reps(conn, &company)?,
                team,
            ))
        })
        .await;
    let (summary, company, reps, team) = match loaded {
        Ok((Some(s), Some(c), reps, team)) => (s, c, reps, team),
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(error = %e, "cannot tell the reps about a chat");
            return;
        }
    };
    let company_id = company.id.clone();
    chat.hub
        .publish_rep(&company_id, RepEvent::Conversation(summary.clone()));
    let now = Utc::now();
    let who = summary
        .visitor
        .name
        .clone()
        .or_else(|| summary.visitor.email.clone())
        .unwrap_or_else(|| "A visitor".to_owned());
    let tell = |kind: &str, title: String, body: String, to: Vec<i64>| {
        if !to.is_empty() {
            chat.hub.publish_rep(
                &company_id,
                RepEvent::Notify {
                    kind: kind.to_owned(),
                    title,
                    body,
                    conversation_id: Some(summary.id.clone()),
                    to,
                },
            );
        }
    };
    if change.became_unassigned {
        let to = reps
            .iter()
            .filter(|r| {
                r.wants(notify::NEW_CHAT)
                    && effective_online(r, &company, now)
                    && team.as_ref().is_none_or(|m| m.contains(&r.crm_user_id))
            })
            .map(|r| r.crm_user_id)
            .collect();
        tell(
            notify::NEW_CHAT,
            "A chat is waiting".into(),
            format!("{who} waits for a rep."),
            to,
        );
    }
    if let Some(user) = change.assigned_to_other {
        let to = reps
            .iter()
            .filter(|r| r.crm_user_id == user && r.wants(notify::ASSIGNED))
            .map(|r| r.crm_user_id)
            .collect();
        tell(
            notify::ASSIGNED,
            "A chat was assigned to you".into(),
            who.clone(),
            to,
        );
    }
    if let (Some(text), Some(assignee)) = (&change.visitor_text, &summary.assignee)
        && summary.status == status::ASSIGNED
    {
        let to = reps
            .iter()
            .filter(|r| r.crm_user_id == assignee.user_id && r.wants(notify::MESSAGE))
            .map(|r| r.crm_user_id)
            .collect();
        tell(
            notify::MESSAGE,
            format!("{who} wrote"),
            text.chars().take(200).collect(),
            to,
        );
    }
    if change.status_changed {
        queue(&chat, &company_id).await;
    }
}

/// Companies whose queue is about to be recomputed: a burst of changes (many chats
/// missed at once) is told once.
static PENDING: std::sync::LazyLock<std::sync::Mutex<std::collections::HashSet<String>>> =
    std::sync::LazyLock::new(Default::default);

/// Changes within this long are told together.
const QUEUE_GATHER: std::time::Duration = std::time::Duration::from_millis(50);

/// Tell every waiting visitor of the company their place and expected wait.
pub async fn queue(chat: &Chat, company_id: &str) {
    let pending = || PENDING.lock().unwrap_or_else(|e| e.into_inner());
    if !pending().insert(company_id.to_owned()) {
        return;
    }
    tokio::time::sleep(QUEUE_GATHER).await;
    pending().remove(company_id);
    let company = company_id.to_owned();
    let places = chat
        .db
        .run(move |conn| places(conn, &company, Utc::now().timestamp_millis()))
        .await;
    match places {
        Ok(places) => {
            for place in places {
                chat.hub.publish(
                    company_id,
                    &place.conversation_id,
                    LiveEvent::Queue {
                        position: place.position,
                        expected_wait_seconds: place.expected_wait_seconds,
                    },
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot compute the queue"),
    }
}

/// A waiting chat's place in its company's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub conversation_id: String,
    /// 1 + the chats of the company waiting longer.
    pub position: i64,
    pub expected_wait_seconds: Option<i64>,
}

/// The company's waiting chats with their places, longest waiting first.
pub fn places(conn: &mut DbConn, company_id: &str, now: i64) -> Result<Vec<Place>, DbError> {
    let waiting = live::waiting(conn, company_id)?;
    if waiting.is_empty() {
        return Ok(Vec::new());
    }
    let Some(company) = companies::by_id(conn, company_id)? else {
        return Ok(Vec::new());
    };
    let at = chrono::DateTime::from_timestamp_millis(now).unwrap_or_else(Utc::now);
    let online: Vec<String> = live::reps(conn, company_id)?
        .into_iter()
        .filter(|r| effective_online(r, &company, at))
        .map(|r| r.id)
        .collect();
    let takes = live::recent_takes(conn, company_id, &online, now - TAKES_WINDOW_MS, TAKES_USED)?;
    let typical = median(takes);
    let dues = live::wait_dues(conn, company_id)?;
    let mut out = Vec::with_capacity(waiting.len());
    for (i, (id, since)) in waiting.into_iter().enumerate() {
        let position = i as i64 + 1;
        let mut expected = typical.map(|m| {
            let reps = online.len().max(1) as i64;
            let rounds = (position + reps - 1) / reps;
            (m * rounds - (now - since)).max(0) / 1000
        });
        if let (Some(e), Some(due)) = (expected, dues.get(&id)) {
            expected = Some(e.min(((due - now) / 1000).max(0)));
        }
        out.push(Place {
            conversation_id: id,
            position,
            expected_wait_seconds: expected,
        });
    }
    Ok(out)
}

/// The middle value (the lower of the two middle ones for an even count).
fn median(mut values: Vec<i64>) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    Some(values[(values.len() - 1) / 2])
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_takes() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![30_000]), Some(30_000));
        assert_eq!(median(vec![90, 10, 50]), Some(50));
        assert_eq!(median(vec![40, 10, 20, 30]), Some(20));
    }
}
