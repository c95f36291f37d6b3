//! The sandbox's test and demo controls: `GET/POST/DELETE /sandbox/faults` (see
//! `faults.rs`) and `GET/DELETE /sandbox/journal` (the last API exchanges).

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde_json::json;

use super::faults::{FaultPlan, FaultState};
use super::limits::DAILY_BUDGET;
use super::{lock, of};
use crate::web::json::Json;
use crate::web::{AppError, AppState};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/faults", web::get().to(show))
        .route("/faults", web::post().to(set))
        .route("/faults", web::delete().to(clear))
        .route("/journal", web::get().to(journal))
        .route("/journal", web::delete().to(clear_journal));
}

fn current(state: &FaultState) -> HttpResponse {
    HttpResponse::Ok().json(state)
}

async fn show(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let sb = of(&state)?;
    let faults = lock(&sb.faults);
    Ok(current(&faults))
}

async fn set(
    Json(plan): Json<FaultPlan>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let sb = of(&state)?;
    plan.validate()
        .map_err(|m| AppError::bad_request("invalid_fault_plan", m))?;
    if let Some(left) = plan.daily_tokens_left {
        let mut store = lock(&sb.store);
        store.spend_daily(0, DAILY_BUDGET, Utc::now());
        store.daily.used = DAILY_BUDGET.saturating_sub(left);
    }
    let mut faults = lock(&sb.faults);
    faults.set(plan);
    Ok(current(&faults))
}

async fn clear(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let sb = of(&state)?;
    lock(&sb.faults).set(FaultPlan::default());
    Ok(HttpResponse::NoContent().finish())
}

async fn journal(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let sb = of(&state)?;
    Ok(HttpResponse::Ok().json(json!({ "exchanges": sb.journal() })))
}

async fn clear_journal(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let sb = of(&state)?;
    lock(&sb.journal).clear();
    Ok(HttpResponse::NoContent().finish())
}
