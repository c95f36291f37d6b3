//! Who is calling the widget API: the client address (flood limit) and the visitor of a
//! verified token (`Authorization: Bearer …`, or `?token=` where headers cannot be set,
//! as for `EventSource`).

use std::future::{Ready, ready};
use std::net::{IpAddr, Ipv4Addr};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use crate::chat::visitor::TokenError;
use crate::web::{AppError, AppState};

/// A visitor whose token checked out and who is within the flood limits.
#[derive(Debug, Clone)]
pub struct VisitorAuth {
    pub visitor_id: String,
    pub company_id: String,
}

/// A request within the per-address flood limit.
#[derive(Debug, Clone, Copy)]
pub struct AddressLimited;

fn state(req: &HttpRequest) -> Result<&AppState, AppError> {
    req.app_data::<web::Data<AppState>>()
        .map(|d| d.get_ref())
        .ok_or_else(|| AppError::internal("app state missing"))
}

/// The peer's address (the one that opened the connection).
fn client_ip(req: &HttpRequest) -> IpAddr {
    req.peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

fn check_address(req: &HttpRequest) -> Result<&AppState, AppError> {
    let state = state(req)?;
    state.limits.check_address(client_ip(req))?;
    Ok(state)
}

fn token_of(req: &HttpRequest) -> Option<String> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    header.or_else(|| {
        web::Query::<TokenQuery>::from_query(req.query_string())
            .ok()
            .and_then(|q| q.into_inner().token)
    })
}

#[derive(serde::Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

impl FromRequest for AddressLimited {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(check_address(req).map(|_| AddressLimited))
    }
}

impl FromRequest for VisitorAuth {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            let state = check_address(req)?;
            let token = token_of(req)
                .ok_or_else(|| AppError::unauthorized("a visitor token is required"))?;
            let claims = state.tokens.verify(&token).map_err(|e| match e {
                TokenError::Expired => AppError::unauthorized("the visitor token has expired"),
                TokenError::Invalid => AppError::unauthorized("the visitor token is not valid"),
            })?;
            state.limits.check_visitor(&claims.sub)?;
            Ok(VisitorAuth {
                visitor_id: claims.sub,
                company_id: claims.cid,
            })
        })())
    }
}
