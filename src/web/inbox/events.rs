//! `GET /api/inbox/events`: the rep's Server-Sent Events.
//!
//! The stream watches the rep's company on the hub and sends what this rep may see:
//! `conversation` (a chat's summary) or `removed` (a chat the rep may no longer see),
//! `counts` after each that is new to the stream or moved between folders, `message` and
//! `typing` of visible chats, `presence`, the rep's own `notify` and `offer` (on opening,
//! every offer standing to the rep), `crm` when a record of a visible chat changed, and
//! `resync` when the stream fell behind (the page then reloads from the API). When the
//! node's link to the others was down, the stream catches up from the database instead:
//! the summaries of the chats changed since, their messages the stream has not sent (by
//! `seq`, in order), the reps' presence and the offers standing to the rep. While it is
//! open it keeps the rep's inbox counted as connected (refreshing `last_seen_at` every
//! 10 s).

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, get, web};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::live;
use crate::chat::Chat;
use crate::chat::live::actions::may_see;
use crate::chat::live::effective_online;
use crate::chat::live::{Live, RepEvent};
use crate::chat::message::Message;
use crate::chat::realtime::{CompanyEvent, CompanySubscription, LiveEvent};
use crate::chat::session::HISTORY_LIMIT;
use crate::db::conversations::{self as convs, MessageRow};
use crate::db::live::Rep;
use crate::db::summary::Summary;
use crate::db::{DbError, companies, offers};
use crate::web::auth::Session;
use crate::web::shutdown::{RECONNECT_HINT, Stopping};
use crate::web::visitor::types::ErrorBody;
use crate::web::{AppError, AppState};

/// How often an open stream refreshes the rep's presence (and keeps proxies awake).
const TOUCH_EVERY: Duration = Duration::from_secs(10);
/// Beyond this many changed chats a stream does not catch up: the page reloads.
const CATCH_UP_CHATS: i64 = 50;

/// The rep's real-time events.
#[utoipa::path(
    get,
    path = "/api/inbox/events",
    tag = "inbox",
    security(("admin_session" = [])),
    responses(
        (status = 200, description = "text/event-stream: `conversation` (summary), `removed` {id}, `counts`, `message` {conversation_id, message}, `typing` {conversation_id, typing}, `presence` {user_id, online}, `notify` {kind, title, body, conversation_id}, `offer` {conversation_id, expires_at}, `crm` {conversation_id}, `resync`", content_type = "text/event-stream", body = String),
        (status = 401, body = ErrorBody),
    )
)]
#[get("/events")]
pub async fn events(
    state: web::Data<AppState>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let company_id = session.company_id.clone();
    let crm_user_id = session.crm_user_id;
    // Subscribe first: nothing falls between the subscription and the page's reload.
    let rx = state.chat.hub.subscribe_company(&company_id);
    let live = live(&state);
    live.touch(&company_id, crm_user_id).await?;
    let (company, user) = (company_id.clone(), crm_user_id);
    let (rep, see_all, teams, standing) = state
        .db
        .run(move |conn| {
            let rep = crate::db::live::rep(conn, &company, user)?;
            let see_all = companies::by_id(conn, &company)?
                .map(|c| c.settings().live_chat.see_all_chats)
                .unwrap_or(false);
            let teams = crate::db::teams::of_user(conn, &company, user)?;
            let standing = match &rep {
                Some(r) => offers::standing_to(conn, &company, &r.id, crate::db::now_ms())?,
                None => Vec::new(),
            };
            Ok::<_, DbError>((rep, see_all, teams, standing))
        })
        .await?;
    let rep = rep.ok_or_else(|| AppError::forbidden("your CRM user is not known to the app"))?;
    let mut stream = RepStream {
        rx,
        live,
        rep,
        see_all,
        teams,
        company_id,
        known: HashMap::new(),
        sent: HashMap::new(),
        pending: VecDeque::from([Bytes::from_static(b"retry: 3000\n\n")]),
        touch: tokio::time::interval_at(tokio::time::Instant::now() + TOUCH_EVERY, TOUCH_EVERY),
        stopping: state.shutdown.watch(),
        ended: false,
        _open: crate::metrics::OpenStream::new("inbox"),
    };
    // Offers made before the stream opened (a reloaded page, a reconnection) are shown.
    for (conversation_id, expires_at) in standing {
        stream.push(
            "offer",
            json!({ "conversation_id": conversation_id, "expires_at": expires_at }),
        );
    }
    let body = futures_util::stream::unfold(stream, |mut s| async move {
        let next = s.next().await?;
        Some((Ok::<_, Infallible>(next), s))
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header(header::CacheControl(vec![header::CacheDirective::NoCache]))
        .insert_header(header::ContentEncoding::Identity)
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

/// What the stream knows of a chat: (status, assignee row id, team).
type Seen = (String, Option<String>, Option<String>);

struct RepStream {
    rx: CompanySubscription,
    live: Live,
    rep: Rep,
    see_all: bool,
    /// The names of the rep's teams (as the stream opened).
    teams: Vec<String>,
    company_id: String,
    /// Chats seen on this stream.
    known: HashMap<String, Seen>,
    /// The newest message `seq` sent of each chat.
    sent: HashMap<String, i64>,
    pending: VecDeque<Bytes>,
    touch: tokio::time::Interval,
    /// Ends the stream when the node stops.
    stopping: Stopping,
    ended: bool,
    _open: crate::metrics::OpenStream,
}

impl RepStream {
    fn chat(&self) -> &Chat {
        &self.live.chat
    }

    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(chunk) = self.pending.pop_front() {
                return Some(chunk);
            }
            if self.ended {
                return None;
            }
            tokio::select! {
                _ = self.stopping.wait() => {
                    self.ended = true;
                    self.pending.push_back(RECONNECT_HINT);
                }
                received = self.rx.recv() => match received {
                    Ok(event) => match *event {
                        CompanyEvent::Resync { since: Some(since) } => self.catch_up(since).await,
                        CompanyEvent::Resync { since: None } => self.reload(),
                        _ => self.handle(&event).await,
                    },
                    Err(RecvError::Lagged(_)) => self.reload(),
                    Err(RecvError::Closed) => return None,
                },
                _ = self.touch.tick() => {
                    if let Err(e) = self.live.touch(&self.company_id, self.rep.crm_user_id).await {
                        tracing::warn!(error = %e, "cannot refresh a rep's presence");
                    }
                    return Some(Bytes::from_static(b": ping\n\n"));
                }
            }
        }
    }

    /// The page reloads everything from the API.
    fn reload(&mut self) {
        self.known.clear();
        self.sent.clear();
        self.push("resync", json!({}));
    }

    /// Send what changed at or after `since` (Unix ms) as the events the stream missed:
    /// each changed chat's messages not sent yet (in `seq` order; of a chat the stream
    /// never sent, those made since) and its summary, then every rep's presence and the
    /// offers standing to this rep. Too many changed chats: the page reloads.
    async fn catch_up(&mut self, since: i64) {
        let company = self.company_id.clone();
        let chats = self
            .chat()
            .db
            .run(move |conn| {
                crate::db::summary::changed_since(conn, &company, since, CATCH_UP_CHATS + 1)
            })
            .await;
        let mut chats = match chats {
            Ok(chats) if chats.len() as i64 <= CATCH_UP_CHATS => chats,
            Ok(_) => return self.reload(),
            Err(e) => {
                tracing::warn!(error = %e, "an inbox stream cannot catch up");
                return self.reload();
            }
        };
        // Oldest change first, as they happened.
        chats.reverse();
        let wanted: Vec<(String, Option<i64>)> = chats
            .iter()
            .filter(|s| self.visible(&self.seen_of(s)))
            .map(|s| (s.id.clone(), self.sent.get(&s.id).copied()))
            .collect();
        let (company, rep_id, user) = (
            self.company_id.clone(),
            self.rep.id.clone(),
            self.rep.crm_user_id,
        );
        let read = self
            .chat()
            .db
            .run(move |conn| {
                let mut messages: HashMap<String, Vec<MessageRow>> = HashMap::new();
                for (id, after) in wanted {
                    let rows = match after {
                        Some(after) => {
                            convs::messages_after(conn, &company, &id, after, HISTORY_LIMIT)?
                        }
                        None => convs::messages_after_since(
                            conn,
                            &company,
                            &id,
                            0,
                            since,
                            HISTORY_LIMIT,
                        )?,
                    };
                    messages.insert(id, rows);
                }
                let reps = crate::db::live::reps(conn, &company)?;
                let settings = companies::by_id(conn, &company)?;
                let standing = offers::standing_to(conn, &company, &rep_id, crate::db::now_ms())?;
                Ok::<_, DbError>((messages, reps, settings, standing))
            })
            .await;
        let (mut messages, reps, company, standing) = match read {
            Ok(read) => read,
            Err(e) => {
                tracing::warn!(error = %e, "an inbox stream cannot catch up");
                return self.reload();
            }
        };
        for summary in chats {
            for row in messages.remove(&summary.id).unwrap_or_default() {
                let event = CompanyEvent::Conversation {
                    conversation_id: summary.id.clone(),
                    event: LiveEvent::Message(Message::from(&row)),
                };
                self.handle(&event).await;
            }
            self.rep_event(&RepEvent::Conversation(summary)).await;
        }
        if let Some(company) = company {
            let now = chrono::Utc::now();
            for r in &reps {
                let online = effective_online(r, &company, now);
                self.rep_event(&RepEvent::Presence {
                    user_id: r.crm_user_id,
                    online,
                })
                .await;
            }
        }
        for (conversation_id, expires_at) in standing {
            self.rep_event(&RepEvent::Offer {
                conversation_id,
                expires_at,
                to: user,
            })
            .await;
        }
    }

    fn push(&mut self, name: &str, data: serde_json::Value) {
        self.pending
            .push_back(Bytes::from(format!("event: {name}\ndata: {data}\n\n")));
    }

    fn visible(&self, seen: &Seen) -> bool {
        may_see(
            &seen.0,
            seen.1.as_deref(),
            seen.2.as_deref(),
            &self.rep,
            &self.teams,
            self.see_all,
        )
    }

    /// What a summary says of who may see the chat.
    fn seen_of(&self, summary: &Summary) -> Seen {
        let assignee = match &summary.assignee {
            Some(a) if a.user_id == self.rep.crm_user_id => Some(self.rep.id.clone()),
            // Another rep: any row id other than this rep's.
            Some(a) => Some(format!("crm:{}", a.user_id)),
            None => None,
        };
        (summary.status.clone(), assignee, summary.team.clone())
    }

    /// May this rep see the chat? Read once from the database, then kept up to date by
    /// the chat's summaries.
    async fn sees(&mut self, conversation_id: &str) -> bool {
        if let Some(seen) = self.known.get(conversation_id) {
            return self.visible(seen);
        }
        let (company, id) = (self.company_id.clone(), conversation_id.to_owned());
        let conv = self
            .chat()
            .db
            .run(move |conn| convs::get(conn, &company, &id))
            .await;
        match conv {
            Ok(Some(c)) => {
                let seen = (c.status, c.assigned_to, c.team);
                let visible = self.visible(&seen);
                self.known.insert(conversation_id.to_owned(), seen);
                visible
            }
            _ => false,
        }
    }

    async fn handle(&mut self, event: &CompanyEvent) {
        match event {
            CompanyEvent::Conversation {
                conversation_id,
                event: LiveEvent::Message(m),
            } => {
                let sent = self.sent.get(conversation_id).copied().unwrap_or(0);
                if m.seq > sent && self.sees(conversation_id).await {
                    self.sent.insert(conversation_id.clone(), m.seq);
                    self.push(
                        "message",
                        json!({ "conversation_id": conversation_id, "message": m }),
                    );
                }
            }
            CompanyEvent::Conversation { .. } => {}
            CompanyEvent::Rep { event } => self.rep_event(event).await,
            CompanyEvent::Resync { .. } => {}
        }
    }

    async fn rep_event(&mut self, event: &RepEvent) {
        let me = self.rep.crm_user_id;
        match event {
            RepEvent::Conversation(summary) => {
                let seen = self.seen_of(summary);
                let visible = self.visible(&seen);
                // The folders count chats by status, assignee and team: a chat that kept
                // all three (a new message) leaves the counts as they were.
                let moved = self.known.insert(summary.id.clone(), seen.clone()) != Some(seen);
                if visible {
                    self.push("conversation", json!(summary));
                } else {
                    self.push("removed", json!({ "id": summary.id }));
                }
                if !moved {
                    return;
                }
                let with_all = self.rep.admin() || self.see_all;
                let rep = self.rep.clone();
                let teams = (!rep.admin()).then(|| self.teams.clone());
                if let Ok(counts) = self
                    .live
                    .counts(&self.company_id, &rep, teams, with_all)
                    .await
                {
                    self.push("counts", json!(counts));
                }
            }
            RepEvent::Typing {
                conversation_id,
                typing,
            } => {
                if self.sees(conversation_id).await {
                    self.push(
                        "typing",
                        json!({ "conversation_id": conversation_id, "typing": typing }),
                    );
                }
            }
            RepEvent::Presence { user_id, online } => {
                self.push("presence", json!({ "user_id": user_id, "online": online }));
            }
            RepEvent::Notify {
                kind,
                title,
                body,
                conversation_id,
                to,
            } => {
                if to.contains(&me) {
                    self.push(
                        "notify",
                        json!({ "kind": kind, "title": title, "body": body, "conversation_id": conversation_id }),
                    );
                }
            }
            RepEvent::Offer {
                conversation_id,
                expires_at,
                to,
            } => {
                if *to == me {
                    self.push(
                        "offer",
                        json!({ "conversation_id": conversation_id, "expires_at": expires_at }),
                    );
                }
            }
            RepEvent::Crm { conversation_id } => {
                if self.sees(conversation_id).await {
                    self.push("crm", json!({ "conversation_id": conversation_id }));
                }
            }
        }
    }
}
