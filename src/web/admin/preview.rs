//! `POST /api/admin/playbooks/{id}/preview`: the saved draft, unpublished, run by the
//! engine for the settings page's preview. Nothing is stored: the page keeps the engine
//! state between calls and sends it back, so a preview is no conversation — it reaches no
//! inbox, no report and no analytics event. CRM writes, e-mails, the hand-off to reps and
//! redirects are described ("would create lead …") instead of carried out; http cards are
//! called as in a conversation (through the same guarded client). The admin chooses
//! whether a rep is online and whether the visitor is known.

use actix_web::{HttpResponse, post, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::Admin;
use super::document::invalid;
use super::playbooks::{draft_problems, draft_text, owned};
use crate::chat::flow::visitor_vars;
use crate::db::visitors::{Page, Visitor};
use crate::playbook::effect::{CrmWrite, Effect, Email};
use crate::playbook::model::CaptureTarget;
use crate::playbook::state::{Env, Event, HttpOutcome, Phase, State};
use crate::playbook::{Playbook, step};
use crate::web::json::Json;
use crate::web::visitor::types::ErrorBody;
use crate::web::{AppError, AppState, ErrorCode};

/// Most engine steps one preview call runs (http results included).
const MAX_STEPS: usize = 50;
/// The page a preview visitor is on.
const PREVIEW_PAGE: &str = "https://preview.invalid/";

/// What the visitor (or the simulated rep) does next.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PreviewInput {
    /// Start the draft from its first card.
    Start,
    /// The visitor types text.
    Text { text: String },
    /// The visitor presses the button at `index`.
    Choice { index: usize },
    /// A rep takes the waiting chat.
    RepJoined,
    /// Nobody takes the waiting chat in time.
    WaitExpired,
    /// The visitor closes the chat.
    Leave,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    pub input: PreviewInput,
    /// The `state` the previous call answered (absent to start).
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub state: Option<Value>,
    /// Whether a rep is online (a live chat card hands over) or nobody is.
    #[serde(default)]
    pub reps_online: bool,
    /// Whether the visitor is known (the company has their e-mail) or unknown.
    #[serde(default)]
    pub known: bool,
}

/// One line of the preview: the bot's message, or what a conversation would have done.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PreviewMessage {
    /// `bot`, or `preview` for what would happen.
    pub author: String,
    /// Rich-text source for the bot, plain text for `preview`.
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<String>,
    /// The input kind a question asks for (`email`, `phone`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewReply {
    pub messages: Vec<PreviewMessage>,
    /// The engine state to send back with the next input.
    #[schema(value_type = Object)]
    pub state: Value,
    /// `visitor` (an answer), `rep` (a rep takes the chat or not) or `nothing` (over).
    pub waiting_for: String,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(preview);
}

fn would(text: String) -> PreviewMessage {
    PreviewMessage {
        author: "preview".into(),
        text,
        buttons: Vec::new(),
        input: None,
        placeholder: None,
    }
}

/// "would create lead 'Ann — chatbot' for Ann <ann@acme.test>, organization Acme".
pub fn describe_capture(w: &CrmWrite) -> String {
    let target = match w.create {
        CaptureTarget::Lead => "lead",
        CaptureTarget::Deal => "deal",
    };
    let mut who: Vec<String> = Vec::new();
    if let Some(name) = &w.person.name {
        who.push(name.clone());
    }
    if let Some(email) = &w.person.email {
        who.push(format!("<{email}>"));
    }
    if let Some(phone) = &w.person.phone {
        who.push(phone.clone());
    }
    let mut text = format!("would create {target} '{}'", w.title);
    if !who.is_empty() {
        text.push_str(&format!(" for {}", who.join(" ")));
    }
    if let Some(org) = &w.org {
        text.push_str(&format!(", organization {}", org.name));
    }
    if let Some(activity) = &w.activity {
        text.push_str(&format!(
            ", with a {} '{}' due {}",
            activity.kind, activity.subject, activity.due_date
        ));
    }
    text.push_str(" in the CRM");
    text
}

/// "would e-mail sales@acme.test: New lead".
pub fn describe_email(e: &Email) -> String {
    format!("would e-mail {}: {}", e.to.join(", "), e.subject)
}

/// What a conversation would do for `effect`; `None` for bookkeeping the admin need not
/// see. Http calls are made by the caller.
fn describe(effect: &Effect, now: chrono::DateTime<Utc>) -> Option<PreviewMessage> {
    match effect {
        Effect::Say(m) => Some(PreviewMessage {
            author: "bot".into(),
            text: m.text.clone(),
            buttons: m.buttons.clone(),
            input: m.input.map(|k| k.name().to_owned()),
            placeholder: m.placeholder.clone(),
        }),
        Effect::QueueCrm(w) => Some(would(describe_capture(w))),
        Effect::QueueEmail(e) => Some(would(describe_email(e))),
        Effect::HandOff { .. } => Some(would(
            "would put the chat in Unassigned and notify the online reps".into(),
        )),
        Effect::ArmTimer { due_at, .. } => Some(would(format!(
            "would wait {} s for a rep to take the chat",
            (*due_at - now).num_seconds().max(0)
        ))),
        Effect::Redirect { url } => Some(would(format!("would send the visitor to {url}"))),
        Effect::End => Some(would("the flow ends here".into())),
        Effect::Reached { .. }
        | Effect::VarSet { .. }
        | Effect::CancelTimer { .. }
        | Effect::CallHttp(_) => None,
    }
}

/// A visitor for the preview: known ones have an e-mail and a name.
fn preview_visitor(known: bool) -> Visitor {
    Visitor {
        id: "preview".into(),
        company_id: String::new(),
        email: known.then(|| "known.visitor@example.com".to_owned()),
        name: known.then(|| "Known Visitor".to_owned()),
        known,
        visits: 1,
        attributes: "{}".into(),
        first_seen_at: 0,
        last_seen_at: 0,
    }
}

/// The engine event for an input, and the state it applies to.
fn first_event(
    input: PreviewInput,
    state: Option<Value>,
    known: bool,
) -> Result<(State, Event), AppError> {
    let read = |state: Option<Value>| -> Result<State, AppError> {
        let value = state.ok_or_else(|| {
            AppError::bad_request(ErrorCode::PreviewNotStarted, "start the preview first")
        })?;
        serde_json::from_value(value).map_err(|e| {
            AppError::bad_request(ErrorCode::InvalidPreviewState, format!("state: {e}"))
        })
    };
    Ok(match input {
        PreviewInput::Start => {
            let mut state = State::default();
            let page = Page {
                url: PREVIEW_PAGE.into(),
                language: "en".into(),
                ..Page::default()
            };
            for (path, value) in visitor_vars(&preview_visitor(known), &page, &state) {
                state.vars.set(&path, value);
            }
            (state, Event::Start)
        }
        PreviewInput::Text { text } => (read(state)?, Event::Text { text }),
        PreviewInput::Choice { index } => (read(state)?, Event::Choice { index }),
        PreviewInput::RepJoined => (
            read(state)?,
            Event::RepJoined {
                rep_name: "A rep".into(),
            },
        ),
        PreviewInput::WaitExpired => (read(state)?, Event::WaitExpired),
        PreviewInput::Leave => (read(state)?, Event::Exit),
    })
}

/// Run `event` and whatever http results follow it.
async fn run(
    app: &AppState,
    playbook: &Playbook,
    mut state: State,
    event: Event,
    reps_online: bool,
) -> (State, Vec<PreviewMessage>) {
    let mut messages = Vec::new();
    let mut next = Some(event);
    let mut steps = 0;
    while let Some(event) = next.take() {
        steps += 1;
        if steps > MAX_STEPS {
            break;
        }
        let now = Utc::now();
        let out = step(playbook, &state, &event, &Env { now, reps_online });
        state = out.state;
        for effect in &out.effects {
            if let Effect::CallHttp(request) = effect {
                let outcome = app.chat.http.call(request).await;
                messages.push(would(format!(
                    "called {} {}: {}",
                    request.method.as_str(),
                    request.url,
                    match &outcome {
                        HttpOutcome::Ok { status, .. } => format!("answered {status}"),
                        HttpOutcome::Failed { reason } => format!("failed ({reason})"),
                    }
                )));
                next = Some(Event::HttpResult { outcome });
            } else if let Some(message) = describe(effect, now) {
                messages.push(message);
            }
        }
    }
    (state, messages)
}

fn waiting_for(phase: Phase) -> &'static str {
    match phase {
        Phase::AwaitingInput => "visitor",
        Phase::AwaitingRep => "rep",
        Phase::Idle | Phase::WithRep | Phase::AwaitingHttp | Phase::Ended => "nothing",
    }
}

#[utoipa::path(
    post,
    path = "/api/admin/playbooks/{id}/preview",
    tag = "admin",
    params(("id" = String, Path)),
    request_body = PreviewBody,
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "What the saved draft says and would do; nothing is stored", body = PreviewReply),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "The draft has problems (`invalid_playbook`)", body = ErrorBody),
    )
)]
#[post("/api/admin/playbooks/{id}/preview")]
pub async fn preview(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
    body: Json<PreviewBody>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let row = state
        .db
        .run(move |conn| owned(conn, &admin.company_id, &id))
        .await?;
    let (text, format) = draft_text(&row)?;
    let playbook = draft_problems(&text, format, &row.slug).map_err(|p| invalid(&p))?;
    let PreviewBody {
        input,
        state: engine_state,
        reps_online,
        known,
    } = body.0;
    let (engine_state, event) = first_event(input, engine_state, known)?;
    let (engine_state, messages) = run(&state, &playbook, engine_state, event, reps_online).await;
    Ok(HttpResponse::Ok().json(PreviewReply {
        messages,
        waiting_for: waiting_for(engine_state.phase).to_owned(),
        state: serde_json::to_value(&engine_state).map_err(AppError::internal)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::effect::{OrgData, PersonData};
    use crate::playbook::model::{NoteMode, Owner};

    #[test]
    fn captures_and_mails_are_described_not_made() {
        let write = CrmWrite {
            card: "capture".into(),
            create: CaptureTarget::Lead,
            title: "Ann — chatbot".into(),
            person: PersonData {
                name: Some("Ann".into()),
                email: Some("ann@acme.test".into()),
                phone: None,
            },
            org: Some(OrgData {
                name: "Acme".into(),
                address: None,
            }),
            value: None,
            expected_close_date: None,
            owner: Owner::default(),
            label: None,
            activity: None,
            note: NoteMode::default(),
            answers: Vec::new(),
        };
        assert_eq!(
            describe_capture(&write),
            "would create lead 'Ann — chatbot' for Ann <ann@acme.test>, organization Acme in the CRM"
        );
        let mail = Email {
            to: vec!["sales@acme.test".into()],
            subject: "New lead".into(),
            body: String::new(),
            card: "tell".into(),
            answers: Vec::new(),
        };
        assert_eq!(
            describe_email(&mail),
            "would e-mail sales@acme.test: New lead"
        );
    }
}
