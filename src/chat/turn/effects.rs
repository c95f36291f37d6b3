//! Carrying out an engine step's effects inside the turn's transaction.

use super::Turn;
use crate::chat::ChatError;
use crate::chat::realtime::LiveEvent;
use crate::chat::texts;
use crate::db::conversations::{NewMessage, Payload, author, outcome, status};
use crate::db::playbooks::Published;
use crate::db::{analytics, outbox, timers, visitors};
use crate::playbook::Effect;
use crate::playbook::effect::BotMessage;
use crate::playbook::model::{CardKind, TriggerOn};

/// Carry out `effects` of one step of `playbook`, in order.
pub(super) fn apply(
    turn: &mut Turn<'_>,
    playbook: &Published,
    effects: Vec<Effect>,
) -> Result<(), ChatError> {
    let handed_off = effects.iter().any(|e| matches!(e, Effect::HandOff { .. }));
    let playbook_id = Some(playbook.playbook_id.clone());
    let now = turn.now_ms();
    for effect in effects {
        match effect {
            Effect::Reached { card } => {
                turn.analytics.push((
                    analytics::kind::REACHED,
                    playbook_id.clone(),
                    Some(card),
                    None,
                ));
            }
            Effect::Say(message) => {
                if !handed_off && is_live_chat(playbook, &message.card) {
                    // A live chat card speaks without handing off: its offline message.
                    turn.analytics.push((
                        analytics::kind::CHAT_MISSED,
                        playbook_id.clone(),
                        Some(message.card.clone()),
                        None,
                    ));
                    if turn.conv.status == status::UNASSIGNED {
                        // Nobody took it in time: a missed chat, listed with the closed
                        // ones while its offline branch runs.
                        turn.conv.status = status::CLOSED.to_owned();
                        turn.conv.outcome = Some(outcome::MISSED.to_owned());
                        turn.conv.waiting_since = None;
                        turn.out.events.push(LiveEvent::Status {
                            status: status::CLOSED.to_owned(),
                            outcome: Some(outcome::MISSED.to_owned()),
                        });
                    }
                }
                turn.append(bot_message(message))?;
            }
            Effect::VarSet { path, value } => {
                learn_identity(turn, &path, &value)?;
                turn.set_var(path, value);
            }
            Effect::QueueCrm(write) => {
                let payload = serde_json::to_value(&*write)
                    .map_err(|e| crate::db::DbError::Corrupt(e.to_string()))?;
                outbox::enqueue(
                    turn.conn,
                    &turn.conv.company_id,
                    Some(&turn.conv.id),
                    outbox::Kind::Capture,
                    &payload,
                    now,
                )?;
                turn.out.queued_crm = true;
                turn.analytics.push((
                    analytics::kind::CONVERTED,
                    playbook_id.clone(),
                    Some(write.card.clone()),
                    None,
                ));
            }
            Effect::QueueEmail(email) => {
                let payload = serde_json::to_value(&email)
                    .map_err(|e| crate::db::DbError::Corrupt(e.to_string()))?;
                outbox::enqueue(
                    turn.conn,
                    &turn.conv.company_id,
                    Some(&turn.conv.id),
                    outbox::Kind::Email,
                    &payload,
                    now,
                )?;
            }
            Effect::ArmTimer { kind, card, due_at } => {
                let due_at = due_at.timestamp_millis();
                timers::arm(
                    turn.conn,
                    &turn.conv.company_id,
                    &turn.conv.id,
                    kind.as_str(),
                    &card,
                    due_at,
                    now,
                )?;
                turn.out.armed = Some(turn.out.armed.map_or(due_at, |a| a.min(due_at)));
            }
            Effect::CancelTimer { kind } => {
                timers::cancel(
                    turn.conn,
                    &turn.conv.company_id,
                    &turn.conv.id,
                    kind.as_str(),
                )?;
            }
            Effect::HandOff { card } => {
                turn.conv.team = live_chat_team(playbook, &card);
                turn.conv.status = status::UNASSIGNED.to_owned();
                turn.conv.waiting_since = Some(now);
                turn.out.events.push(LiveEvent::Status {
                    status: status::UNASSIGNED.to_owned(),
                    outcome: None,
                });
                turn.analytics.push((
                    analytics::kind::CHAT_OFFERED,
                    playbook_id.clone(),
                    Some(card),
                    None,
                ));
            }
            Effect::CallHttp(request) => turn.out.http = Some(request),
            Effect::Redirect { url } => {
                turn.append(NewMessage {
                    author: author::SYSTEM,
                    body: texts::redirecting(playbook.document.language, &url),
                    payload: Payload {
                        redirect: Some(url.clone()),
                        ..Payload::default()
                    },
                    ..NewMessage::default()
                })?;
                turn.out.events.push(LiveEvent::Redirect { url });
            }
            Effect::End => {
                // A chat nobody took: the team hears of it, with what the offline branch
                // collected, once that branch is over.
                let missed_now = turn
                    .analytics
                    .iter()
                    .any(|(kind, _, _, _)| *kind == analytics::kind::CHAT_MISSED);
                // The alert's contact details come from the stored variables.
                turn.store_variables()?;
                crate::mail::jobs::queue_missed_chat_at_end(
                    turn.conn,
                    &turn.conv.company_id,
                    &turn.conv.id,
                    missed_now,
                    now,
                )?;
                turn.analytics
                    .push((analytics::kind::COMPLETED, playbook_id.clone(), None, None));
                let score = turn.flow.state.vars.score;
                turn.analytics.push((
                    analytics::kind::SCORED,
                    playbook_id.clone(),
                    None,
                    Some(score),
                ));
                if turn.conv.status == status::CLOSED && turn.conv.closed_at.is_none() {
                    // A missed chat whose offline branch is over: now closed for the
                    // visitor too, whose next message opens a new conversation.
                    turn.conv.closed_at = Some(now);
                }
                let trigger = &playbook.document.trigger;
                if matches!(trigger.on, TriggerOn::PageLoad | TriggerOn::TimeOnPage) {
                    visitors::mark_finished(
                        turn.conn,
                        &turn.conv.company_id,
                        &turn.visitor.id,
                        &playbook.document.slug,
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// Does carrying out `effect` change the turn in memory only, writing no row of its own
/// (what the turn writes at its end aside)? Steps of such effects can be gathered
/// ([`super::wait_expired_gathered`]).
pub(super) fn in_memory(effect: &Effect) -> bool {
    match effect {
        Effect::Reached { .. }
        | Effect::Say(_)
        | Effect::HandOff { .. }
        | Effect::CallHttp(_)
        | Effect::Redirect { .. } => true,
        Effect::VarSet { .. }
        | Effect::QueueCrm(_)
        | Effect::QueueEmail(_)
        | Effect::ArmTimer { .. }
        | Effect::CancelTimer { .. }
        | Effect::End => false,
    }
}

fn is_live_chat(playbook: &Published, card: &str) -> bool {
    playbook
        .document
        .card(card)
        .is_some_and(|c| matches!(c.kind, CardKind::LiveChat(_)))
}

/// The team a live chat card hands the chat to (none: every rep).
fn live_chat_team(playbook: &Published, card: &str) -> Option<String> {
    match playbook.document.card(card).map(|c| &c.kind) {
        Some(CardKind::LiveChat(c)) => c.team.clone(),
        _ => None,
    }
}

fn bot_message(m: BotMessage) -> NewMessage {
    NewMessage {
        author: author::BOT,
        author_id: None,
        body: m.text,
        payload: Payload {
            card: Some(m.card),
            buttons: m.buttons,
            input: m.input.map(|k| k.name().to_owned()),
            placeholder: m.placeholder,
            ..Payload::default()
        },
    }
}

/// An e-mail (or name) saved by a playbook makes the visitor known.
fn learn_identity(
    turn: &mut Turn<'_>,
    path: &str,
    value: &serde_json::Value,
) -> Result<(), ChatError> {
    let Some(text) = value.as_str().map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(());
    };
    let company = turn.conv.company_id.clone();
    match path {
        "person.email" if email_address::EmailAddress::is_valid(text) => {
            visitors::identify(turn.conn, &company, &turn.visitor.id, text, None)?;
            turn.visitor.email = Some(text.to_owned());
            turn.visitor.known = true;
        }
        "person.name" => {
            visitors::set_name(turn.conn, &company, &turn.visitor.id, text)?;
            turn.visitor.name = Some(text.to_owned());
        }
        _ => {}
    }
    Ok(())
}
