//! Static assets of the iframe pages, compiled into the binary.

use actix_web::{HttpResponse, get};

const SDK: &str = include_str!("../assets/app-extensions-sdk.js");
const EXTENSION: &str = include_str!("../assets/extension.js");
const INBOX: &str = include_str!("../assets/inbox.js");
const SETTINGS: &str = include_str!("../assets/settings.js");
const REPORTS: &str = include_str!("../assets/reports.js");
const TEAMS: &str = include_str!("../assets/teams.js");
const EDITOR: &str = include_str!("../assets/editor.js");
const DESCRIBE: &str = include_str!("../assets/describe.js");
const PREVIEW: &str = include_str!("../assets/preview.js");

fn js(body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(body)
}

/// `@pipedrive/app-extensions-sdk`, served by the app rather than a CDN.
#[get("/assets/app-extensions-sdk.js")]
pub async fn sdk() -> HttpResponse {
    js(SDK)
}

/// Starts the SDK with the page's runtime id.
#[get("/assets/extension.js")]
pub async fn extension() -> HttpResponse {
    js(EXTENSION)
}

/// The inbox page's script.
#[get("/assets/inbox.js")]
pub async fn inbox() -> HttpResponse {
    js(INBOX)
}

/// The settings page's script.
#[get("/assets/settings.js")]
pub async fn settings() -> HttpResponse {
    js(SETTINGS)
}

/// The settings page's Teams section.
#[get("/assets/teams.js")]
pub async fn teams() -> HttpResponse {
    js(TEAMS)
}

/// The settings page's playbook form.
#[get("/assets/editor.js")]
pub async fn editor() -> HttpResponse {
    js(EDITOR)
}

/// The settings page's "Describe it" box.
#[get("/assets/describe.js")]
pub async fn describe() -> HttpResponse {
    js(DESCRIBE)
}

/// The editor's preview of the draft.
#[get("/assets/preview.js")]
pub async fn preview() -> HttpResponse {
    js(PREVIEW)
}

/// The settings page's Reports section.
#[get("/assets/reports.js")]
pub async fn reports() -> HttpResponse {
    js(REPORTS)
}
