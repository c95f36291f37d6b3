//! Who may call the admin API: an admin's session (the cookie of the pages, with
//! `X-CSRF-Token` on every write) or an API key of the company (`Authorization: Bearer`).
//! A rep's session gets 403; a missing, unknown or revoked key 401.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::Method;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use crate::db::audit::Actor;
use crate::db::{self, api_keys};
use crate::web::auth::Session;
use crate::web::{AppError, AppState};

/// What a rep reads when they reach the admin API.
pub const ADMINS_ONLY: &str = "only admins may change Concierge's settings: the CRM's admins, \
                               and users an admin has made app admins";

/// A caller allowed to configure one company.
#[derive(Debug, Clone)]
pub struct Admin {
    pub company_id: String,
    /// Who the audit log names.
    pub actor: Actor,
    /// Signed in with an API key (not a session).
    pub by_key: bool,
}

impl Admin {
    /// 403 for API keys: what only a signed-in admin may do (managing the keys themselves,
    /// so that a leaked key cannot make more).
    pub fn require_session(&self) -> Result<(), AppError> {
        if self.by_key {
            Err(AppError::forbidden(
                "API keys cannot manage API keys: open the settings page in the CRM",
            ))
        } else {
            Ok(())
        }
    }
}

fn bearer(req: &HttpRequest) -> Option<Result<String, AppError>> {
    let value = req.headers().get(AUTHORIZATION)?;
    let key = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty());
    Some(
        key.map(str::to_owned).ok_or_else(|| {
            AppError::unauthorized("send the API key as `Authorization: Bearer KEY`")
        }),
    )
}

async fn admin_of(req: HttpRequest) -> Result<Admin, AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::internal("application state missing"))?
        .clone();
    if let Some(key) = bearer(&req) {
        let key = key?;
        let row = state
            .db
            .run(move |conn| api_keys::authenticate(conn, &key, db::now_ms()))
            .await?
            .ok_or_else(|| AppError::unauthorized("this API key is unknown or was revoked"))?;
        return Ok(Admin {
            company_id: row.company_id,
            actor: Actor {
                name: format!("API key '{}'", row.name),
                crm_user_id: None,
                key_id: Some(row.id),
            },
            by_key: true,
        });
    }
    let session = Session::from_request(&req, &mut Payload::None).await?;
    if !session.is_admin {
        return Err(AppError::forbidden(ADMINS_ONLY));
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        session.check_csrf_header(&req)?;
    }
    Ok(Admin {
        actor: Actor {
            name: session
                .user_name
                .clone()
                .unwrap_or_else(|| format!("CRM user {}", session.crm_user_id)),
            crm_user_id: Some(session.crm_user_id),
            key_id: None,
        },
        company_id: session.company_id,
        by_key: false,
    })
}

impl FromRequest for Admin {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Admin, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(admin_of(req.clone()))
    }
}
