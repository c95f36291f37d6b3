//! `POST /webhooks/crm`: the CRM's notices about deals (see `crm::webhooks`). HTTP Basic
//! with the company's id and its webhook password, checked before the body is read (401
//! otherwise); a notice about a deal one of our captures created (or the lead it came
//! from) is recorded against that conversation (`db::outcomes`), any other is accepted and
//! left alone, so the CRM does not retry it. The CRM's deal notices do not name the lead
//! a deal was converted from: for a deal not known yet, of a company whose captures made
//! leads, the CRM is asked (`crm::webhooks::source_lead`, one token); once recorded, the
//! deal is known by its id. When the CRM cannot be asked, the answer is 503 and the CRM
//! sends the notice again.

use actix_web::http::StatusCode;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse, post, web};
use base64::Engine as _;
use subtle::ConstantTimeEq;

use super::{AppError, AppState, ErrorCode};
use crate::crm::webhooks::{self, parse_notice, password_digest};
use crate::db::{self, DbError, companies, outcomes, webhooks as hooks_db};

/// Largest notice read.
const BODY_LIMIT: usize = 256 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(receive);
}

/// `(user, password)` of an HTTP Basic header.
fn basic(req: &HttpRequest) -> Option<(String, String)> {
    let h = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = h.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The company whose webhook credentials these are.
async fn authenticate(state: &AppState, req: &HttpRequest) -> Result<companies::Company, AppError> {
    let refused = || AppError::unauthorized("bad webhook credentials");
    let (user, password) = basic(req).ok_or_else(refused)?;
    let company_id = user.clone();
    let found = state
        .db
        .run(move |conn| {
            let Some(stored) = hooks_db::password(conn, &company_id)? else {
                return Ok::<_, DbError>(None);
            };
            Ok(companies::by_id(conn, &company_id)?.map(|c| (c, stored)))
        })
        .await?;
    let (company, stored) = found.ok_or_else(refused)?;
    let given = password_digest(&password);
    if !bool::from(given.as_bytes().ct_eq(stored.as_bytes())) {
        return Err(refused());
    }
    Ok(company)
}

/// The route is `crm::webhooks::PATH`.
#[post("/webhooks/crm")]
pub async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let company = authenticate(&state, &req).await?;
    let body = payload
        .to_bytes_limited(BODY_LIMIT)
        .await
        .map_err(|_| {
            AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::BodyTooLarge,
                "the notice is too large",
            )
        })?
        .map_err(|e| AppError::bad_request(ErrorCode::InvalidBody, e.to_string()))?;
    let notice =
        parse_notice(&body).map_err(|m| AppError::bad_request(ErrorCode::InvalidNotice, m))?;
    if let (Some(theirs), Some(ours)) = (notice.crm_company_id, company.crm_company_id)
        && theirs != ours
    {
        return Err(AppError::forbidden(
            "the notice is about another CRM company",
        ));
    }
    let Some(deal) = notice.deal else {
        return Ok(HttpResponse::Ok().json(serde_json::json!({ "recorded": false })));
    };
    let (company_id, deal_id) = (company.id.clone(), deal.deal_id);
    let lead = deal.lead_id.clone();
    let (found, ask) = state
        .db
        .run(move |conn| {
            let found = outcomes::conversation_of(conn, &company_id, deal_id, lead.as_deref())?;
            let ask = found.is_none() && lead.is_none() && outcomes::made_leads(conn, &company_id)?;
            Ok::<_, DbError>((found, ask))
        })
        .await?;
    let mut lead_id = deal.lead_id.clone();
    let conversation = match found {
        Some(found) => Some(found),
        // A deal we do not know, of a company whose captures made leads: it may be one of
        // those leads converted. The notice does not say; the CRM does.
        None if ask && deal.status != "deleted" => {
            let origin = webhooks::source_lead(&state.crm.access, &company.id, deal_id)
                .await
                .map_err(|e| {
                    tracing::warn!(company_id = %company.id, deal_id, error = %e, "cannot ask the CRM where a deal came from");
                    AppError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        ErrorCode::NotAvailable,
                        "the CRM could not be asked about the deal; send it again later",
                    )
                })?;
            lead_id = origin.clone();
            match origin {
                Some(origin) => {
                    let company_id = company.id.clone();
                    state
                        .db
                        .run(move |conn| {
                            outcomes::conversation_of(conn, &company_id, deal_id, Some(&origin))
                        })
                        .await?
                }
                None => None,
            }
        }
        None => None,
    };
    let Some(conversation) = conversation else {
        return Ok(HttpResponse::Ok().json(serde_json::json!({ "recorded": false })));
    };
    let company_id = company.id.clone();
    state
        .db
        .run(move |conn| {
            let news = outcomes::DealNews {
                deal_id: deal.deal_id,
                lead_id: lead_id.as_deref(),
                status: &deal.status,
                value_cents: deal.value_cents,
                currency: &deal.currency,
            };
            outcomes::record(conn, &company_id, &conversation, &news, db::now_ms())
        })
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "recorded": true })))
}
