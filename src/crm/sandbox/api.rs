//! `/sandbox/api/v1/...` and `/sandbox/api/v2/...`: one entry point that checks the Bearer
//! token, draws injected faults, applies the burst window and the daily token budget, runs
//! the operation and answers in Pipedrive's envelope with `x-ratelimit-*` headers.
//!
//! Token costs follow `x-token-cost` in the OpenAPI description.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde_json::{Value, json};

use super::faults::FaultKind;
use super::limits::{DAILY_BUDGET, Verdict};
use super::ops::{self, ApiError, Ctx, Query, Reply};
use super::{Exchange, HttpError, Sandbox, lock};
use super::{hooks, queries};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/{version}/{tail:.*}", web::route().to(handle));
}

/// One API operation.
#[derive(Debug, Clone, PartialEq)]
enum Op {
    SearchPersons,
    CreatePerson,
    SearchOrgs,
    CreateOrg,
    CreateDeal,
    ListDeals,
    CreateActivity,
    ListActivities,
    CreateLead,
    ListLeads,
    LeadLabels,
    CreateNote,
    ListNotes,
    Users,
    Me,
    ActivityTypes,
    CreateWebhook,
    ListWebhooks,
    DeleteWebhook(String),
    /// `GET /{kind}/{id}`.
    Get(&'static str, String),
}

impl Op {
    fn find(version: &str, method: &actix_web::http::Method, tail: &str) -> Option<Op> {
        use actix_web::http::Method;
        let segs: Vec<&str> = tail.trim_matches('/').split('/').collect();
        let get = *method == Method::GET;
        let post = *method == Method::POST;
        let delete = *method == Method::DELETE;
        let op = match (version, segs.as_slice()) {
            ("v2", ["persons", "search"]) if get => Op::SearchPersons,
            ("v2", ["persons"]) if post => Op::CreatePerson,
            ("v2", ["persons", id]) if get => Op::Get("persons", (*id).to_owned()),
            ("v2", ["organizations", "search"]) if get => Op::SearchOrgs,
            ("v2", ["organizations"]) if post => Op::CreateOrg,
            ("v2", ["organizations", id]) if get => Op::Get("organizations", (*id).to_owned()),
            ("v2", ["deals"]) if post => Op::CreateDeal,
            ("v2", ["deals"]) if get => Op::ListDeals,
            ("v2", ["deals", id]) if get => Op::Get("deals", (*id).to_owned()),
            ("v2", ["activities"]) if post => Op::CreateActivity,
            ("v2", ["activities"]) if get => Op::ListActivities,
            ("v1", ["leads"]) if post => Op::CreateLead,
            ("v1", ["leads"]) if get => Op::ListLeads,
            ("v1", ["leads", id]) if get && *id != "search" => Op::Get("leads", (*id).to_owned()),
            ("v1", ["leadLabels"]) if get => Op::LeadLabels,
            ("v1", ["notes"]) if post => Op::CreateNote,
            ("v1", ["notes"]) if get => Op::ListNotes,
            ("v1", ["users"]) if get => Op::Users,
            ("v1", ["users", "me"]) if get => Op::Me,
            ("v1", ["activityTypes"]) if get => Op::ActivityTypes,
            ("v1", ["webhooks"]) if post => Op::CreateWebhook,
            ("v1", ["webhooks"]) if get => Op::ListWebhooks,
            ("v1", ["webhooks", id]) if delete => Op::DeleteWebhook((*id).to_owned()),
            _ => return None,
        };
        Some(op)
    }

    fn is_write(&self) -> bool {
        matches!(
            self,
            Op::CreatePerson
                | Op::CreateOrg
                | Op::CreateDeal
                | Op::CreateActivity
                | Op::CreateLead
                | Op::CreateNote
                | Op::CreateWebhook
        )
    }

    /// Does a success change the store (a write, or a delete, which has no body)?
    fn changes_store(&self) -> bool {
        self.is_write() || matches!(self, Op::DeleteWebhook(_))
    }

    fn is_search(&self) -> bool {
        matches!(self, Op::SearchPersons | Op::SearchOrgs)
    }

    /// `x-token-cost` of the operation.
    fn cost(&self) -> u64 {
        match self {
            Op::SearchPersons | Op::SearchOrgs => 20,
            Op::CreatePerson | Op::CreateOrg | Op::CreateDeal | Op::CreateActivity => 5,
            Op::CreateLead | Op::CreateNote | Op::LeadLabels | Op::ActivityTypes => 10,
            Op::ListDeals | Op::ListActivities => 10,
            Op::ListLeads | Op::ListNotes | Op::Users => 20,
            Op::Me => 2,
            Op::CreateWebhook | Op::ListWebhooks => 10,
            Op::DeleteWebhook(_) => 6,
            Op::Get("leads", _) => 2,
            Op::Get(..) => 1,
        }
    }

    fn run(&self, sb: &Sandbox, body: &Value, q: &Query, ctx: Ctx) -> Result<Reply, ApiError> {
        let mut st = lock(&sb.store);
        let st = &mut *st;
        match self {
            Op::SearchPersons => queries::search_persons(st, q),
            Op::CreatePerson => ops::create_person(st, body, ctx),
            Op::SearchOrgs => queries::search_orgs(st, q),
            Op::CreateOrg => ops::create_org(st, body, ctx),
            Op::CreateDeal => ops::create_deal(st, body, ctx),
            Op::ListDeals => queries::list_deals(st, q),
            Op::CreateActivity => ops::create_activity(st, body, ctx),
            Op::ListActivities => queries::list_activities(st, q),
            Op::CreateLead => ops::create_lead(st, body, ctx),
            Op::ListLeads => queries::list_leads(st, q),
            Op::LeadLabels => Ok(queries::lead_labels(st)),
            Op::CreateNote => ops::create_note(st, body, ctx),
            Op::ListNotes => queries::list_notes(st, q),
            Op::Users => Ok(queries::users(st, ctx, &sb.public_url)),
            Op::Me => queries::me(st, ctx, &sb.public_url),
            Op::ActivityTypes => Ok(queries::activity_types()),
            Op::CreateWebhook => hooks::create(st, body, ctx),
            Op::ListWebhooks => Ok(hooks::list(st)),
            Op::DeleteWebhook(id) => hooks::delete(st, id),
            Op::Get(kind, id) => queries::get_one(st, kind, id, q),
        }
    }
}

/// An answer on its way out.
struct Answer {
    status: u16,
    body: Value,
    headers: Vec<(&'static str, String)>,
    fault: Option<FaultKind>,
}

impl Answer {
    fn error(e: &ApiError) -> Answer {
        Answer {
            status: e.status,
            body: e.body(),
            headers: Vec::new(),
            fault: None,
        }
    }

    fn faulted(mut self, kind: FaultKind) -> Answer {
        self.fault = Some(kind);
        self
    }
}

fn unauthorized() -> Answer {
    Answer {
        status: 401,
        body: json!({"success": false, "error": "unauthorized access", "errorCode": 401,
                     "error_info": "Please check developers.pipedrive.com for more information about Pipedrive API."}),
        headers: Vec::new(),
        fault: None,
    }
}

fn too_many(error: &str, headers: Vec<(&'static str, String)>) -> Answer {
    Answer {
        status: 429,
        body: json!({"success": false, "error": error, "errorCode": 429,
                     "error_info": "Please check developers.pipedrive.com for more information about Pipedrive API."}),
        headers,
        fault: None,
    }
}

fn rate_headers(v: &Verdict) -> Vec<(&'static str, String)> {
    vec![
        ("x-ratelimit-limit", v.limit.to_string()),
        ("x-ratelimit-remaining", v.remaining.to_string()),
        ("x-ratelimit-reset", v.reset_secs.to_string()),
    ]
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let h = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = h.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

async fn handle(
    req: HttpRequest,
    body: web::Bytes,
    sb: web::Data<Sandbox>,
) -> Result<HttpResponse, HttpError> {
    let version = req.match_info().query("version").to_owned();
    let tail = req.match_info().query("tail").to_owned();
    let path = format!("/api/{version}/{tail}");
    let query: Query = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect::<HashMap<_, _>>();
    let request: Option<Value> = if body.is_empty() {
        None
    } else {
        Some(
            serde_json::from_slice(&body)
                .unwrap_or(Value::String(String::from_utf8_lossy(&body).into_owned())),
        )
    };
    let (answer, applied) = decide(&sb, &req, &version, &tail, &path, &query, request.as_ref());
    sb.record(Exchange {
        at: Utc::now(),
        method: req.method().to_string(),
        path,
        query: req.query_string().to_owned(),
        request,
        status: answer.status,
        response: answer.body.clone(),
        fault: answer.fault,
    });
    if applied {
        sb.changed().await.map_err(HttpError::internal)?;
    }
    Ok(respond(&sb, answer).await)
}

/// Everything up to the answer: auth, faults, limits, the operation. The flag says whether
/// the store changed.
fn decide(
    sb: &Arc<Sandbox>,
    req: &HttpRequest,
    version: &str,
    tail: &str,
    path: &str,
    query: &Query,
    request: Option<&Value>,
) -> (Answer, bool) {
    let now = Utc::now();
    let token = bearer(req).unwrap_or_default();
    let Some(user_id) = lock(&sb.store).user_of_token(&token, now) else {
        return (unauthorized(), false);
    };
    let Some(op) = Op::find(version, req.method(), tail) else {
        let e = ApiError::not_found("Unknown method .");
        return (
            Answer::error(&ApiError {
                error: "Unknown method .".into(),
                ..e
            }),
            false,
        );
    };
    let body = match (op.is_write(), request) {
        (true, Some(Value::Object(m))) => Value::Object(m.clone()),
        (true, _) => return (Answer::error(&ApiError::bad("Invalid JSON body")), false),
        (false, _) => Value::Null,
    };
    let fault = {
        let mut faults = lock(&sb.faults);
        if let Some((status, message)) = op.is_write().then(|| faults.rejects(&body)).flatten() {
            let e = ApiError {
                status,
                ..ApiError::bad(message)
            };
            return (Answer::error(&e), false);
        }
        faults.draw(path, op.is_write())
    };
    let verdict = lock(&sb.limiter).check(&token, op.is_search(), Instant::now());
    let headers = rate_headers(&verdict);
    match fault {
        Some(FaultKind::RateLimitRetryAfter) => {
            let secs = lock(&sb.faults).plan.retry_after_secs;
            let mut h = headers;
            h.push(("retry-after", secs.to_string()));
            return (
                too_many("Too many requests", h).faulted(FaultKind::RateLimitRetryAfter),
                false,
            );
        }
        Some(FaultKind::RateLimit) => {
            return (
                too_many("Too many requests", headers).faulted(FaultKind::RateLimit),
                false,
            );
        }
        Some(k @ (FaultKind::ServerError | FaultKind::BadGateway | FaultKind::Unavailable)) => {
            let status = match k {
                FaultKind::ServerError => 500,
                FaultKind::BadGateway => 502,
                _ => 503,
            };
            let e = ApiError {
                status,
                error: "Internal server error, please try again later".into(),
                code: None,
            };
            return (Answer::error(&e).faulted(k), false);
        }
        Some(FaultKind::Unauthorized) => {
            return (unauthorized().faulted(FaultKind::Unauthorized), false);
        }
        _ => {}
    }
    if !verdict.allowed {
        return (too_many("Request over limit", headers), false);
    }
    let budget_ok = lock(&sb.store).spend_daily(op.cost(), DAILY_BUDGET, now);
    if !budget_ok {
        let midnight = (now + chrono::Duration::days(1))
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map_or(3600, |t| (t.and_utc() - now).num_seconds().max(1));
        let mut h = headers;
        h.push(("retry-after", midnight.to_string()));
        return (
            too_many(
                "Daily API token budget exceeded; it resets at midnight UTC",
                h,
            ),
            false,
        );
    }
    let ctx = Ctx { user_id, now };
    let (mut answer, applied) = match op.run(sb, &body, query, ctx) {
        Ok(reply) => {
            let mut body = json!({"success": true, "data": reply.data});
            if let Some(extra) = reply.additional {
                body["additional_data"] = extra;
            }
            let answer = Answer {
                status: reply.status,
                body,
                headers,
                fault: None,
            };
            (answer, op.changes_store())
        }
        Err(e) => (
            Answer {
                headers,
                ..Answer::error(&e)
            },
            false,
        ),
    };
    answer.fault = fault;
    (answer, applied)
}

async fn respond(sb: &Sandbox, answer: Answer) -> HttpResponse {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = HttpResponse::build(status);
    for (k, v) in &answer.headers {
        resp.insert_header((*k, v.as_str()));
    }
    match answer.fault {
        Some(FaultKind::Slow) => {
            let ms = lock(&sb.faults).plan.slow_ms;
            tokio::time::sleep(Duration::from_millis(ms)).await;
            resp.json(answer.body)
        }
        Some(FaultKind::DropAfterApply) => {
            // Headers go out, then the body fails: the connection is closed mid-answer.
            let broken = futures_util::stream::once(async {
                Err::<web::Bytes, actix_web::Error>(actix_web::error::ErrorInternalServerError(
                    "connection dropped by fault injection",
                ))
            });
            resp.content_type("application/json").streaming(broken)
        }
        _ => resp.json(answer.body),
    }
}
