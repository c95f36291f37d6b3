//! The sandbox's test and demo controls: `GET/POST/DELETE /sandbox/faults` (see
//! `faults.rs`), `GET/DELETE /sandbox/journal` (the last API exchanges) and
//! `POST /sandbox/uninstall` (the CRM's uninstall, as Pipedrive makes it); the data
//! page's deal moves are in `deals.rs`.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use secrecy::ExposeSecret as _;
use serde_json::json;

use super::faults::{FaultPlan, FaultState};
use super::limits::DAILY_BUDGET;
use super::store::Change;
use super::{HttpError, Sandbox, lock};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/faults", web::get().to(show))
        .route("/faults", web::post().to(set))
        .route("/faults", web::delete().to(clear))
        .route("/journal", web::get().to(journal))
        .route("/journal", web::delete().to(clear_journal))
        .route("/uninstall", web::post().to(uninstall))
        .configure(super::deals::routes);
}

/// How long the sandbox waits for the app to take the uninstall notice.
const UNINSTALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The CRM's uninstall: the app's `DELETE /oauth/callback` with the client credentials in
/// HTTP Basic and Pipedrive's body, then the sandbox's grants revoked. Answers with a
/// redirect to the shell (a form's button), or 502 when the app did not take the notice.
async fn uninstall(sb: web::Data<Sandbox>) -> Result<HttpResponse, HttpError> {
    let (company_id, user_id) = {
        let store = lock(&sb.store);
        let admin = store
            .users
            .iter()
            .find(|u| u.is_admin)
            .or(store.users.first());
        (store.company.id, admin.map(|u| u.id))
    };
    let credentials = sb.credentials();
    let auth = crate::crm::oauth::basic_auth_value(
        &credentials.client_id,
        credentials.client_secret.expose_secret(),
    );
    let client = reqwest::Client::builder()
        .timeout(UNINSTALL_TIMEOUT)
        .build()
        .map_err(HttpError::internal)?;
    let answer = client
        .delete(format!("{}/oauth/callback", sb.public_url))
        .header(reqwest::header::AUTHORIZATION, auth)
        .json(&json!({
            "client_id": credentials.client_id,
            "company_id": company_id,
            "user_id": user_id,
            "timestamp": Utc::now().to_rfc3339(),
        }))
        .send()
        .await
        .map_err(|e| HttpError::new(StatusCode::BAD_GATEWAY, "uninstall_failed", e.to_string()))?;
    if !answer.status().is_success() {
        return Err(HttpError::new(
            StatusCode::BAD_GATEWAY,
            "uninstall_failed",
            format!("the app answered {}", answer.status()),
        ));
    }
    lock(&sb.store).put(Change::Grants(Vec::new()));
    sb.changed().await.map_err(HttpError::internal)?;
    Ok(HttpResponse::SeeOther()
        .insert_header((LOCATION, "/sandbox/?uninstalled=1"))
        .finish())
}

fn current(state: &FaultState) -> HttpResponse {
    HttpResponse::Ok().json(state)
}

async fn show(sb: web::Data<Sandbox>) -> Result<HttpResponse, HttpError> {
    let faults = lock(&sb.faults);
    Ok(current(&faults))
}

async fn set(body: web::Bytes, sb: web::Data<Sandbox>) -> Result<HttpResponse, HttpError> {
    let plan: FaultPlan = serde_json::from_slice(&body)
        .map_err(|e| HttpError::bad_request("invalid_json", e.to_string()))?;
    plan.validate()
        .map_err(|m| HttpError::bad_request("invalid_fault_plan", m))?;
    if let Some(left) = plan.daily_tokens_left {
        let mut store = lock(&sb.store);
        store.spend_daily(0, DAILY_BUDGET, Utc::now());
        store.daily.used = DAILY_BUDGET.saturating_sub(left);
    }
    let mut faults = lock(&sb.faults);
    faults.set(plan);
    Ok(current(&faults))
}

async fn clear(sb: web::Data<Sandbox>) -> Result<HttpResponse, HttpError> {
    lock(&sb.faults).set(FaultPlan::default());
    Ok(HttpResponse::NoContent().finish())
}

async fn journal(sb: web::Data<Sandbox>) -> Result<HttpResponse, HttpError> {
    Ok(HttpResponse::Ok().json(json!({ "exchanges": sb.journal() })))
}

async fn clear_journal(sb: web::Data<Sandbox>) -> Result<HttpResponse, HttpError> {
    lock(&sb.journal).clear();
    Ok(HttpResponse::NoContent().finish())
}
