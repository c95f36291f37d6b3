//! `GET /`: the start page a person sees at the app's address — what Concierge is and
//! where to go next (the demo website, the sandbox CRM or the CRM's settings, the API
//! description) — and the favicon every page of the app links to.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use askama::Template;

use super::{AppError, AppState};

/// The app's icon: a speech bubble, as SVG.
const FAVICON: &str = include_str!("assets/favicon.svg");

#[derive(Template)]
#[template(path = "start/index.html")]
struct StartPage {
    /// The sandbox CRM is served here (no Pipedrive app configured).
    sandbox: bool,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(index).service(favicon_svg).service(favicon_ico);
}

#[get("/")]
async fn index(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let body = StartPage {
        sandbox: state.config.uses_sandbox(),
    }
    .render()
    .map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body))
}

#[get("/favicon.svg")]
async fn favicon_svg() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(FAVICON)
}

/// Browsers ask for `/favicon.ico` on pages that name no icon (JSON answers, for one).
#[get("/favicon.ico")]
async fn favicon_ico() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, "/favicon.svg"))
        .finish()
}
