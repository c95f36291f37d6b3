//! `/inbox`: the rep's live-chat inbox. The page is a shell (toolbar, folders, chat list,
//! transcript, composer, side panel); `assets/inbox.js` fills it from the rep API
//! (`/api/inbox/*`) and its event stream, so the page itself carries no conversation data.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

use super::super::auth::{self, LaunchQuery, SignIn};
use super::super::{AppError, AppState};
use super::{html, sdk_id};

#[derive(Template)]
#[template(path = "app/inbox.html")]
struct InboxPage {
    title: &'static str,
    sdk_id: Option<String>,
    user_name: Option<String>,
    csrf: String,
}

#[get("/inbox")]
pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<LaunchQuery>,
) -> Result<HttpResponse, AppError> {
    let (session, cookie) = match auth::sign_in(&state, &req, &query).await? {
        SignIn::Ok(s, c) => (s, c),
        SignIn::NotInstalled => return super::settings::not_installed(&query),
    };
    let page = InboxPage {
        title: "Inbox",
        sdk_id: sdk_id(query.id.as_deref()),
        user_name: session.user_name.clone(),
        csrf: session.csrf.clone(),
    };
    let mut resp = html(StatusCode::OK, &page)?;
    if let Some(cookie) = cookie {
        resp.add_cookie(&cookie).map_err(AppError::internal)?;
    }
    Ok(resp)
}
