//! `/healthz` (alive: the database answers) and `/readyz` (ready for traffic: the database
//! answers, its migrations are all applied, the real-time listener is connected, and the
//! node is not shutting down). A load balancer sends requests only to ready nodes.

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use super::AppState;

#[get("/healthz")]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    match state.db.ping().await {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ok" })),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database does not answer");
            HttpResponse::ServiceUnavailable().json(json!({ "status": "database unavailable" }))
        }
    }
}

#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = match state.db.migrations_pending().await {
        Ok(false) => "ok",
        Ok(true) => "migrations pending",
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database does not answer");
            "unavailable"
        }
    };
    let listener = if state.chat.hub.connected() {
        "ok"
    } else {
        "disconnected"
    };
    let stopping = state.shutdown.is_stopping();
    let ready = database == "ok" && listener == "ok" && !stopping;
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "database": database,
        "listener": listener,
        "stopping": stopping,
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
