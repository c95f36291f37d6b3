//! `GET /api/widget/events`: the visitor's open conversation as Server-Sent Events.
//!
//! The stream subscribes to the hub first, then sends what the database holds after the
//! resume point (`Last-Event-ID`, else `?after=`, else the whole history), then live
//! events, skipping any message already sent. A subscriber that falls behind (or whose
//! node lost its link to the others) re-reads from the database the messages it missed,
//! in `seq` order, then the conversation's status and rep when they changed meanwhile, and
//! a waiting visitor hears their place again. A comment line every 20 s keeps proxies from
//! closing an idle connection.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use tokio::sync::broadcast::error::RecvError;

use super::auth::VisitorAuth;
use crate::chat::Chat;
use crate::chat::live::announce;
use crate::chat::message::Message;
use crate::chat::realtime::{LiveEvent, Subscription};
use crate::chat::session::{self, HISTORY_LIMIT};
use crate::db::conversations as convs;
use crate::db::live;
use crate::web::shutdown::{RECONNECT_HINT, Stopping};
use crate::web::{AppError, AppState};

const KEEPALIVE: Duration = Duration::from_secs(20);

#[derive(serde::Deserialize)]
struct EventsQuery {
    #[serde(default)]
    after: Option<i64>,
}

/// Real-time events of the visitor's open conversation.
#[utoipa::path(
    get,
    path = "/api/widget/events",
    tag = "widget",
    params(
        ("token" = String, Query, description = "The visitor token (EventSource cannot set headers)"),
        ("after" = Option<i64>, Query, description = "Resume after this seq when there is no Last-Event-ID"),
    ),
    responses(
        (status = 200, description = "text/event-stream: events `message` (id: seq), `typing` {name, typing}, `status` {status, outcome}, `redirect`, `agent` {name, avatar_url}, `queue` {position, expected_wait_seconds}", content_type = "text/event-stream", body = String),
        (status = 401, body = super::types::ErrorBody),
        (status = 404, description = "No open (or just closed) conversation", body = super::types::ErrorBody),
    )
)]
#[get("/events")]
pub async fn events(
    state: web::Data<AppState>,
    who: VisitorAuth,
    req: HttpRequest,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, AppError> {
    let last_event_id = req
        .headers()
        .get("Last-Event-ID")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let after = last_event_id.or(query.after).unwrap_or(0).max(0);
    let company = who.company_id.clone();
    let conversation = state
        .db
        .run(move |conn| {
            let now = crate::db::now_ms();
            // A chat that just ended still answers, so the widget can show its end.
            Ok::<_, AppError>(convs::current_for_visitor(
                conn,
                &company,
                &who.visitor_id,
                now - session::RECENTLY_CLOSED_MS,
            )?)
        })
        .await?;
    let conversation = conversation.ok_or_else(AppError::not_found)?;
    // Subscribe before reading the backlog, so nothing falls between the two.
    let rx = state.chat.hub.subscribe(&conversation.id);
    if conversation.status == convs::status::UNASSIGNED {
        // A waiting visitor (a new page, a reconnection) hears their place soon.
        let (chat, company, id) = (
            state.chat.clone(),
            conversation.company_id.clone(),
            conversation.id.clone(),
        );
        tokio::spawn(async move { announce::watching(&chat, &company, &id).await });
    }
    let mut stream = Stream {
        rx,
        chat: state.chat.clone(),
        company_id: conversation.company_id,
        conversation_id: conversation.id,
        last_seq: after,
        status: (conversation.status, conversation.outcome),
        assigned_to: conversation.assigned_to,
        pending: VecDeque::from([Bytes::from_static(b"retry: 3000\n\n")]),
        keepalive: tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE),
        stopping: state.shutdown.watch(),
        ended: false,
        _open: crate::metrics::OpenStream::new("visitor"),
    };
    stream.reload(false).await?;
    let body = futures_util::stream::unfold(stream, |mut s| async move {
        let next = s.next().await?;
        Some((Ok::<_, Infallible>(next), s))
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header(header::CacheControl(vec![header::CacheDirective::NoCache]))
        // Keep the compression middleware (and proxies) from buffering the stream.
        .insert_header(header::ContentEncoding::Identity)
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

/// One visitor's event stream.
struct Stream {
    rx: Subscription,
    chat: Chat,
    company_id: String,
    conversation_id: String,
    /// The newest message sent.
    last_seq: i64,
    /// The status and outcome the visitor was last told.
    status: (String, Option<String>),
    /// The rep (row id) who had the chat when the visitor was last told.
    assigned_to: Option<String>,
    pending: VecDeque<Bytes>,
    keepalive: tokio::time::Interval,
    /// Ends the stream when the node stops.
    stopping: Stopping,
    ended: bool,
    _open: crate::metrics::OpenStream,
}

impl Stream {
    /// The next chunk to send; `None` ends the stream. The rare re-read is boxed, so the
    /// future an idle stream holds stays small.
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
                    Ok(event) if matches!(*event, LiveEvent::Resync) => {
                        if Box::pin(self.reload(true)).await.is_err() {
                            return None;
                        }
                    }
                    Ok(event) => {
                        if let Some(seq) = event.seq() {
                            if seq <= self.last_seq {
                                continue;
                            }
                            self.last_seq = seq;
                        }
                        if let LiveEvent::Status { status, outcome } = &*event {
                            self.status = (status.clone(), outcome.clone());
                        }
                        return Some(frame(&event));
                    }
                    Err(RecvError::Lagged(_)) => {
                        if Box::pin(self.reload(true)).await.is_err() {
                            return None;
                        }
                    }
                    Err(RecvError::Closed) => return None,
                },
                _ = self.keepalive.tick() => return Some(Bytes::from_static(b": ping\n\n")),
            }
        }
    }

    /// Queue the stored messages after `last_seq`; `again` (events were missed): then the
    /// conversation's status and rep when they changed meanwhile, and a waiting visitor's
    /// place.
    async fn reload(&mut self, again: bool) -> Result<(), AppError> {
        let (company, conversation, after) = (
            self.company_id.clone(),
            self.conversation_id.clone(),
            self.last_seq,
        );
        let (rows, now) = self
            .chat
            .db
            .run(move |conn| {
                let rows =
                    convs::messages_after(conn, &company, &conversation, after, HISTORY_LIMIT)?;
                let now = match again {
                    false => None,
                    true => match convs::get(conn, &company, &conversation)? {
                        Some(c) => {
                            let rep = match &c.assigned_to {
                                Some(id) => live::rep_by_row(conn, &company, id)?,
                                None => None,
                            };
                            Some((c, rep))
                        }
                        None => None,
                    },
                };
                Ok::<_, AppError>((rows, now))
            })
            .await?;
        for row in &rows {
            self.last_seq = self.last_seq.max(row.seq);
            self.pending
                .push_back(frame(&LiveEvent::Message(Message::from(row))));
        }
        let Some((conv, rep)) = now else {
            return Ok(());
        };
        if conv.assigned_to != self.assigned_to {
            self.assigned_to = conv.assigned_to.clone();
            let (name, avatar_url) = match rep {
                Some(r) if conv.status == convs::status::ASSIGNED => (Some(r.name), r.icon_url),
                _ => (None, None),
            };
            self.pending
                .push_back(frame(&LiveEvent::Agent { name, avatar_url }));
        }
        let status = (conv.status.clone(), conv.outcome.clone());
        if status != self.status {
            self.status = status.clone();
            self.pending.push_back(frame(&LiveEvent::Status {
                status: status.0,
                outcome: status.1,
            }));
        }
        if conv.status == convs::status::UNASSIGNED {
            let (chat, company, id) = (self.chat.clone(), conv.company_id, conv.id);
            tokio::spawn(async move { announce::watching(&chat, &company, &id).await });
        }
        Ok(())
    }
}

/// One event in the wire format: `id:` (messages), `event:`, `data:` (one line of JSON).
fn frame(event: &LiveEvent) -> Bytes {
    let mut out = String::new();
    if let Some(seq) = event.seq() {
        out.push_str(&format!("id: {seq}\n"));
    }
    out.push_str(&format!(
        "event: {}\ndata: {}\n\n",
        event.name(),
        event.data()
    ));
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_id_event_and_one_line_of_data() {
        let typing = LiveEvent::Typing {
            author: "bot".into(),
            name: None,
            typing: true,
        };
        assert_eq!(
            frame(&typing),
            Bytes::from("event: typing\ndata: {\"author\":\"bot\",\"typing\":true}\n\n")
        );
        let message = LiveEvent::Message(Message {
            id: "m".into(),
            seq: 7,
            author: "visitor".into(),
            author_name: None,
            text: "two\nlines <b>".into(),
            buttons: vec![],
            input: None,
            placeholder: None,
            redirect: None,
            created_at: 1,
        });
        let text = String::from_utf8(frame(&message).to_vec()).unwrap();
        assert!(text.starts_with("id: 7\nevent: message\ndata: {"), "{text}");
        assert_eq!(
            text.matches('\n').count(),
            4,
            "newlines in the text stay escaped"
        );
    }
}
