//! What follows from a committed change of a live chat, worked out by each node for its
//! own subscribers: the change's transaction sent every node a small [`Derived`] notice
//! (ids and flags, `chat::realtime`), and this node's announcer reads the rest from the
//! database — the company's reps get the chat's summary and the notifications each asked
//! for, the waiting visitors watching here their place in the queue with an honest
//! expected wait. Nothing is published to the other nodes from here: each works out its
//! own, so a node that dies right after a commit loses nothing of it for the others.
//!
//! The expected wait comes from how long chats actually waited before the reps who are
//! online now took them (their last 50 takes of the past 7 days): with the median take
//! `m`, `n` reps online and place `p`, the chat should be taken after about
//! `m × ⌈p / n⌉`, less what it already waited, and never after its wait timer ends. With
//! nobody online or no takes to learn from, no figure is given.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::{RepEvent, effective_online};
use crate::chat::Chat;
use crate::chat::events::notify;
use crate::chat::realtime::{Change, Derivations, Derived, LiveEvent, Notices};
use crate::db::companies::Company;
use crate::db::conversations::{self as convs, status};
use crate::db::live::Rep;
use crate::db::summary::{self, Summary};
use crate::db::{DbConn, DbError, companies, live, queue, teams};

/// Takes older than this are not used for the expected wait.
const TAKES_WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;
/// At most this many recent takes are used.
const TAKES_USED: i64 = 50;
/// Derived notices taken at once: those waiting are worked out together, one read per
/// company for all of them.
const DRAIN: usize = 1024;

/// Start this node's announcer (until aborted); `None` when the hub has no derived
/// notices to give (or gave them to another announcer).
pub fn spawn(chat: Chat) -> Option<tokio::task::JoinHandle<()>> {
    let derivations = chat.hub.derivations()?;
    Some(tokio::spawn(run(chat, derivations)))
}

/// Work out derived notices as they come: whatever waits is taken together, grouped by
/// company, the companies side by side.
async fn run(chat: Chat, mut derivations: Derivations) {
    while let Some((company, first)) = derivations.recv().await {
        let mut by_company: HashMap<String, Derived> = HashMap::from([(company, first)]);
        for _ in 1..DRAIN {
            let Ok((company, more)) = derivations.try_recv() else {
                break;
            };
            by_company.entry(company).or_default().merge(more);
        }
        let work = by_company
            .into_iter()
            .map(|(company, derived)| work_out(&chat, company, derived));
        futures_util::future::join_all(work).await;
    }
}

/// What a company's derived notice means for this node's subscribers.
async fn work_out(chat: &Chat, company_id: String, derived: Derived) {
    if derived.queue {
        let (chat, company) = (chat.clone(), company_id.clone());
        tokio::spawn(async move { queue(&chat, &company).await });
    }
    if derived.changes.is_empty() || !chat.hub.watches_company(&company_id) {
        return;
    }
    announce(chat, company_id, derived.changes).await;
}

/// What the reps are told about changed chats of one company, read at once.
struct Loaded {
    company: Company,
    reps: Vec<Rep>,
    summaries: HashMap<String, Summary>,
    /// The members of each team the chats are handed to.
    teams: HashMap<String, HashSet<i64>>,
    /// The visitor messages the changes name, by id: their text.
    texts: HashMap<String, String>,
}

fn load(
    conn: &mut DbConn,
    company_id: &str,
    changes: &[Change],
) -> Result<Option<Loaded>, DbError> {
    let Some(company) = companies::by_id(conn, company_id)? else {
        return Ok(None);
    };
    let ids: Vec<String> = changes.iter().map(|c| c.conversation_id.clone()).collect();
    let summaries: HashMap<String, Summary> = summary::summaries_of(conn, company_id, &ids)?
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    let mut members = HashMap::new();
    for team in summaries.values().filter_map(|s| s.team.as_ref()) {
        if !members.contains_key(team) {
            let of_team = teams::members_of(conn, company_id, std::slice::from_ref(team))?;
            members.insert(team.clone(), of_team);
        }
    }
    let mut texts = HashMap::new();
    for change in changes {
        // Only a chat with a rep notifies of the visitor's message.
        let assigned = summaries
            .get(&change.conversation_id)
            .is_some_and(|s| s.status == status::ASSIGNED);
        if let (Some(id), true) = (&change.visitor_message, assigned)
            && let Some(row) = convs::message(conn, company_id, &change.conversation_id, id)?
        {
            texts.insert(id.clone(), row.body);
        }
    }
    Ok(Some(Loaded {
        company,
        reps: live::reps(conn, company_id)?,
        summaries,
        teams: members,
        texts,
    }))
}

async fn announce(chat: &Chat, company_id: String, changes: Vec<Change>) {
    let company = company_id.clone();
    let loaded = chat
        .db
        .run(move |conn| {
            let loaded = load(conn, &company, &changes)?;
            Ok::<_, DbError>(loaded.map(|l| (l, changes)))
        })
        .await;
    let (mut loaded, changes) = match loaded {
        Ok(Some(loaded)) => loaded,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "cannot tell the reps about a chat");
            return;
        }
    };
    let mut notices = Notices::new();
    for change in changes {
        let Some(summary) = loaded.summaries.remove(&change.conversation_id) else {
            continue;
        };
        // A chat handed to a team: only its members hear of it.
        let team = summary.team.as_ref().and_then(|t| loaded.teams.get(t));
        let text = change
            .visitor_message
            .as_ref()
            .and_then(|id| loaded.texts.get(id))
            .map(String::as_str);
        tell_reps(
            &mut notices,
            &loaded.company,
            &loaded.reps,
            team,
            summary,
            &change,
            text,
        );
    }
    chat.hub.deliver_local(notices);
}

/// The chat's summary to the company's reps, and the notifications it calls for.
fn tell_reps(
    notices: &mut Notices,
    company: &Company,
    reps: &[Rep],
    team: Option<&HashSet<i64>>,
    summary: Summary,
    change: &Change,
    visitor_text: Option<&str>,
) {
    let company_id = company.id.clone();
    notices.rep(&company_id, RepEvent::Conversation(summary.clone()));
    let now = Utc::now();
    let who = summary
        .visitor
        .name
        .clone()
        .or_else(|| summary.visitor.email.clone())
        .unwrap_or_else(|| "A visitor".to_owned());
    let mut tell = |kind: &str, title: String, body: String, to: Vec<i64>| {
        if !to.is_empty() {
            notices.rep(
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
                    && effective_online(r, company, now)
                    && team.is_none_or(|m| m.contains(&r.crm_user_id))
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
    if let (Some(text), Some(assignee)) = (visitor_text, &summary.assignee)
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
}

/// Each company's queue as last told on this node.
#[derive(Default)]
struct Told {
    /// A recomputation is scheduled.
    pending: bool,
    /// When the last one began.
    at: Option<Instant>,
    /// What each watched waiting chat was told: (position, expected wait).
    places: HashMap<String, (i64, Option<i64>)>,
}

/// Each company's queue as last told by this node (one per node: `Chat::queues`).
#[derive(Default)]
pub struct Queues(Mutex<HashMap<String, Told>>);

impl Queues {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Told>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Changes within this long are told together.
const QUEUE_GATHER: Duration = Duration::from_millis(50);
/// A company's queue is recomputed at most this often: a burst of changes (many chats
/// missed or taken at once) costs one pass over the waiting chats, not one per change.
const QUEUE_EVERY: Duration = Duration::from_secs(1);

/// Tell the company's waiting visitors watching on this node their place and expected
/// wait: soon, and at most once per [`QUEUE_EVERY`]. Only watched chats whose figures
/// changed since they were last told hear of it (every waiting chat when the hub cannot
/// tell who watches).
pub async fn queue(chat: &Chat, company_id: &str) {
    let delay = {
        let mut all = chat.queues.lock();
        let told = all.entry(company_id.to_owned()).or_default();
        if told.pending {
            return;
        }
        told.pending = true;
        match told.at {
            Some(at) => (at + QUEUE_EVERY)
                .saturating_duration_since(Instant::now())
                .max(QUEUE_GATHER),
            None => QUEUE_GATHER,
        }
    };
    tokio::time::sleep(delay).await;
    if let Some(told) = chat.queues.lock().get_mut(company_id) {
        told.pending = false;
        told.at = Some(Instant::now());
    }
    let company = company_id.to_owned();
    let watching = chat.hub.watching();
    let watched = watching.clone();
    let places = chat
        .db
        .run(move |conn| {
            places(
                conn,
                &company,
                Utc::now().timestamp_millis(),
                watched.as_ref(),
            )
        })
        .await;
    let places = match places {
        Ok(places) => places,
        Err(e) => {
            tracing::warn!(error = %e, "cannot compute the queue");
            return;
        }
    };
    let mut tell = Vec::new();
    {
        let mut all = chat.queues.lock();
        let told = all.entry(company_id.to_owned()).or_default();
        let mut now_told = HashMap::new();
        for place in places {
            let figures = (place.position, place.expected_wait_seconds);
            match &watching {
                Some(watching) if !watching.contains(&place.conversation_id) => continue,
                Some(_) => {
                    if told.places.get(&place.conversation_id) != Some(&figures) {
                        tell.push(place.clone());
                    }
                    now_told.insert(place.conversation_id, figures);
                }
                None => tell.push(place),
            }
        }
        told.places = now_told;
    }
    // This node's own watchers only: every node tells its own.
    let mut notices = Notices::new();
    for place in tell {
        notices.conversation(
            company_id,
            &place.conversation_id,
            LiveEvent::Queue {
                position: place.position,
                expected_wait_seconds: place.expected_wait_seconds,
            },
        );
    }
    chat.hub.deliver_local(notices);
}

/// A visitor started watching a waiting chat: they are told its place on the next
/// recomputation, even if it did not change.
pub async fn watching(chat: &Chat, company_id: &str, conversation_id: &str) {
    if let Some(told) = chat.queues.lock().get_mut(company_id) {
        told.places.remove(conversation_id);
    }
    queue(chat, company_id).await;
}

/// A waiting chat's place in its company's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub conversation_id: String,
    /// 1 + the chats of the company waiting longer.
    pub position: i64,
    pub expected_wait_seconds: Option<i64>,
}

/// A waiting chat: id, waiting since (Unix ms), place.
type Waiting = (String, i64, i64);

/// Up to this many watched chats on the node, the places are computed for them alone;
/// beyond, for every waiting chat.
const FEW_WATCHED: usize = 500;

/// The company's waiting chats with their places, longest waiting first: those among
/// `watched` (when given and few), else all. Nothing else is read when none waits.
pub fn places(
    conn: &mut DbConn,
    company_id: &str,
    now: i64,
    watched: Option<&HashSet<String>>,
) -> Result<Vec<Place>, DbError> {
    let (waiting, among): (Vec<Waiting>, Option<Vec<String>>) = match watched {
        Some(watched) if watched.len() <= FEW_WATCHED => {
            let ids: Vec<String> = watched.iter().cloned().collect();
            let mut mine = queue::waiting_among(conn, company_id, &ids)?;
            if mine.is_empty() {
                return Ok(Vec::new());
            }
            mine.sort_by_key(|(_, since)| *since);
            let times = queue::waiting_times(conn, company_id)?;
            let placed = mine
                .into_iter()
                .map(|(id, since)| {
                    let longer = times.partition_point(|t| *t < since);
                    (id, since, longer as i64 + 1)
                })
                .collect::<Vec<_>>();
            let among = placed.iter().map(|(id, _, _)| id.clone()).collect();
            (placed, Some(among))
        }
        _ => {
            let all = queue::waiting(conn, company_id)?;
            let placed = all
                .into_iter()
                .enumerate()
                .map(|(i, (id, since))| (id, since, i as i64 + 1))
                .collect();
            (placed, None)
        }
    };
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
    let takes = queue::recent_takes(conn, company_id, &online, now - TAKES_WINDOW_MS, TAKES_USED)?;
    let typical = median(takes);
    let dues = queue::wait_dues(conn, company_id, among.as_deref())?;
    let mut out = Vec::with_capacity(waiting.len());
    for (id, since, position) in waiting {
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
