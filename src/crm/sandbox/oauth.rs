//! The sandbox's OAuth 2.0 server, as Pipedrive's behaves:
//! - `GET /sandbox/oauth/authorize?client_id&redirect_uri&state`: a consent page listing
//!   the demo users; `POST` of that page redirects to `redirect_uri` with `code` and
//!   `state`, or `error=user_denied`.
//! - `POST /sandbox/oauth/token` (and `/oauth/token/`): form-encoded, HTTP Basic client
//!   credentials; `authorization_code` and `refresh_token` grants; answers `access_token,
//!   token_type, refresh_token, scope, expires_in, api_domain`.
//! - `POST /sandbox/oauth/expire`: expires every access token now (to try refreshing).
//!
//! The only accepted `redirect_uri` is the app's own `PUBLIC_URL/oauth/callback`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use base64::Engine as _;
use chrono::{Duration, Utc};
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::store::{AuthCode, Change, DemoUser, Grant};
use super::{HttpError, Sandbox, lock};
use secrecy::ExposeSecret as _;

/// The scopes the app is registered with.
pub const SCOPES: &str = "base leads:full contacts:full deals:full activities:full users:read";
/// Lifetime of an access token (Pipedrive: about an hour).
const ACCESS_SECS: i64 = 3599;
const REFRESH_DAYS: i64 = 60;
const CODE_MINUTES: i64 = 5;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/oauth/authorize", web::get().to(consent))
        .route("/oauth/authorize", web::post().to(decide))
        .route("/oauth/token", web::post().to(token))
        .route("/oauth/token/", web::post().to(token))
        .route("/oauth/expire", web::post().to(expire));
}

#[derive(Debug, Deserialize)]
struct AuthorizeQuery {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
}

#[derive(Template)]
#[template(path = "sandbox/consent.html")]
struct ConsentPage<'a> {
    company: &'a str,
    users: &'a [DemoUser],
    client_id: &'a str,
    redirect_uri: &'a str,
    state: &'a str,
    scopes: Vec<&'a str>,
}

#[derive(Template)]
#[template(path = "sandbox/error.html")]
struct ErrorPage<'a> {
    message: &'a str,
}

pub(super) fn html(page: Result<String, askama::Error>) -> HttpResponse {
    match page {
        Ok(body) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => actix_web::ResponseError::error_response(&HttpError::internal(e)),
    }
}

fn error_page(message: &str) -> HttpResponse {
    let mut resp = html(ErrorPage { message }.render());
    *resp.status_mut() = actix_web::http::StatusCode::BAD_REQUEST;
    resp
}

/// Is this the app's registered callback?
fn check_client(sb: &Sandbox, client_id: &str, redirect_uri: &str) -> Result<(), &'static str> {
    if client_id != sb.credentials.client_id {
        return Err("Unknown client_id: this sandbox knows only the Concierge app.");
    }
    if redirect_uri != format!("{}/oauth/callback", sb.public_url) {
        return Err("redirect_uri does not match the app's registered callback URL.");
    }
    Ok(())
}

async fn consent(
    q: web::Query<AuthorizeQuery>,
    sb: web::Data<Sandbox>,
) -> Result<HttpResponse, HttpError> {
    let client_id = q.client_id.as_deref().unwrap_or_default();
    let redirect_uri = q.redirect_uri.as_deref().unwrap_or_default();
    if let Err(msg) = check_client(&sb, client_id, redirect_uri) {
        return Ok(error_page(msg));
    }
    let store = sb.snapshot();
    Ok(html(
        ConsentPage {
            company: &store.company.name,
            users: &store.users,
            client_id,
            redirect_uri,
            state: q.state.as_deref().unwrap_or_default(),
            scopes: SCOPES.split(' ').collect(),
        }
        .render(),
    ))
}

#[derive(Debug, Deserialize)]
struct Decision {
    client_id: String,
    redirect_uri: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    user_id: Option<i64>,
    decision: String,
}

fn redirect(to: url::Url) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, to.to_string()))
        .finish()
}

async fn decide(
    form: web::Form<Decision>,
    sb: web::Data<Sandbox>,
) -> Result<HttpResponse, HttpError> {
    if let Err(msg) = check_client(&sb, &form.client_id, &form.redirect_uri) {
        return Ok(error_page(msg));
    }
    let Ok(mut to) = url::Url::parse(&form.redirect_uri) else {
        return Ok(error_page("redirect_uri is not a URL."));
    };
    {
        let mut q = to.query_pairs_mut();
        if form.decision != "allow" {
            q.append_pair("error", "user_denied");
        } else {
            let Some(user) = form
                .user_id
                .filter(|id| lock(&sb.store).user(*id).is_some())
            else {
                drop(q);
                return Ok(error_page("Choose the user who installs the app."));
            };
            let code = random_token("sbx_code_");
            let mut store = lock(&sb.store);
            let now = Utc::now();
            let mut codes: Vec<AuthCode> = store
                .codes
                .iter()
                .filter(|c| c.expires_at > now)
                .cloned()
                .collect();
            codes.push(AuthCode {
                code: code.clone(),
                user_id: user,
                redirect_uri: form.redirect_uri.clone(),
                expires_at: now + Duration::minutes(CODE_MINUTES),
            });
            store.put(Change::Codes(codes));
            q.append_pair("code", &code);
        }
        if !form.state.is_empty() {
            q.append_pair("state", &form.state);
        }
    }
    sb.changed().await.map_err(HttpError::internal)?;
    Ok(redirect(to))
}

fn random_token(prefix: &str) -> String {
    let bytes: [u8; 24] = rand::random();
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    refresh_token: Option<String>,
}

fn oauth_error(status: u16, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
    )
    .json(json!({"success": false, "error": error, "error_description": description}))
}

/// Do the Basic credentials name the sandbox's client?
fn client_ok(sb: &Sandbox, req: &HttpRequest) -> bool {
    let Some(value) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let expected = format!(
        "{}:{}",
        sb.credentials.client_id,
        sb.credentials.client_secret.expose_secret()
    );
    decoded.ct_eq(expected.as_bytes()).into()
}

async fn token(
    req: HttpRequest,
    form: web::Form<TokenForm>,
    sb: web::Data<Sandbox>,
) -> Result<HttpResponse, HttpError> {
    if !client_ok(&sb, &req) {
        return Ok(oauth_error(
            401,
            "invalid_client",
            "Invalid client credentials",
        ));
    }
    let now = Utc::now();
    let grant = {
        let mut store = lock(&sb.store);
        match form.grant_type.as_deref().unwrap_or("authorization_code") {
            "authorization_code" => {
                let code = form.code.as_deref().unwrap_or_default();
                let Some(pos) = store
                    .codes
                    .iter()
                    .position(|c| c.code == code && c.expires_at > now)
                else {
                    return Ok(oauth_error(400, "invalid_grant", "Invalid or expired code"));
                };
                let mut codes = store.codes.clone();
                let c = codes.remove(pos);
                store.put(Change::Codes(codes));
                if form.redirect_uri.as_deref() != Some(c.redirect_uri.as_str()) {
                    return Ok(oauth_error(400, "invalid_grant", "redirect_uri mismatch"));
                }
                let g = Grant {
                    user_id: c.user_id,
                    access_token: random_token("sbx_at_"),
                    access_expires_at: now + Duration::seconds(ACCESS_SECS),
                    refresh_token: random_token("sbx_rt_"),
                    refresh_expires_at: now + Duration::days(REFRESH_DAYS),
                    refreshed: 0,
                };
                let mut grants = store.grants.clone();
                grants.push(g.clone());
                store.put(Change::Grants(grants));
                g
            }
            "refresh_token" => {
                let rt = form.refresh_token.as_deref().unwrap_or_default();
                let mut grants = store.grants.clone();
                let Some(g) = grants
                    .iter_mut()
                    .find(|g| g.refresh_token == rt && g.refresh_expires_at > now)
                else {
                    return Ok(oauth_error(400, "invalid_grant", "Invalid refresh token"));
                };
                g.access_token = random_token("sbx_at_");
                g.access_expires_at = now + Duration::seconds(ACCESS_SECS);
                g.refresh_expires_at = now + Duration::days(REFRESH_DAYS);
                g.refreshed += 1;
                let g = g.clone();
                store.put(Change::Grants(grants));
                g
            }
            _ => {
                return Ok(oauth_error(
                    400,
                    "unsupported_grant_type",
                    "grant_type must be authorization_code or refresh_token",
                ));
            }
        }
    };
    sb.changed().await.map_err(HttpError::internal)?;
    Ok(HttpResponse::Ok().json(json!({
        "access_token": grant.access_token,
        "token_type": "Bearer",
        "refresh_token": grant.refresh_token,
        "scope": SCOPES,
        "expires_in": ACCESS_SECS,
        "api_domain": sb.credentials.api_domain,
    })))
}

async fn expire(sb: web::Data<Sandbox>) -> Result<HttpResponse, HttpError> {
    let past = Utc::now() - Duration::seconds(1);
    let n = {
        let mut store = lock(&sb.store);
        let mut grants = store.grants.clone();
        for g in &mut grants {
            g.access_expires_at = past;
        }
        let n = grants.len();
        store.put(Change::Grants(grants));
        n
    };
    sb.changed().await.map_err(HttpError::internal)?;
    Ok(HttpResponse::Ok().json(json!({ "expired": n })))
}
