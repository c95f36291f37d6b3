//! What a rep does to a conversation, each inside the transaction of one turn
//! ([`turn::locked`]): assign (to themself, to another rep, back to Unassigned), reply,
//! close. The conversation row is locked first, so of two reps pressing "Assign to me" at
//! once the second sees the first one's assignment; assigning feeds the engine
//! `RepJoined`, which cancels the live chat wait timer in the same transaction, so exactly
//! one of the assignment and the timer's offline branch happens.

use super::LiveError;
use crate::chat::texts;
use crate::chat::turn::Turn;
use crate::db::analytics;
use crate::db::conversations::{NewMessage, Payload, author, status};
use crate::db::live::{self, Rep};
use crate::db::timers;
use crate::playbook::effect::TimerKind;
use crate::playbook::model::Language;
use crate::playbook::{Event, Phase};

use crate::chat::realtime::LiveEvent;

/// Who gets the chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The rep acting.
    Me,
    /// A rep by CRM user id.
    Rep(i64),
    /// Back to Unassigned.
    Nobody,
}

/// May `rep` see this conversation? Chats assigned to another rep are hidden from reps
/// (not from admins, nor when the company shows every chat to every rep); a waiting chat
/// handed to a team only from the reps outside it (`teams`: the rep's teams); chats still
/// with the bot are not in the inbox at all.
pub fn may_see(
    turn_status: &str,
    assigned_to: Option<&str>,
    team: Option<&str>,
    rep: &Rep,
    teams: &[String],
    see_all: bool,
) -> bool {
    match turn_status {
        status::BOT => false,
        status::ASSIGNED => rep.admin() || see_all || assigned_to == Some(rep.id.as_str()),
        status::UNASSIGNED => in_team(team, rep, teams),
        _ => true,
    }
}

/// May `rep` (of `teams`) see a waiting chat handed to `team`? Its members and admins may.
pub fn in_team(team: Option<&str>, rep: &Rep, teams: &[String]) -> bool {
    rep.admin() || team.is_none_or(|t| teams.iter().any(|x| x == t))
}

/// The rep acting and what they may see.
pub struct Viewer<'a> {
    pub rep: &'a Rep,
    /// The names of the rep's teams.
    pub teams: &'a [String],
    /// The company shows every chat to every rep.
    pub see_all: bool,
}

/// 404 unless the rep may see the turn's conversation.
pub(in crate::chat) fn check_visible(
    turn: &Turn<'_>,
    viewer: &Viewer<'_>,
) -> Result<(), LiveError> {
    if may_see(
        &turn.conv.status,
        turn.conv.assigned_to.as_deref(),
        turn.conv.team.as_deref(),
        viewer.rep,
        viewer.teams,
        viewer.see_all,
    ) {
        Ok(())
    } else {
        Err(LiveError::NotFound)
    }
}

/// The language of the conversation's playbook (English without one).
fn language(turn: &mut Turn<'_>) -> Result<Language, LiveError> {
    Ok(turn
        .playbook()?
        .map(|p| p.document.language)
        .unwrap_or(Language::En))
}

fn system(turn: &mut Turn<'_>, text: String) -> Result<(), LiveError> {
    turn.append(NewMessage {
        author: author::SYSTEM,
        body: text,
        ..NewMessage::default()
    })?;
    Ok(())
}

/// Give the chat to `target`. `limit`: the most open chats a rep may have.
pub(in crate::chat) fn assign(
    turn: &mut Turn<'_>,
    viewer: &Viewer<'_>,
    target: Target,
    limit: i64,
) -> Result<(), LiveError> {
    let (actor, see_all) = (viewer.rep, viewer.see_all);
    let company = turn.conv.company_id.clone();
    match turn.conv.status.as_str() {
        status::CLOSED => return Err(LiveError::Closed),
        status::BOT => return Err(LiveError::NotFound),
        status::UNASSIGNED if !in_team(turn.conv.team.as_deref(), actor, viewer.teams) => {
            return Err(LiveError::NotFound);
        }
        _ => {}
    }
    let current = if turn.conv.status == status::ASSIGNED {
        turn.conv.assigned_to.clone()
    } else {
        None
    };
    // A chat another rep has: only an admin (or anyone, when every rep sees every chat)
    // may hand it on. Everyone else learns who has it.
    if let Some(current) = &current
        && *current != actor.id
        && !(actor.admin() || see_all)
    {
        let holder = live::rep_by_row(turn.conn, &company, current)?;
        return Err(LiveError::AlreadyAssigned(holder.map(|r| r.as_ref())));
    }
    let rep = match target {
        Target::Me => Some(actor.clone()),
        Target::Rep(id) => Some(
            live::rep(turn.conn, &company, id)?
                .ok_or_else(|| LiveError::Invalid(format!("user_id: no rep {id} here")))?,
        ),
        Target::Nobody => None,
    };
    let now = turn.now_ms();
    let lang = language(turn)?;
    match rep {
        Some(rep) => {
            if current.as_deref() == Some(rep.id.as_str()) {
                return Ok(());
            }
            let open = live::open_chats_of(turn.conn, &company, &rep.id)?;
            if open >= limit {
                let who = if rep.id == actor.id {
                    "You have".to_owned()
                } else {
                    format!("{} has", rep.name)
                };
                return Err(LiveError::LimitReached(format!(
                    "{who} reached the limit of {limit} open chats. Close one first."
                )));
            }
            if turn.conv.status == status::UNASSIGNED {
                let waited = (now - turn.conv.waiting_since.unwrap_or(turn.conv.updated_at)).max(0);
                live::record_take(turn.conn, &company, &turn.conv.id, &rep.id, waited, now)?;
                // For the reports, with the visitor as they are now and the rep by the
                // CRM's user id (kept across an uninstall and a new install).
                let playbook = turn.playbook()?.map(|p| p.playbook_id.clone());
                turn.analytics.push((
                    analytics::kind::CHAT_TAKEN,
                    playbook,
                    Some(rep.crm_user_id.to_string()),
                    Some(waited),
                ));
            }
            turn.conv.status = status::ASSIGNED.to_owned();
            turn.conv.assigned_to = Some(rep.id.clone());
            turn.conv.assigned_at = Some(now);
            turn.conv.waiting_since = None;
            live::mark_assigned(turn.conn, &company, &rep.id, now)?;
            // The engine's part: the wait timer is cancelled, the bot stays quiet.
            turn.feed(&Event::RepJoined {
                rep_name: rep.name.clone(),
            })?;
            if turn.flow.state.phase != Phase::WithRep {
                // No playbook runs (an old chat): the bot stays quiet all the same.
                turn.flow.state.phase = Phase::WithRep;
            }
            timers::cancel(
                turn.conn,
                &company,
                &turn.conv.id,
                TimerKind::LiveChatWait.as_str(),
            )?;
            system(turn, texts::rep_joined(lang, &rep.name))?;
            turn.out.events.push(LiveEvent::Status {
                status: status::ASSIGNED.to_owned(),
                outcome: None,
            });
            turn.out.events.push(LiveEvent::Agent {
                name: Some(rep.name.clone()),
                avatar_url: rep.icon_url.clone(),
            });
            if rep.id != actor.id {
                turn.out.assigned_to_other = Some(rep.crm_user_id);
            }
        }
        None => {
            if current.is_none() {
                return Ok(());
            }
            unassign(turn, lang, now)?;
        }
    }
    Ok(())
}

/// Back to Unassigned (the rep handed it back, went offline or left the visitor waiting).
pub(in crate::chat) fn unassign(
    turn: &mut Turn<'_>,
    lang: Language,
    now: i64,
) -> Result<(), LiveError> {
    turn.conv.status = status::UNASSIGNED.to_owned();
    turn.conv.assigned_to = None;
    turn.conv.assigned_at = None;
    turn.conv.waiting_since = Some(now);
    system(turn, texts::someone_else(lang).to_owned())?;
    turn.out.events.push(LiveEvent::Status {
        status: status::UNASSIGNED.to_owned(),
        outcome: None,
    });
    turn.out.events.push(LiveEvent::Agent {
        name: None,
        avatar_url: None,
    });
    Ok(())
}

/// Return an assigned chat to Unassigned, if it still is assigned (to `rep_id` when
/// given). Used by the presence and unanswered-chat checks.
pub(in crate::chat) fn give_back(
    turn: &mut Turn<'_>,
    rep_id: Option<&str>,
) -> Result<bool, LiveError> {
    if turn.conv.status != status::ASSIGNED
        || rep_id.is_some_and(|r| turn.conv.assigned_to.as_deref() != Some(r))
    {
        return Ok(false);
    }
    let lang = language(turn)?;
    let now = turn.now_ms();
    unassign(turn, lang, now)?;
    Ok(true)
}

/// A rep's message. Replying to a waiting chat takes it first.
pub(in crate::chat) fn reply(
    turn: &mut Turn<'_>,
    viewer: &Viewer<'_>,
    text: String,
    limit: i64,
) -> Result<(), LiveError> {
    check_visible(turn, viewer)?;
    let actor = viewer.rep;
    match turn.conv.status.as_str() {
        status::CLOSED => return Err(LiveError::Closed),
        status::UNASSIGNED => assign(turn, viewer, Target::Me, limit)?,
        _ => {}
    }
    if turn.conv.assigned_to.as_deref() != Some(actor.id.as_str()) {
        let holder = match turn.conv.assigned_to.clone() {
            Some(id) => live::rep_by_row(turn.conn, &turn.conv.company_id, &id)?,
            None => None,
        };
        return Err(LiveError::AlreadyAssigned(holder.map(|r| r.as_ref())));
    }
    // The first words after a hand-off: the reports' first response time.
    if let Some((rep, handed_off)) = live::unanswered_take(turn.conn, &turn.conv.id)? {
        let playbook = turn.playbook()?.map(|p| p.playbook_id.clone());
        turn.analytics.push((
            analytics::kind::FIRST_RESPONSE,
            playbook,
            Some(rep.to_string()),
            Some((turn.now_ms() - handed_off).max(0)),
        ));
    }
    turn.append(NewMessage {
        author: author::REP,
        author_id: Some(actor.id.clone()),
        body: text,
        payload: Payload {
            author_name: Some(actor.name.clone()),
            ..Payload::default()
        },
    })?;
    Ok(())
}

/// Close the chat for good; a transcript note goes to every lead or deal made from it.
pub(in crate::chat) fn close(turn: &mut Turn<'_>, viewer: &Viewer<'_>) -> Result<(), LiveError> {
    check_visible(turn, viewer)?;
    let (actor, see_all) = (viewer.rep, viewer.see_all);
    if turn.conv.status == status::CLOSED {
        return Err(LiveError::Closed);
    }
    if turn.conv.status == status::ASSIGNED
        && turn.conv.assigned_to.as_deref() != Some(actor.id.as_str())
        && !(actor.admin() || see_all)
    {
        return Err(LiveError::NotFound);
    }
    let now = turn.now_ms();
    let company = turn.conv.company_id.clone();
    timers::cancel(
        turn.conn,
        &company,
        &turn.conv.id,
        TimerKind::LiveChatWait.as_str(),
    )?;
    if matches!(
        turn.flow.state.phase,
        Phase::AwaitingRep | Phase::AwaitingInput | Phase::AwaitingHttp
    ) {
        turn.flow.state.phase = Phase::Ended;
    }
    let lang = language(turn)?;
    system(turn, texts::chat_closed(lang).to_owned())?;
    turn.close();
    super::crm::transcripts_on_close(turn.conn, &company, &turn.conv.id, now)?;
    Ok(())
}
