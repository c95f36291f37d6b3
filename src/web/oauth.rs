//! The install and uninstall routes.
//!
//! - `GET /oauth/install`: redirects to the CRM's authorize URL with a signed, short-lived
//!   `state` whose nonce is also put in a cookie of this browser.
//! - `GET /oauth/callback`: checks `state` whenever present (marketplace installs may come
//!   without), exchanges the code and stores the install.
//! - `DELETE /oauth/callback`: the CRM's uninstall call, authenticated with the app's
//!   client credentials (HTTP Basic, checked before the body is read); anything else gets
//!   401.

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, LOCATION};
use actix_web::{HttpRequest, HttpResponse, delete, get, web};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::json::parse;
use super::pages::{MessagePage, html};
use super::{AppError, AppState};
use crate::crm::install;
use crate::crm::oauth::{STATE_TTL_SECS, basic_auth_value};
use crate::web::ErrorCode;
use secrecy::ExposeSecret as _;

/// The cookie that binds an install's `state` to the browser that started it.
const NONCE_COOKIE: &str = "concierge_oauth_nonce";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(start).service(callback).service(uninstall);
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

#[get("/oauth/install")]
pub async fn start(state: web::Data<AppState>) -> HttpResponse {
    let (oauth_state, nonce) = state.crm.state_signer.issue(now_secs());
    let secure = state.config.public_url.starts_with("https://");
    let cookie = Cookie::build(NONCE_COOKIE, nonce)
        .path("/oauth")
        .http_only(true)
        .secure(secure)
        // Lax: sent on the top-level navigation back from the CRM.
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(STATE_TTL_SECS))
        .finish();
    HttpResponse::Found()
        .insert_header((
            LOCATION,
            state.crm.access.oauth().authorize_url(&oauth_state),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .cookie(cookie)
        .finish()
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

fn page(
    status: StatusCode,
    heading: &str,
    text: &str,
    link: Option<(&str, String)>,
) -> Result<HttpResponse, AppError> {
    let mut p = MessagePage::new(heading, text);
    p.link = link;
    html(status, &p)
}

#[get("/oauth/callback")]
pub async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, AppError> {
    if let Some(error) = &query.error {
        let text = if error == "user_denied" {
            "The install was cancelled in the CRM. Nothing was connected."
        } else {
            "The CRM did not grant access. Nothing was connected."
        };
        return page(
            StatusCode::BAD_REQUEST,
            "Not installed",
            text,
            Some(("Try again", "/oauth/install".into())),
        );
    }
    if let Some(oauth_state) = &query.state {
        let nonce = req.cookie(NONCE_COOKIE);
        if let Err(e) =
            state
                .crm
                .state_signer
                .check(oauth_state, nonce.as_ref().map(|c| c.value()), now_secs())
        {
            tracing::warn!(reason = %e, "install refused: bad state");
            return page(
                StatusCode::FORBIDDEN,
                "Install refused",
                &e.to_string(),
                Some(("Start the install again", "/oauth/install".into())),
            );
        }
    }
    let Some(code) = query.code.as_deref().filter(|c| !c.is_empty()) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Install incomplete",
            "The CRM sent no authorization code.",
            Some(("Start the install again", "/oauth/install".into())),
        );
    };
    let installed = match install::complete(
        &state.crm.access,
        &state.db,
        code,
        state.crm.sandbox,
        &state.config.public_url,
    )
    .await
    {
        Ok(i) => {
            state.crm.outbox_wake.notify_one();
            i
        }
        Err(install::InstallError::Db(e)) => return Err(e.into()),
        // A code the CRM refuses (made up, used, expired) is the caller's error.
        Err(e @ install::InstallError::OAuth(crate::crm::oauth::OAuthError::Refused(_))) => {
            tracing::info!(error = %e, "install refused: the CRM refused the code");
            return page(
                StatusCode::BAD_REQUEST,
                "Install failed",
                "The CRM did not accept this install link (it may be used or expired). \
                 Start the install again from the CRM's marketplace or the button below.",
                Some(("Start the install again", "/oauth/install".into())),
            );
        }
        Err(e) => {
            tracing::warn!(error = %e, "install failed");
            return page(
                StatusCode::BAD_GATEWAY,
                "Install failed",
                &e.to_string(),
                Some(("Start the install again", "/oauth/install".into())),
            );
        }
    };
    let text = format!(
        "Concierge is connected to {} (installed by {}). {} Open the app's settings from the CRM.",
        installed.company_name,
        installed.installed_by,
        match installed.users_synced {
            Some(n) => format!("{n} users were synced."),
            None => "The user list could not be read yet; sync it from the settings.".into(),
        }
    );
    let mut resp = page(
        StatusCode::OK,
        "Installed",
        &text,
        Some(("Back to the CRM", installed.api_domain.clone())),
    )?;
    // The nonce has done its job.
    let mut gone = Cookie::new(NONCE_COOKIE, "");
    gone.set_path("/oauth");
    gone.make_removal();
    resp.add_cookie(&gone).map_err(AppError::internal)?;
    Ok(resp)
}

/// The CRM's uninstall notice.
#[derive(Debug, Deserialize)]
pub struct UninstallBody {
    client_id: String,
    company_id: i64,
    #[allow(dead_code)]
    user_id: Option<i64>,
    #[allow(dead_code)]
    timestamp: Option<serde_json::Value>,
}

/// Largest uninstall notice read.
const UNINSTALL_BODY_LIMIT: usize = 4096;

/// The credentials are checked before the body is read: an unauthenticated caller gets its
/// 401 at once, whatever it declared or sends.
#[delete("/oauth/callback")]
pub async fn uninstall(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let expected = basic_auth_value(
        &state.crm.client_id,
        state
            .crm
            .access
            .oauth()
            .credentials()
            .client_secret
            .expose_secret(),
    );
    let given = req
        .headers()
        .get(AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or(b"");
    if !bool::from(given.ct_eq(expected.as_bytes())) {
        return Err(AppError::unauthorized("bad client credentials"));
    }
    let body = payload
        .to_bytes_limited(UNINSTALL_BODY_LIMIT)
        .await
        .map_err(|_| {
            AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::BodyTooLarge,
                "the uninstall notice is too large",
            )
        })?
        .map_err(|e| AppError::bad_request(ErrorCode::InvalidBody, e.to_string()))?;
    let body: UninstallBody = parse(&body)?;
    if !bool::from(
        body.client_id
            .as_bytes()
            .ct_eq(state.crm.client_id.as_bytes()),
    ) {
        return Err(AppError::unauthorized("the notice is for another app"));
    }
    let removed = install::uninstall(&state.crm.access, &state.db, body.company_id).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "uninstalled": removed })))
}
