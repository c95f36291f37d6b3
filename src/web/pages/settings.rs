//! `/settings`: the CRM connection (company, who installed, users synced), the users with
//! their admin rights, and the sync log (captures and e-mails waiting or failed, with the
//! CRM's or the mail server's own message, a retry button and links to what was created).
//! Admins only.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::super::auth::{self, LaunchQuery, Session, SignIn};
use super::super::{AppError, AppState};
use super::{MessagePage, html, sdk_id, when};
use crate::crm::outbox::progress::Progress;
use crate::db::outbox::store;
use crate::db::outbox::{Kind, OutboxRow};
use crate::db::{self, companies, crm_users, installs};
use crate::mail::MailJob;
use crate::playbook::effect::CrmWrite;

struct UserView {
    crm_user_id: i64,
    name: String,
    email: String,
    is_admin: bool,
    can_admin: bool,
}

struct LogRow {
    id: String,
    created: String,
    title: String,
    status: String,
    attempts: i32,
    next_try: Option<String>,
    error: Option<String>,
    links: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "app/settings.html")]
struct SettingsPage {
    title: &'static str,
    sdk_id: Option<String>,
    user_name: Option<String>,
    csrf: String,
    flash: Option<&'static str>,
    company_name: String,
    crm_company_id: Option<i64>,
    api_domain: Option<String>,
    installed_by: Option<String>,
    installed_at: String,
    users: Vec<UserView>,
    pending: Vec<LogRow>,
    delivered: Vec<LogRow>,
}

#[derive(Debug, Deserialize)]
pub struct SettingsQuery {
    #[serde(flatten)]
    launch: LaunchQuery,
    /// What the last action did (a fixed set, never echoed).
    done: Option<String>,
}

/// Shown when a genuine launch comes from a company that has not installed the app.
pub fn not_installed(query: &LaunchQuery) -> Result<HttpResponse, AppError> {
    let mut p = MessagePage::new(
        "Not connected yet",
        "This CRM account has not installed Concierge. An admin can connect it now.",
    );
    p.sdk_id = sdk_id(query.id.as_deref());
    p.link = Some(("Connect Concierge to the CRM", "/oauth/install".to_owned()));
    html(StatusCode::OK, &p)
}

fn forbidden_page(query_id: Option<&str>) -> Result<HttpResponse, AppError> {
    let mut p = MessagePage::new(
        "Admins only",
        "Only the CRM's admins, and users an admin made app admins, can open the settings.",
    );
    p.sdk_id = sdk_id(query_id);
    html(StatusCode::FORBIDDEN, &p)
}

#[get("/settings")]
pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<SettingsQuery>,
) -> Result<HttpResponse, AppError> {
    let launch = &query.launch;
    let (session, cookie) = match auth::sign_in(&state, &req, launch).await? {
        SignIn::Ok(s, c) => (s, c),
        SignIn::NotInstalled => return not_installed(launch),
    };
    let mut resp = if session.is_admin {
        let page = load(
            &state,
            &session,
            launch.id.as_deref(),
            query.done.as_deref(),
        )
        .await?;
        html(StatusCode::OK, &page)?
    } else {
        forbidden_page(launch.id.as_deref())?
    };
    if let Some(cookie) = cookie {
        resp.add_cookie(&cookie).map_err(AppError::internal)?;
    }
    Ok(resp)
}

async fn load(
    state: &AppState,
    session: &Session,
    raw_sdk_id: Option<&str>,
    done: Option<&str>,
) -> Result<SettingsPage, AppError> {
    let company_id = session.company_id.clone();
    let (company, install, users, pending, delivered) = state
        .db
        .run(move |conn| {
            let company = companies::by_id(conn, &company_id)?;
            let install = installs::current(conn, &company_id)?;
            let users = crm_users::list(conn, &company_id)?;
            let pending = store::unfinished_of(conn, &company_id, SYNC_LOG_KINDS, 200)?;
            let delivered = store::delivered_of(conn, &company_id, SYNC_LOG_KINDS, 20)?;
            Ok::<_, db::DbError>((company, install, users, pending, delivered))
        })
        .await?;
    let company = company.ok_or_else(AppError::not_found)?;
    let api_domain = company
        .api_domain
        .clone()
        .or_else(|| install.as_ref().map(|i| i.api_domain.clone()));
    let installed_by = install.as_ref().map(|i| {
        users
            .iter()
            .find(|u| u.crm_user_id == i.crm_user_id)
            .map(|u| u.name.clone())
            .unwrap_or_else(|| format!("CRM user {}", i.crm_user_id))
    });
    let domain = api_domain.clone().unwrap_or_default();
    Ok(SettingsPage {
        title: "Settings",
        sdk_id: sdk_id(raw_sdk_id),
        user_name: session.user_name.clone(),
        csrf: session.csrf.clone(),
        flash: done.and_then(flash_text),
        company_name: company.name,
        crm_company_id: company.crm_company_id,
        api_domain,
        installed_by,
        installed_at: install.map(|i| when(i.created_at)).unwrap_or_default(),
        users: users
            .into_iter()
            .map(|u| UserView {
                crm_user_id: u.crm_user_id,
                name: u.name,
                email: u.email,
                is_admin: u.is_admin,
                can_admin: u.can_admin,
            })
            .collect(),
        pending: pending.iter().map(|r| log_row(r, &domain)).collect(),
        delivered: delivered.iter().map(|r| log_row(r, &domain)).collect(),
    })
}

/// What the sync log lists: CRM writes and e-mails.
const SYNC_LOG_KINDS: &[Kind] = &[Kind::Capture, Kind::Email];

fn log_row(row: &OutboxRow, api_domain: &str) -> LogRow {
    let (title, links) = if row.kind == Kind::Email.as_str() {
        let title = MailJob::parse(&row.payload)
            .map(|job| job.summary())
            .unwrap_or_else(|_| "(unreadable e-mail)".into());
        (title, Vec::new())
    } else {
        // Unreadable, the row is logged (naming it) and the log says so in its place.
        let title = crate::db::stored_json::<CrmWrite>("outbox", &row.id, "payload", &row.payload)
            .map(|w| w.title)
            .unwrap_or_else(|_| "(unreadable capture)".into());
        let links = if api_domain.is_empty() {
            Vec::new()
        } else {
            Progress::parse(row.result.as_deref()).links(api_domain)
        };
        (title, links)
    };
    LogRow {
        id: row.id.clone(),
        created: when(row.created_at),
        title,
        status: row.status.clone(),
        attempts: row.attempts,
        next_try: (row.status == db::outbox::status::PENDING).then(|| when(row.next_attempt_at)),
        error: row.last_error.clone(),
        links,
    }
}

fn flash_text(done: &str) -> Option<&'static str> {
    Some(match done {
        "synced" => "The user list was read from the CRM.",
        "sync_failed" => "The user list could not be read from the CRM; try again in a moment.",
        "admin" => "Admin rights changed.",
        "retried" => "It will be sent again in a moment.",
        _ => return None,
    })
}

/// The fields every form of the page posts.
#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    sdk_id: Option<String>,
    grant: Option<String>,
}

/// 303 back to the settings page, keeping the SDK id.
fn back(form: &ActionForm, done: &str) -> HttpResponse {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(id) = sdk_id(form.sdk_id.as_deref()) {
        query.append_pair("id", &id);
    }
    query.append_pair("done", done);
    HttpResponse::SeeOther()
        .insert_header((LOCATION, format!("/settings?{}", query.finish())))
        .finish()
}

#[post("/settings/users/sync")]
pub async fn sync_users(
    state: web::Data<AppState>,
    session: Session,
    form: web::Form<ActionForm>,
) -> Result<HttpResponse, AppError> {
    session.check_csrf(&form.csrf)?;
    session.require_admin()?;
    match state.crm.access.sync_users(&session.company_id).await {
        Ok(_) => Ok(back(&form, "synced")),
        Err(e) => {
            tracing::warn!(company_id = %session.company_id, error = %e, "user sync failed");
            Ok(back(&form, "sync_failed"))
        }
    }
}

#[post("/settings/users/{crm_user_id}/admin")]
pub async fn set_admin(
    state: web::Data<AppState>,
    session: Session,
    path: web::Path<i64>,
    form: web::Form<ActionForm>,
) -> Result<HttpResponse, AppError> {
    session.check_csrf(&form.csrf)?;
    session.require_admin()?;
    let grant = form.grant.as_deref() == Some("true");
    let (company, user) = (session.company_id.clone(), path.into_inner());
    let found = state
        .db
        .run(move |conn| crm_users::set_can_admin(conn, &company, user, grant))
        .await?;
    if !found {
        return Err(AppError::not_found());
    }
    Ok(back(&form, "admin"))
}

#[post("/settings/sync-log/{id}/retry")]
pub async fn retry(
    state: web::Data<AppState>,
    session: Session,
    path: web::Path<String>,
    form: web::Form<ActionForm>,
) -> Result<HttpResponse, AppError> {
    session.check_csrf(&form.csrf)?;
    session.require_admin()?;
    let (company, id, now) = (session.company_id.clone(), path.into_inner(), db::now_ms());
    let retried = state
        .db
        .run(move |conn| store::retry_failed(conn, &company, &id, now))
        .await?;
    if !retried {
        return Err(AppError::not_found());
    }
    Ok(back(&form, "retried"))
}
