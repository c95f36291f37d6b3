//! Live chat for reps: presence, the inbox's folders, assignment, replies, typing, close,
//! the side panel and its CRM records, notifications and the visitor's queue.
//!
//! Every change to a conversation runs as one turn in one write transaction
//! ([`actions`]) that announces it to the visitor and the company's reps on every node,
//! with a derived notice from which each node's [`announce`] works out what changed for
//! its reps (the chat's summary, notifications) and its waiting visitors (their place in
//! the queue). [`sweeper`] hands back the chats of reps who went away or left a visitor
//! unanswered.
//!
//! Presence lives in the database (`crm_users.online` is the inbox's switch,
//! `last_seen_at` the last sign of a connected inbox: its event stream refreshes it every
//! 10 s while open, the page's heartbeat every 10 s), so every node sees the same reps.

pub mod actions;
pub mod announce;
pub mod crm;
mod detail;
mod error;
mod rep;
pub mod sweeper;

use chrono::Utc;

pub use super::events::{RepEvent, RepRef, Summary};
pub use super::targeting::effective_online;
use super::turn::offers;

use super::Chat;
use super::message::Message;
use super::realtime::{Derived, LiveEvent};
use super::turn;
use crate::db::DbConn;
use crate::db::companies::{self, Company};
use crate::db::conversations::{self as convs, status};
use crate::db::live::{self, Counts, Rep};
use crate::db::summary::{self, Folder};
use crate::playbook::model::CaptureTarget;
use actions::Target;
use crm::{Panel, Record};
use detail::detail_of;
pub use detail::{Answer, Detail, PAGES_SHOWN, VisitorFacts};
pub use error::LiveError;
pub use rep::{Me, Notifications, RepInfo};
use rep::{me_of, notifications_of};

/// Longest rep message, as for visitors.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Most chats a folder lists.
const FOLDER_LIMIT: i64 = 200;

/// The live chat service; cheap to clone.
#[derive(Clone)]
pub struct Live {
    pub chat: Chat,
}

/// The rep and the company's settings, read at the start of a request.
struct Ctx {
    rep: Rep,
    company: Company,
    /// The names of the rep's teams.
    teams: Vec<String>,
}

impl Ctx {
    fn viewer(&self) -> actions::Viewer<'_> {
        actions::Viewer {
            rep: &self.rep,
            teams: &self.teams,
            see_all: self.see_all(),
        }
    }

    /// May the rep see this conversation?
    fn sees(&self, conv: &convs::Conversation) -> bool {
        actions::may_see(
            &conv.status,
            conv.assigned_to.as_deref(),
            conv.team.as_deref(),
            &self.rep,
            &self.teams,
            self.see_all(),
        )
    }

    fn see_all(&self) -> bool {
        self.company.settings().live_chat.see_all_chats
    }

    fn limit(&self) -> i64 {
        i64::from(self.company.settings().live_chat.max_open_chats.max(1))
    }
}

fn ctx(conn: &mut DbConn, company_id: &str, crm_user_id: i64) -> Result<Ctx, LiveError> {
    let company = companies::by_id(conn, company_id)?.ok_or(LiveError::NotFound)?;
    let rep = live::rep(conn, company_id, crm_user_id)?.ok_or_else(|| {
        LiveError::Forbidden("your CRM user is not known to the app yet; reopen the inbox".into())
    })?;
    let teams = crate::db::teams::of_user(conn, company_id, crm_user_id)?;
    Ok(Ctx {
        rep,
        company,
        teams,
    })
}

impl Live {
    pub fn new(chat: Chat) -> Live {
        Live { chat }
    }

    pub async fn me(&self, company_id: &str, crm_user_id: i64) -> Result<Me, LiveError> {
        let company = company_id.to_owned();
        self.chat
            .db
            .run(move |conn| {
                let c = ctx(conn, &company, crm_user_id)?;
                Ok(me_of(&c.rep, &c.company, Utc::now()))
            })
            .await
    }

    /// Switch online or off; the effective presence. Switching off hands the rep's chats
    /// back to Unassigned.
    pub async fn set_presence(
        &self,
        company_id: &str,
        crm_user_id: i64,
        on: bool,
    ) -> Result<bool, LiveError> {
        let company = company_id.to_owned();
        let (rep, online) = self
            .chat
            .write_announced(move |conn, notices| {
                let now = Utc::now();
                live::set_switch(conn, &company, crm_user_id, on, now.timestamp_millis())?;
                let c = ctx(conn, &company, crm_user_id)?;
                let online = effective_online(&c.rep, &c.company, now);
                // Told now, so no node's sweep tells it again.
                live::announce_presence(conn, &c.rep.id, online)?;
                notices.rep(
                    &company,
                    RepEvent::Presence {
                        user_id: crm_user_id,
                        online,
                    },
                );
                // Who is online shapes every waiting visitor's expected wait.
                notices.derived(
                    &company,
                    Derived {
                        changes: Vec::new(),
                        queue: true,
                    },
                );
                Ok::<_, LiveError>((c.rep, online))
            })
            .await?;
        if !on {
            sweeper::give_back_all(&self.chat, company_id, &rep.id).await;
        }
        Ok(online)
    }

    /// A sign of life from the rep's inbox (heartbeat or open event stream); a rep who
    /// counts as online again by it is announced (once, by the request that recorded it).
    pub async fn touch(&self, company_id: &str, crm_user_id: i64) -> Result<(), LiveError> {
        let company = company_id.to_owned();
        self.chat
            .write_announced(move |conn, notices| {
                let now = Utc::now();
                let c = ctx(conn, &company, crm_user_id)?;
                let was = effective_online(&c.rep, &c.company, now);
                live::touch(conn, &company, crm_user_id, now.timestamp_millis())?;
                let c = ctx(conn, &company, crm_user_id)?;
                let online = effective_online(&c.rep, &c.company, now);
                if !was && online && live::announce_presence(conn, &c.rep.id, true)? {
                    notices.rep(
                        &company,
                        RepEvent::Presence {
                            user_id: crm_user_id,
                            online: true,
                        },
                    );
                }
                Ok::<_, LiveError>(())
            })
            .await
    }

    pub async fn set_notifications(
        &self,
        company_id: &str,
        crm_user_id: i64,
        n: Notifications,
    ) -> Result<Notifications, LiveError> {
        let company = company_id.to_owned();
        self.chat
            .db
            .run(move |conn| {
                if !live::set_notifications(
                    conn,
                    &company,
                    crm_user_id,
                    n.new_chat,
                    n.assigned,
                    n.message,
                )? {
                    return Err(LiveError::NotFound);
                }
                let c = ctx(conn, &company, crm_user_id)?;
                Ok(notifications_of(&c.rep))
            })
            .await
    }

    /// The company's reps with presence and open chats.
    pub async fn reps(
        &self,
        company_id: &str,
        crm_user_id: i64,
    ) -> Result<Vec<RepInfo>, LiveError> {
        let company = company_id.to_owned();
        self.chat
            .db
            .run(move |conn| {
                let c = ctx(conn, &company, crm_user_id)?;
                let open = live::open_chats(conn, &company)?;
                let now = Utc::now();
                Ok(live::reps(conn, &company)?
                    .into_iter()
                    .map(|r| RepInfo {
                        user_id: r.crm_user_id,
                        name: r.name.clone(),
                        online: effective_online(&r, &c.company, now),
                        open_chats: open.get(&r.id).copied().unwrap_or(0),
                    })
                    .collect())
            })
            .await
    }

    /// A folder's chats and the counts of every folder the rep has.
    pub async fn list(
        &self,
        company_id: &str,
        crm_user_id: i64,
        folder: Folder,
    ) -> Result<(Vec<Summary>, Counts), LiveError> {
        let company = company_id.to_owned();
        self.chat
            .db
            .run(move |conn| {
                let c = ctx(conn, &company, crm_user_id)?;
                let with_all = c.rep.admin() || c.see_all();
                if folder == Folder::All && !with_all {
                    return Err(LiveError::Forbidden("only admins see every chat".into()));
                }
                let teams = (!c.rep.admin()).then_some(c.teams.as_slice());
                let chats =
                    summary::folder(conn, &company, folder, &c.rep.id, teams, FOLDER_LIMIT)?;
                let counts = live::counts(conn, &company, &c.rep.id, teams, with_all)?;
                Ok((chats, counts))
            })
            .await
    }

    /// The counts of a rep's folders; `teams`: the rep's teams (none for an admin, who
    /// sees every waiting chat).
    pub async fn counts(
        &self,
        company_id: &str,
        rep: &Rep,
        teams: Option<Vec<String>>,
        with_all: bool,
    ) -> Result<Counts, LiveError> {
        let (company, rep_id) = (company_id.to_owned(), rep.id.clone());
        self.chat
            .db
            .run(move |conn| {
                Ok(live::counts(
                    conn,
                    &company,
                    &rep_id,
                    teams.as_deref(),
                    with_all,
                )?)
            })
            .await
    }

    /// One chat with its transcript, panel and CRM records.
    pub async fn detail(
        &self,
        company_id: &str,
        crm_user_id: i64,
        id: &str,
    ) -> Result<Detail, LiveError> {
        let (company, id) = (company_id.to_owned(), id.to_owned());
        let versions = self.chat.versions.clone();
        self.chat
            .db
            .run(move |conn| {
                let c = ctx(conn, &company, crm_user_id)?;
                let conv = convs::get(conn, &company, &id)?.ok_or(LiveError::NotFound)?;
                if !c.sees(&conv) {
                    return Err(LiveError::NotFound);
                }
                detail_of(conn, &versions, &c.company, &conv)
            })
            .await
    }

    /// Assign, reassign or hand back a chat; its new summary.
    pub async fn assign(
        &self,
        company_id: &str,
        crm_user_id: i64,
        id: &str,
        target: Target,
    ) -> Result<Summary, LiveError> {
        self.act(company_id, crm_user_id, id, move |turn, c| {
            actions::assign(turn, &c.viewer(), target, c.limit())
        })
        .await?;
        self.summary(company_id, id).await
    }

    /// Decline the chat offered to the rep: it is offered to the next rep; its summary.
    pub async fn decline(
        &self,
        company_id: &str,
        crm_user_id: i64,
        id: &str,
    ) -> Result<Summary, LiveError> {
        self.act(company_id, crm_user_id, id, move |turn, c| {
            actions::check_visible(turn, &c.viewer())?;
            match offers::decline(turn, &c.rep)? {
                true => Ok(()),
                false => Err(LiveError::NotOffered),
            }
        })
        .await?;
        self.summary(company_id, id).await
    }

    /// A rep's reply; the stored message.
    pub async fn reply(
        &self,
        company_id: &str,
        crm_user_id: i64,
        id: &str,
        text: String,
    ) -> Result<Message, LiveError> {
        let outcome = self
            .act(company_id, crm_user_id, id, move |turn, c| {
                actions::reply(turn, &c.viewer(), text, c.limit())
            })
            .await?;
        outcome
            .messages
            .last()
            .map(Message::from)
            .ok_or(LiveError::NotFound)
    }

    /// Close a chat; its new summary.
    pub async fn close(
        &self,
        company_id: &str,
        crm_user_id: i64,
        id: &str,
    ) -> Result<Summary, LiveError> {
        self.act(company_id, crm_user_id, id, move |turn, c| {
            actions::close(turn, &c.viewer())
        })
        .await?;
        self.summary(company_id, id).await
    }

    /// The rep is typing in a chat (or stopped): the visitor sees it.
    pub async fn typing(
        &self,
        company_id: &str,
        crm_user_id: i64,
        id: &str,
        typing: bool,
    ) -> Result<(), LiveError> {
        let (company, conv_id) = (company_id.to_owned(), id.to_owned());
        let rep = self
            .chat
            .db
            .run(move |conn| {
                let c = ctx(conn, &company, crm_user_id)?;
                let conv = convs::get(conn, &company, &conv_id)?.ok_or(LiveError::NotFound)?;
                if !c.sees(&conv) {
                    return Err(LiveError::NotFound);
                }
                Ok(c.rep)
            })
            .await?;
        self.chat.hub.publish(
            company_id,
            id,
            LiveEvent::Typing {
                author: "rep".into(),
                name: Some(rep.name),
                typing,
            },
        );
        Ok(())
    }

    /// The visitor is typing (or stopped): the reps who may see the chat are told.
    pub async fn visitor_typing(
        &self,
        company_id: &str,
        visitor_id: &str,
        typing: bool,
    ) -> Result<(), LiveError> {
        let (company, visitor) = (company_id.to_owned(), visitor_id.to_owned());
        let conv = self
            .chat
            .db
            .run(move |conn| Ok::<_, LiveError>(convs::open_for_visitor(conn, &company, &visitor)?))
            .await?;
        if let Some(conv) = conv
            && (conv.status == status::UNASSIGNED || conv.status == status::ASSIGNED)
        {
            self.chat.hub.publish_rep(
                company_id,
                RepEvent::Typing {
                    conversation_id: conv.id,
                    typing,
                },
            );
        }
        Ok(())
    }

    /// Keep the side panel as edited; the stored panel.
    pub async fn save_panel(
        &self,
        company_id: &str,
        crm_user_id: i64,
        id: &str,
        panel: Panel,
    ) -> Result<Panel, LiveError> {
        let panel = panel.checked()?;
        let (company, conv_id) = (company_id.to_owned(), id.to_owned());
        self.chat
            .db
            .write(move |conn| {
                let c = ctx(conn, &company, crm_user_id)?;
                let conv = convs::get(conn, &company, &conv_id)?.ok_or(LiveError::NotFound)?;
                if !c.sees(&conv) {
                    return Err(LiveError::NotFound);
                }
                crm::save_panel(conn, &company, &conv.id, &panel)?;
                Ok(panel)
            })
            .await
    }

    /// Create a lead or deal from the panel (through the outbox: the caller wakes the
    /// worker); the new record.
    pub async fn create_record(
        &self,
        company_id: &str,
        crm_user_id: i64,
        id: &str,
        target: CaptureTarget,
        panel: Panel,
    ) -> Result<Record, LiveError> {
        let panel = panel.checked()?;
        let (company, conv_id) = (company_id.to_owned(), id.to_owned());
        let record = self
            .chat
            .db
            .write(move |conn| {
                let c = ctx(conn, &company, crm_user_id)?;
                let conv = convs::get(conn, &company, &conv_id)?.ok_or(LiveError::NotFound)?;
                if !c.sees(&conv) {
                    return Err(LiveError::NotFound);
                }
                crm::save_panel(conn, &company, &conv.id, &panel)?;
                crm::create_record(conn, &conv, target, &panel, crate::db::now_ms())
            })
            .await?;
        Ok(record)
    }

    async fn summary(&self, company_id: &str, id: &str) -> Result<Summary, LiveError> {
        let (company, id) = (company_id.to_owned(), id.to_owned());
        self.chat
            .db
            .run(move |conn| summary::summary(conn, &company, &id)?.ok_or(LiveError::NotFound))
            .await
    }

    /// Run a rep's action on a chat in one transaction that announces what it produced.
    async fn act<F>(
        &self,
        company_id: &str,
        crm_user_id: i64,
        id: &str,
        f: F,
    ) -> Result<turn::Outcome, LiveError>
    where
        F: FnOnce(&mut turn::Turn<'_>, &Ctx) -> Result<(), LiveError> + Send + 'static,
    {
        let (company, conv_id) = (company_id.to_owned(), id.to_owned());
        let versions = self.chat.versions.clone();
        let (outcome, ()) = self
            .chat
            .write_announced(move |conn, notices| {
                let c = ctx(conn, &company, crm_user_id)?;
                let done = turn::locked(conn, &versions, &company, &conv_id, Utc::now(), |t| {
                    f(t, &c)
                })?;
                done.0.announce(notices);
                Ok::<_, LiveError>(done)
            })
            .await?;
        Ok(outcome)
    }
}
