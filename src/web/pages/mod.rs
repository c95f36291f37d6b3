//! The pages the CRM opens in its iframe (`/settings`, `/inbox`) and the assets they load.
//! HTML comes from askama templates in `templates/app/` with escaping on.

mod assets;
mod inbox;
mod settings;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::AppError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(assets::sdk)
        .service(assets::extension)
        .service(settings::page)
        .service(settings::sync_users)
        .service(settings::set_admin)
        .service(settings::retry)
        .service(assets::inbox)
        .service(assets::settings)
        .service(assets::reports)
        .service(assets::teams)
        .service(assets::editor)
        .service(assets::describe)
        .service(assets::preview)
        .service(inbox::page);
}

/// A rendered page with `status`.
pub fn html<T: Template>(status: StatusCode, page: &T) -> Result<HttpResponse, AppError> {
    let body = page.render().map_err(AppError::internal)?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(body))
}

/// A page with a heading, a sentence and maybe a link.
#[derive(Template)]
#[template(path = "app/message.html")]
pub struct MessagePage<'a> {
    pub title: &'a str,
    pub sdk_id: Option<String>,
    pub user_name: Option<String>,
    /// The session's CSRF token, on pages of a signed-in user (empty otherwise).
    pub csrf: String,
    pub heading: &'a str,
    pub text: &'a str,
    pub link: Option<(&'a str, String)>,
}

impl<'a> MessagePage<'a> {
    pub fn new(heading: &'a str, text: &'a str) -> MessagePage<'a> {
        MessagePage {
            title: heading,
            sdk_id: None,
            user_name: None,
            csrf: String::new(),
            heading,
            text,
            link: None,
        }
    }
}

/// A Unix-ms time as the pages show it.
pub fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// The SDK runtime id from a page's address, if it looks like one.
pub fn sdk_id(raw: Option<&str>) -> Option<String> {
    raw.map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= 200)
        .map(str::to_owned)
}
