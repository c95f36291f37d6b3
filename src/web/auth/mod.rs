//! Who is calling: the CRM's iframe launch (a signed JWT in the page address) starts the
//! app's own session (a signed cookie); [`Session`] is the extractor every signed-in route
//! takes. Admin rights come from the CRM user's admin flag or from a grant by an admin.

pub mod jwt;
pub mod session;

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::Cookie;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use serde::Deserialize;

use crate::db::{companies, crm_users};

use super::{AppError, AppState};
use secrecy::ExposeSecret as _;
use session::SessionData;

/// The query of a page the CRM opens: `?userId&companyId&token&id`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LaunchQuery {
    #[serde(rename = "userId")]
    pub user_id: Option<String>,
    #[serde(rename = "companyId")]
    pub company_id: Option<String>,
    pub token: Option<String>,
    /// The SDK's runtime id; the page hands it to the SDK.
    pub id: Option<String>,
}

/// A signed-in CRM user of one company.
#[derive(Debug, Clone)]
pub struct Session {
    pub company_id: String,
    pub crm_user_id: i64,
    pub is_admin: bool,
    /// The user's name, when the user list has it.
    pub user_name: Option<String>,
    /// Echoed by every write.
    pub csrf: String,
    data: SessionData,
}

impl Session {
    /// 403 unless the user may configure the app.
    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.is_admin {
            Ok(())
        } else {
            Err(AppError::forbidden("only an admin may do this"))
        }
    }

    /// 403 unless `token` is this session's CSRF token.
    pub fn check_csrf(&self, token: &str) -> Result<(), AppError> {
        if self.data.csrf_matches(token) {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "the form is stale or was not sent by this app; reload the page",
            ))
        }
    }

    /// 403 unless the request echoes the CSRF token in the `X-CSRF-Token` header.
    pub fn check_csrf_header(&self, req: &HttpRequest) -> Result<(), AppError> {
        let token = req
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        self.check_csrf(token)
    }
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Load the session's user (admin flag, name) fresh from the database.
async fn session_of(state: &AppState, data: SessionData) -> Result<Session, AppError> {
    let (company, user_id) = (data.company_id.clone(), data.crm_user_id);
    let user = state
        .db
        .run(move |conn| crm_users::by_crm_id(conn, &company, user_id))
        .await?;
    Ok(Session {
        company_id: data.company_id.clone(),
        crm_user_id: data.crm_user_id,
        is_admin: user.as_ref().is_some_and(|u| u.admin()),
        user_name: user.map(|u| u.name),
        csrf: data.csrf.clone(),
        data,
    })
}

/// The outcome of opening a page.
pub enum SignIn {
    /// Signed in; set the cookie when there is one (a new session).
    Ok(Box<Session>, Option<Cookie<'static>>),
    /// The launch is genuine but the company has not installed the app.
    NotInstalled,
}

/// Sign in from a page's address: a launch token when present (verified and turned into a
/// new session), otherwise the session cookie. 401 when neither is valid; 403 when the
/// address names another company or user than the session.
pub async fn sign_in(
    state: &AppState,
    req: &HttpRequest,
    query: &LaunchQuery,
) -> Result<SignIn, AppError> {
    if let Some(token) = query.token.as_deref().filter(|t| !t.is_empty()) {
        let launch = jwt::verify(
            token,
            state.crm.jwt_secret.expose_secret().as_bytes(),
            query.user_id.as_deref().unwrap_or(""),
            query.company_id.as_deref().unwrap_or(""),
        )
        .map_err(|e| AppError::unauthorized(e.to_string()))?;
        let crm_company = launch.crm_company_id;
        let company = state
            .db
            .run(move |conn| companies::by_crm_id(conn, crm_company))
            .await?;
        let Some(company) = company else {
            return Ok(SignIn::NotInstalled);
        };
        ensure_user_known(state, &company.id, launch.crm_user_id).await;
        let data = session::start(&company.id, launch.crm_user_id, now_secs());
        let cookie = session::cookie(&state.crm.session_key, &data);
        return Ok(SignIn::Ok(
            Box::new(session_of(state, data).await?),
            Some(cookie),
        ));
    }
    let session = Session::from_cookie(state, req).await?;
    if query.user_id.is_some() || query.company_id.is_some() {
        let company_id = session.company_id.clone();
        let crm_company = state
            .db
            .run(move |conn| companies::by_id(conn, &company_id))
            .await?
            .and_then(|c| c.crm_company_id);
        let same_company = query.company_id.as_deref().map(str::trim)
            == crm_company.map(|c| c.to_string()).as_deref();
        let same_user = query.user_id.as_deref().map(str::trim)
            == Some(session.crm_user_id.to_string()).as_deref();
        if !(same_company && same_user) {
            return Err(AppError::forbidden(
                "this page belongs to another account; open it from the CRM again",
            ));
        }
    }
    Ok(SignIn::Ok(Box::new(session), None))
}

/// A user who signs in before the user list knows them triggers a sync (new CRM user).
async fn ensure_user_known(state: &AppState, company_id: &str, crm_user_id: i64) {
    let company = company_id.to_owned();
    let known = state
        .db
        .run(move |conn| crm_users::by_crm_id(conn, &company, crm_user_id))
        .await;
    if matches!(known, Ok(None))
        && let Err(e) = state.crm.access.sync_users(company_id).await
    {
        tracing::warn!(company_id, error = %e, "user sync at sign-in failed");
    }
}

impl Session {
    async fn from_cookie(state: &AppState, req: &HttpRequest) -> Result<Session, AppError> {
        let data = session::read(
            &state.crm.session_key,
            req.cookie(session::COOKIE),
            now_secs(),
        )
        .ok_or_else(|| AppError::unauthorized("sign in by opening the app from the CRM"))?;
        session_of(state, data).await
    }
}

impl FromRequest for Session {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Session, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| AppError::internal("application state missing"))?
                .clone();
            Session::from_cookie(&state, &req).await
        })
    }
}
