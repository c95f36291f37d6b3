//! Automatic assignment (the company's `live_chat.auto_assign`): a waiting chat is offered
//! to one online rep at a time, who accepts it (assigns it to themself) or declines it
//! within `live_chat.offer_seconds`.
//!
//! - **Who.** The online reps under their open-chat limit who were not offered this chat
//!   before (of a chat handed to a team: its members), with the fewest open chats (offers standing to them count too); on a tie the
//!   rep assigned least recently (never before first), then the lowest CRM user id.
//! - **Durable and multi-node.** The offer is a row (`db::offers`) and its expiry a timer of
//!   kind `live_chat_offer` in `timers`, both written in the turn that makes the offer, under
//!   the conversation's lock. The timer worker fires the expiry as a turn under the same
//!   lock ([`lapse`]), so an accept, a decline and an expiry racing each other happen one
//!   after the other and only the first counts: whatever changed the offer cancelled its
//!   timer, and an expiry whose due time no longer matches the offer does nothing.
//! - **Lapse or decline** puts the rep on the chat's skip list and offers the chat to the
//!   next rep in the same turn. With nobody left the chat simply waits in Unassigned for
//!   everyone; any later turn of the chat (a visitor message) looks again, for reps who came
//!   online since. A rep who hands a chat back is skipped for it too.
//! - Every turn ends in [`settle`], which keeps the offer in step with the chat's status: a
//!   chat that stops waiting (taken, closed, missed) has its offer withdrawn.

use chrono::{DateTime, Utc};

use super::Turn;
use crate::chat::ChatError;
use crate::chat::targeting::effective_online;
use crate::db::companies::Company;
use crate::db::conversations::status;
use crate::db::live::{self, Rep};
use crate::db::offers::{self as store, Offer};
use crate::db::{DbConn, DbError, teams, timers};
use crate::playbook::effect::TimerKind;

const KIND: TimerKind = TimerKind::LiveChatOffer;

/// An offer made in a turn, for the offered rep's inbox once the turn committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Made {
    /// The CRM user id of the rep.
    pub to: i64,
    /// Unix ms.
    pub expires_at: i64,
}

/// At the end of every turn: withdraw the offer of a chat that stopped waiting, and offer
/// a waiting chat that is offered to nobody to the next rep.
pub(in crate::chat) fn settle(turn: &mut Turn<'_>) -> Result<(), ChatError> {
    let (was_status, was_rep) = turn.before.clone();
    let (company_id, conv_id) = (turn.conv.company_id.clone(), turn.conv.id.clone());
    if turn.conv.status != status::UNASSIGNED {
        if was_status == status::UNASSIGNED {
            match turn.shared.as_deref_mut().filter(|_| turn.gather) {
                Some(shared) => shared.gathered.withdrawn.push(conv_id),
                None => {
                    timers::cancel(turn.conn, &company_id, &conv_id, KIND.as_str())?;
                    store::clear(turn.conn, &company_id, &conv_id)?;
                }
            }
        }
        return Ok(());
    }
    if !may_offer(turn)? {
        return Ok(());
    }
    let company = turn.company()?;
    let mut offer = store::get(turn.conn, &company_id, &conv_id)?.unwrap_or_default();
    let handed_back = match was_rep {
        Some(rep) if was_status == status::ASSIGNED && !offer.skipped.contains(&rep) => {
            offer.skipped.push(rep);
            true
        }
        _ => false,
    };
    if offer.offered_to.is_some() {
        return Ok(());
    }
    let now = turn.now;
    let team = turn.conv.team.clone();
    let next = candidate(turn.conn, &company, team.as_deref(), &offer.skipped, now)?;
    let Some(rep) = next else {
        if handed_back {
            store::put(
                turn.conn,
                &company_id,
                &conv_id,
                &offer,
                now.timestamp_millis(),
            )?;
        }
        return Ok(());
    };
    let now_ms = now.timestamp_millis();
    let seconds = i64::from(company.settings().live_chat.offer_seconds.max(1));
    let expires_at = now_ms + seconds * 1000;
    offer.offered_to = Some(rep.id.clone());
    offer.expires_at = Some(expires_at);
    store::put(turn.conn, &company_id, &conv_id, &offer, now_ms)?;
    // Added, not re-armed: when an expiry makes this offer, its own timer is still armed
    // until the worker marks it fired in this transaction.
    let card = turn.flow.state.at.clone().unwrap_or_default();
    timers::add(
        turn.conn,
        &company_id,
        &conv_id,
        KIND.as_str(),
        &card,
        expires_at,
        now_ms,
    )?;
    turn.out.armed = Some(turn.out.armed.map_or(expires_at, |a| a.min(expires_at)));
    turn.out.offer = Some(Made {
        to: rep.crm_user_id,
        expires_at,
    });
    Ok(())
}

/// Does [`settle`] look for a rep to offer the chat to (and write the offer's rows)? For a
/// chat waiting in Unassigned when the company assigns automatically.
pub(in crate::chat) fn may_offer(turn: &mut Turn<'_>) -> Result<bool, ChatError> {
    Ok(turn.conv.status == status::UNASSIGNED && turn.company()?.settings().live_chat.auto_assign)
}

/// What [`settle`] does for a chat that stopped waiting, for several conversations at
/// once: their offers' timers cancelled and their offers forgotten, in two statements.
pub(in crate::chat) fn withdraw_many(
    conn: &mut DbConn,
    conversation_ids: &[String],
) -> Result<(), DbError> {
    timers::cancel_many(conn, conversation_ids, KIND.as_str())?;
    store::clear_many(conn, conversation_ids)
}

/// The offer timer due at `due_at` fired: the rep it was for let it lapse. Nothing when
/// the offer changed meanwhile. The turn's [`settle`] offers the chat to the next rep.
pub(in crate::chat) fn lapse(turn: &mut Turn<'_>, due_at: i64) -> Result<(), ChatError> {
    if turn.conv.status != status::UNASSIGNED {
        return Ok(());
    }
    let (company_id, conv_id) = (turn.conv.company_id.clone(), turn.conv.id.clone());
    let Some(mut offer) = store::get(turn.conn, &company_id, &conv_id)? else {
        return Ok(());
    };
    if offer.expires_at != Some(due_at) {
        return Ok(());
    }
    skip_current(&mut offer);
    store::put(turn.conn, &company_id, &conv_id, &offer, turn.now_ms())?;
    Ok(())
}

/// `rep` declines the chat offered to them; it goes to the next rep at once. False when
/// the chat is not offered to them.
pub(in crate::chat) fn decline(turn: &mut Turn<'_>, rep: &Rep) -> Result<bool, ChatError> {
    if turn.conv.status != status::UNASSIGNED {
        return Ok(false);
    }
    let (company_id, conv_id) = (turn.conv.company_id.clone(), turn.conv.id.clone());
    let mut offer = store::get(turn.conn, &company_id, &conv_id)?.unwrap_or_default();
    if offer.offered_to.as_deref() != Some(rep.id.as_str()) {
        return Ok(false);
    }
    skip_current(&mut offer);
    store::put(turn.conn, &company_id, &conv_id, &offer, turn.now_ms())?;
    timers::cancel(turn.conn, &company_id, &conv_id, KIND.as_str())?;
    Ok(true)
}

fn skip_current(offer: &mut Offer) {
    if let Some(rep) = offer.offered_to.take()
        && !offer.skipped.contains(&rep)
    {
        offer.skipped.push(rep);
    }
    offer.expires_at = None;
}

/// The rep to offer a chat to next, if any (see the module documentation).
fn candidate(
    conn: &mut DbConn,
    company: &Company,
    team: Option<&str>,
    skipped: &[String],
    now: DateTime<Utc>,
) -> Result<Option<Rep>, DbError> {
    let members = match team {
        Some(team) => Some(teams::members_of(conn, &company.id, &[team.to_owned()])?),
        None => None,
    };
    let limit = i64::from(company.settings().live_chat.max_open_chats.max(1));
    let open = live::open_chats(conn, &company.id)?;
    let pending = store::pending(conn, &company.id)?;
    Ok(live::reps(conn, &company.id)?
        .into_iter()
        .filter(|r| !skipped.contains(&r.id) && effective_online(r, company, now))
        .filter(|r| members.as_ref().is_none_or(|m| m.contains(&r.crm_user_id)))
        .filter_map(|r| {
            let open = open.get(&r.id).copied().unwrap_or(0);
            let load = open + pending.get(&r.id).copied().unwrap_or(0);
            (open < limit).then_some((load, r))
        })
        .min_by_key(|(load, r)| (*load, r.last_assigned_at.unwrap_or(i64::MIN), r.crm_user_id))
        .map(|(_, r)| r))
}
