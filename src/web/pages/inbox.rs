//! `/inbox`: the company's open conversations (read-only for now).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

use super::super::auth::{self, LaunchQuery, SignIn};
use super::super::{AppError, AppState};
use super::{html, sdk_id, when};
use crate::db::transcripts;

struct Row {
    visitor: String,
    email: Option<String>,
    status: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "app/inbox.html")]
struct InboxPage {
    title: &'static str,
    sdk_id: Option<String>,
    user_name: Option<String>,
    conversations: Vec<Row>,
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
    let company = session.company_id.clone();
    let rows = state
        .db
        .run(move |conn| transcripts::open_conversations(conn, &company, 200))
        .await?;
    let page = InboxPage {
        title: "Inbox",
        sdk_id: sdk_id(query.id.as_deref()),
        user_name: session.user_name.clone(),
        conversations: rows
            .into_iter()
            .map(|c| Row {
                visitor: c
                    .visitor_name
                    .clone()
                    .or(c.visitor_email.clone())
                    .unwrap_or_else(|| "Anonymous visitor".into()),
                email: c.visitor_email,
                status: c.status,
                updated: when(c.updated_at),
            })
            .collect(),
    };
    let mut resp = html(StatusCode::OK, &page)?;
    if let Some(cookie) = cookie {
        resp.add_cookie(&cookie).map_err(AppError::internal)?;
    }
    Ok(resp)
}
