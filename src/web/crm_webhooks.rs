//! `POST /webhooks/crm`: the CRM's notices about deals and leads (see `crm::webhooks`).
//! HTTP Basic with the company's id and its webhook password, checked before the body is
//! read (401 otherwise); a notice about a deal or a lead one of our captures created (or a
//! deal converted from such a lead) is recorded against that conversation
//! (`db::outcomes`), any other is accepted and left alone, so the CRM does not retry it.
//! A lead's notice says whether it is open, archived or deleted; Pipedrive deletes a lead
//! it converts, and neither that notice nor the new deal's names the other: for a deal not
//! known yet, of a company whose captures made leads, the CRM is asked
//! (`crm::webhooks::source_lead`, one token), and the lead is then recorded as converted
//! to that deal. The deal's notice may also never come (lost after the CRM's retries, or
//! no deal webhook): so for the deletion of one of our leads not yet known converted, the
//! CRM is asked too, for a deal of the lead's person (or organization) made from it
//! (`crm::webhooks::converted_deal`); found, the lead is converted and the deal recorded,
//! else the lead is deleted. Whichever notice comes first, the lead ends converted, and a
//! deletion told after the conversion changes nothing. Once recorded, the deal is known
//! by its id. When the CRM cannot be asked, the answer is 503 and the CRM sends the
//! notice again.

use actix_web::http::StatusCode;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse, post, web};
use base64::Engine as _;
use subtle::ConstantTimeEq;

use super::{AppError, AppState, ErrorCode};
use crate::crm::webhooks::{self, LeadNotice, parse_notice, password_digest};
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
    if let Some(lead) = notice.lead {
        let recorded = if lead.status == outcomes::lead_status::DELETED {
            lead_deleted(&state, &company.id, lead).await?
        } else {
            record_lead(&state, &company.id, lead).await?
        };
        return Ok(HttpResponse::Ok().json(serde_json::json!({ "recorded": recorded })));
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
                    ask_again("deal")
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
            let now = db::now_ms();
            db::write_tx(conn, |conn| {
                outcomes::record(conn, &company_id, &conversation, &news, now)?;
                // The deal came from one of our leads: that lead was converted.
                if let Some(lead_id) = news.lead_id {
                    let lead = outcomes::LeadNews {
                        lead_id,
                        status: outcomes::lead_status::CONVERTED,
                        deal_id: Some(news.deal_id),
                    };
                    outcomes::record_lead(conn, &company_id, &conversation, &lead, now)?;
                }
                Ok::<_, DbError>(())
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "recorded": true })))
}

/// The answer when the CRM could not be asked about the notice's object: the CRM sends
/// the notice again later.
fn ask_again(what: &str) -> AppError {
    AppError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::NotAvailable,
        format!("the CRM could not be asked about the {what}; send it again later"),
    )
}

/// One of our leads was deleted: converted to a deal (the CRM is asked which, unless the
/// lead is known converted already), or deleted for good. Whether it was one of ours.
async fn lead_deleted(
    state: &AppState,
    company_id: &str,
    lead: LeadNotice,
) -> Result<bool, AppError> {
    let (company, lead_id) = (company_id.to_owned(), lead.lead_id.clone());
    let known = state
        .db
        .run(move |conn| {
            let Some(conversation) = outcomes::conversation_of_lead(conn, &company, &lead_id)?
            else {
                return Ok::<_, DbError>(None);
            };
            let status = outcomes::lead_status_of(conn, &company, &lead_id)?;
            let links = outcomes::lead_links(conn, &company, &lead_id)?;
            Ok(Some((conversation, status, links)))
        })
        .await?;
    let Some((conversation, status, (person, org))) = known else {
        return Ok(false);
    };
    if status.as_deref() == Some(outcomes::lead_status::CONVERTED) {
        // Converted is final: this is the conversion's own deletion.
        return Ok(true);
    }
    let (person, org) = (lead.person_id.or(person), lead.org_id.or(org));
    let deal = webhooks::converted_deal(&state.crm.access, company_id, &lead.lead_id, person, org)
        .await
        .map_err(|e| {
            tracing::warn!(company_id, lead_id = %lead.lead_id, error = %e, "cannot ask the CRM whether a deleted lead became a deal");
            ask_again("lead")
        })?;
    let company = company_id.to_owned();
    Ok(state
        .db
        .run(move |conn| {
            let now = db::now_ms();
            db::write_tx(conn, |conn| {
                let news = match &deal {
                    Some(deal) => {
                        // A deal recorded already is kept up to date by its own notices.
                        if !outcomes::knows_deal(conn, &company, deal.deal_id)? {
                            let news = outcomes::DealNews {
                                deal_id: deal.deal_id,
                                lead_id: Some(&lead.lead_id),
                                status: &deal.status,
                                value_cents: deal.value_cents,
                                currency: &deal.currency,
                            };
                            outcomes::record(conn, &company, &conversation, &news, now)?;
                        }
                        outcomes::LeadNews {
                            lead_id: &lead.lead_id,
                            status: outcomes::lead_status::CONVERTED,
                            deal_id: Some(deal.deal_id),
                        }
                    }
                    None => outcomes::LeadNews {
                        lead_id: &lead.lead_id,
                        status: outcomes::lead_status::DELETED,
                        deal_id: None,
                    },
                };
                outcomes::record_lead(conn, &company, &conversation, &news, now)?;
                Ok::<_, DbError>(true)
            })
        })
        .await?)
}

/// Record a lead's news against the conversation whose capture created it; whether it was
/// one of ours.
async fn record_lead(
    state: &AppState,
    company_id: &str,
    lead: LeadNotice,
) -> Result<bool, AppError> {
    let company_id = company_id.to_owned();
    Ok(state
        .db
        .run(move |conn| {
            db::write_tx(conn, |conn| {
                let Some(conversation) =
                    outcomes::conversation_of_lead(conn, &company_id, &lead.lead_id)?
                else {
                    return Ok::<_, DbError>(false);
                };
                let news = outcomes::LeadNews {
                    lead_id: &lead.lead_id,
                    status: lead.status,
                    deal_id: None,
                };
                outcomes::record_lead(conn, &company_id, &conversation, &news, db::now_ms())?;
                Ok(true)
            })
        })
        .await?)
}
