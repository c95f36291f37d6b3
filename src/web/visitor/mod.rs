//! The widget API (`/api/widget/*`), as agreed with the widget script. Handlers parse,
//! authorise and shape responses; `chat` does the work.
//!
//! Every route is open to any origin (CORS `*`, by `actix-cors`): the widget runs on the
//! customer's site and authenticates with its token, never with cookies.

mod auth;
pub mod events;
pub mod types;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use chrono::Utc;

use self::auth::{AddressLimited, VisitorAuth};
use self::types::*;
use crate::chat::message::{ConversationRef, Message};
use crate::chat::turn::{Input, Outcome, Reason};
use crate::chat::{ChatError, session, texts, visitor};
use crate::db::conversations as convs;
use crate::db::{companies, live, visitors};
use crate::web::ErrorCode;
use crate::web::json::Json;
use crate::web::{AppError, AppState};

/// Register the widget API.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/widget")
            .wrap(cors())
            .wrap_fn(preflight_no_content)
            .service(start_session)
            .service(trigger)
            .service(send_message)
            .service(history)
            .service(events::events)
            .service(identify)
            .service(close)
            .service(typing)
            .default_service(web::to(unmatched)),
    );
}

/// The methods a widget API path answers (the `Allow` of an `OPTIONS` or a 405), as its
/// routes above declare them.
fn allowed_methods(path: &str) -> &'static str {
    match path.rsplit('/').next() {
        Some("messages") => "GET, POST, OPTIONS",
        Some("events") => "GET, OPTIONS",
        _ => "POST, OPTIONS",
    }
}

/// CORS of the widget API: any origin may call with a JSON body and a bearer token (never
/// cookies) and read `Retry-After`. Preflights are answered by the middleware; requests
/// from a page's script get `Access-Control-Allow-Origin: *`, errors included.
fn cors() -> actix_cors::Cors {
    use actix_web::http::header;
    actix_cors::Cors::default()
        .allow_any_origin()
        .send_wildcard()
        .allowed_methods(["GET", "POST"])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([header::RETRY_AFTER])
        .max_age(86400)
}

/// A preflight answered by the CORS middleware (which says 200) is a 204 No Content: it
/// has no body, and only preflights get 204 on the widget API.
fn preflight_no_content<S, B>(
    req: actix_web::dev::ServiceRequest,
    srv: &S,
) -> impl std::future::Future<Output = Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>>
+ use<S, B>
where
    S: actix_web::dev::Service<
            actix_web::dev::ServiceRequest,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
{
    use actix_web::http::{Method, header};
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let answer = srv.call(req);
    async move {
        let mut res = answer.await?;
        if preflight && res.status() == StatusCode::OK {
            *res.response_mut().status_mut() = StatusCode::NO_CONTENT;
        }
        Ok(res)
    }
}

/// A request no route took: `OPTIONS` on a known path (204 with `Allow`; a browser's
/// preflight never gets here), another method on a known path (405), or an unknown path
/// (404).
async fn unmatched(req: actix_web::HttpRequest) -> HttpResponse {
    if !req.resource_map().has_resource(req.path()) {
        return AppError::not_found().into_response();
    }
    if req.method() == actix_web::http::Method::OPTIONS {
        return HttpResponse::NoContent()
            .insert_header((actix_web::http::header::ALLOW, allowed_methods(req.path())))
            .finish();
    }
    let mut resp = AppError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        format!("{} is not allowed here", req.method()),
    )
    .into_response();
    resp.headers_mut().insert(
        actix_web::http::header::ALLOW,
        actix_web::http::header::HeaderValue::from_static(allowed_methods(req.path())),
    );
    resp
}

impl From<ChatError> for AppError {
    fn from(e: ChatError) -> AppError {
        match e {
            ChatError::NotFound => AppError::not_found(),
            ChatError::UnknownVisitor => AppError::unauthorized("the visitor no longer exists"),
            ChatError::BadChoice(message) => {
                AppError::bad_request(ErrorCode::InvalidChoice, message)
                    .with_details(serde_json::json!({ "path": "choice.index" }))
            }
            ChatError::StaleChoice => {
                AppError::conflict(ErrorCode::StaleChoice, "that question was already answered")
            }
            ChatError::Unavailable => AppError::new(
                actix_web::http::StatusCode::FORBIDDEN,
                ErrorCode::NotAvailable,
                "chat is not available on this site (the company has uninstalled the app)",
            ),
            ChatError::Db(e) => AppError::from(e),
        }
    }
}

/// Start or resume a visitor's session.
#[utoipa::path(
    post,
    path = "/api/widget/session",
    tag = "widget",
    request_body = SessionRequest,
    responses(
        (status = 200, body = SessionResponse),
        (status = 400, description = "Malformed JSON (the field path in `details.path`)", body = ErrorBody),
        (status = 404, description = "Unknown key", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 429, description = "Too many requests (see `Retry-After`)", body = ErrorBody),
    )
)]
#[post("/session")]
async fn start_session(
    state: web::Data<AppState>,
    _limited: AddressLimited,
    Json(body): Json<SessionRequest>,
) -> Result<HttpResponse, AppError> {
    // A token that is forged, expired or of another company starts a new visitor: this
    // call is where a widget without a valid token gets one.
    let claims = body
        .token
        .as_deref()
        .and_then(|t| state.tokens.verify(t).ok());
    if let Some(claims) = &claims {
        state.limits.check_visitor(&claims.sub)?;
    }
    let page = body.page.to_page();
    let (key, tokens) = (body.key.clone(), state.tokens.clone());
    let kept = state.chat.versions.companies.clone();
    let (session, token, agent) = state
        .db
        .write(move |conn| {
            let now = Utc::now();
            let session = session::start(conn, &kept, &key, claims.as_ref(), &page, now)?;
            let token = tokens.issue(&session.visitor, now.timestamp_millis())?;
            let agent = match &session.conversation {
                Some((c, _)) if c.status == convs::status::ASSIGNED => match &c.assigned_to {
                    Some(id) => live::rep_by_row(conn, &c.company_id, id)?.map(|r| Agent {
                        name: r.name,
                        avatar_url: r.icon_url,
                    }),
                    None => None,
                },
                _ => None,
            };
            Ok::<_, ChatError>((session, token, agent))
        })
        .await?;
    let settings = session.company.settings();
    // System texts speak the language of the playbook offered on this page (the highest
    // priority one); the browser's language only when no playbook is offered.
    let language = session
        .triggers
        .first()
        .map(|p| p.document.language)
        .unwrap_or_else(|| texts::language_of(&body.page.language));
    Ok(HttpResponse::Ok().json(SessionResponse {
        token,
        visitor: VisitorInfo {
            id: session.visitor.id.clone(),
            returning: session.visitor.returning(),
            known: session.visitor.known,
        },
        settings: WidgetSettings {
            bot_name: settings.bot_name,
            color: settings.color,
            position: settings.position,
            avatar_url: settings.avatar_url,
            max_text_chars: MAX_TEXT_CHARS,
        },
        texts: texts::widget_texts(language)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        conversation: session.conversation.map(|(c, rows)| ConversationHistory {
            id: c.id,
            status: c.status,
            outcome: c.outcome,
            agent,
            messages: rows.iter().map(Message::from).collect(),
        }),
        triggers: session
            .triggers
            .iter()
            .map(|p| {
                let t = &p.document.trigger;
                TriggerInfo {
                    slug: p.document.slug.clone(),
                    on: serde_json::to_value(t.on)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    delay_seconds: t.delay_seconds,
                    selector: t.selector.clone(),
                    keywords: t.keywords.clone(),
                }
            })
            .collect(),
    }))
}

fn turn_response(outcome: Outcome) -> HttpResponse {
    HttpResponse::Ok().json(TurnResponse {
        conversation: outcome.conversation.as_ref().map(ConversationRef::from),
        messages: outcome.messages.iter().map(Message::from).collect(),
    })
}

/// Start a playbook (opens a conversation if none is open; a running flow is not
/// interrupted).
#[utoipa::path(
    post,
    path = "/api/widget/trigger",
    tag = "widget",
    request_body = TriggerRequest,
    security(("visitor_token" = [])),
    responses(
        (status = 200, body = TurnResponse),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such enabled playbook", body = ErrorBody),
        (status = 429, body = ErrorBody),
    )
)]
#[post("/trigger")]
async fn trigger(
    state: web::Data<AppState>,
    who: VisitorAuth,
    Json(body): Json<TriggerRequest>,
) -> Result<HttpResponse, AppError> {
    let reason = match body.reason {
        TriggerReason::PageLoad => Reason::PageLoad,
        TriggerReason::TimeOnPage => Reason::TimeOnPage,
        TriggerReason::Click => Reason::Click,
        TriggerReason::Sdk => Reason::Sdk,
    };
    let input = Input::Trigger {
        slug: body.slug,
        reason,
        page: body.page.to_page(),
    };
    let outcome = state
        .chat
        .visitor_turn(&who.company_id, &who.visitor_id, input)
        .await?;
    Ok(turn_response(outcome))
}

/// Send text or a button choice; the reply of this turn comes back at once.
#[utoipa::path(
    post,
    path = "/api/widget/messages",
    tag = "widget",
    request_body = SendRequest,
    security(("visitor_token" = [])),
    responses(
        (status = 200, body = TurnResponse),
        (status = 400, description = "Malformed JSON, neither or both of text and choice, a button that does not exist", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "The message chosen from is not in the visitor's conversation", body = ErrorBody),
        (status = 409, description = "The question was already answered", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 429, body = ErrorBody),
    )
)]
#[post("/messages")]
async fn send_message(
    state: web::Data<AppState>,
    who: VisitorAuth,
    Json(body): Json<SendRequest>,
) -> Result<HttpResponse, AppError> {
    let input = match (body.text, body.choice) {
        (Some(text), None) => {
            if text.chars().count() > MAX_TEXT_CHARS {
                return Err(AppError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::TooLarge,
                    format!("A message can be at most {MAX_TEXT_CHARS} characters long."),
                ));
            }
            let text = text.trim().to_owned();
            if text.is_empty() {
                return Err(invalid("text", "text: the message is empty"));
            }
            Input::Text(text)
        }
        (None, Some(c)) => Input::Choice {
            message_id: c.message_id,
            index: c.index,
        },
        _ => return Err(invalid(".", "send either `text` or `choice`")),
    };
    let outcome = state
        .chat
        .visitor_turn(&who.company_id, &who.visitor_id, input)
        .await?;
    Ok(turn_response(outcome))
}

fn invalid(path: &str, message: &str) -> AppError {
    AppError::bad_request(ErrorCode::InvalidJson, message)
        .with_details(serde_json::json!({ "path": path }))
}

/// The open conversation's messages after `after` (history on reload).
#[utoipa::path(
    get,
    path = "/api/widget/messages",
    tag = "widget",
    params(("after" = Option<i64>, Query, description = "Only messages with a greater seq")),
    security(("visitor_token" = [])),
    responses((status = 200, body = HistoryResponse), (status = 401, body = ErrorBody))
)]
#[get("/messages")]
async fn history(
    state: web::Data<AppState>,
    who: VisitorAuth,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, AppError> {
    let after = query.after;
    let rows = state
        .db
        .run(move |conn| {
            let closed_since = crate::db::now_ms() - session::RECENTLY_CLOSED_MS;
            let current =
                convs::current_for_visitor(conn, &who.company_id, &who.visitor_id, closed_since)?;
            let Some(c) = current else {
                return Ok::<_, AppError>(Vec::new());
            };
            Ok(convs::messages_after(
                conn,
                &who.company_id,
                &c.id,
                after,
                session::HISTORY_LIMIT,
            )?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(HistoryResponse {
        messages: rows.iter().map(Message::from).collect(),
    }))
}

/// The site vouches for the visitor's e-mail (signed with the company's identity secret).
#[utoipa::path(
    post,
    path = "/api/widget/identify",
    tag = "widget",
    request_body = IdentifyRequest,
    security(("visitor_token" = [])),
    responses(
        (status = 200, body = IdentifyResponse),
        (status = 400, body = ErrorBody),
        (status = 401, description = "Bad token or wrong hash", body = ErrorBody),
    )
)]
#[post("/identify")]
async fn identify(
    state: web::Data<AppState>,
    who: VisitorAuth,
    Json(body): Json<IdentifyRequest>,
) -> Result<HttpResponse, AppError> {
    let email = body.email.trim().to_owned();
    if !email_address::EmailAddress::is_valid(&email) {
        return Err(invalid("email", "email: not an e-mail address"));
    }
    let name = body
        .name
        .map(|n| n.trim().chars().take(200).collect::<String>());
    state
        .db
        .run(move |conn| {
            let company =
                companies::by_id(conn, &who.company_id)?.ok_or_else(AppError::not_found)?;
            if !visitor::identity_hash_ok(&company.identity_secret, &email, &body.hash) {
                return Err(AppError::unauthorized("the identity hash does not match"));
            }
            let name = name.as_deref().filter(|n| !n.is_empty());
            visitors::identify(conn, &company.id, &who.visitor_id, &email, name)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Ok().json(IdentifyResponse { known: true }))
}

/// The widget's close: leave the running flow; a chat with the bot is over (closed).
#[utoipa::path(
    post,
    path = "/api/widget/close",
    tag = "widget",
    security(("visitor_token" = [])),
    responses((status = 200, body = TurnResponse), (status = 401, body = ErrorBody))
)]
#[post("/close")]
async fn close(state: web::Data<AppState>, who: VisitorAuth) -> Result<HttpResponse, AppError> {
    let outcome = state
        .chat
        .visitor_turn(&who.company_id, &who.visitor_id, Input::Close)
        .await?;
    Ok(turn_response(outcome))
}

/// The visitor is typing (or stopped): the reps who may take or have the chat see it.
#[utoipa::path(
    post,
    path = "/api/widget/typing",
    tag = "widget",
    request_body = TypingRequest,
    security(("visitor_token" = [])),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody))
)]
#[post("/typing")]
async fn typing(
    state: web::Data<AppState>,
    who: VisitorAuth,
    Json(body): Json<TypingRequest>,
) -> Result<HttpResponse, AppError> {
    crate::chat::live::Live::new(state.chat.clone())
        .visitor_typing(&who.company_id, &who.visitor_id, body.typing)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
