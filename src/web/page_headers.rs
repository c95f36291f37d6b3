//! Security headers of the pages the CRM shows in an iframe (`/settings`, `/inbox`).
//!
//! Their session cookie is `SameSite=None` (it must travel inside the CRM's iframe), so
//! only the CRM may frame them: `frame-ancestors` names Pipedrive's origins, and the app's
//! own origin when the sandbox CRM (served by the app itself) is on. Scripts come only from
//! the app. The widget's script and API are not touched: they work on any site.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use super::AppState;

/// The CRM's origins allowed to frame the pages.
pub const CRM_FRAME_ORIGINS: &str = "https://*.pipedrive.com";

/// Does `path` belong to a page shown inside the CRM?
pub fn is_crm_page(path: &str) -> bool {
    ["/settings", "/inbox"].iter().any(|p| {
        path == *p
            || path
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// The `Content-Security-Policy` of the CRM pages; `own_origin` is added to the framing
/// origins when the sandbox CRM frames them.
pub fn content_security_policy(own_origin: Option<&str>) -> String {
    let mut ancestors = CRM_FRAME_ORIGINS.to_owned();
    if let Some(origin) = own_origin {
        ancestors.push(' ');
        ancestors.push_str(origin);
    }
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: https:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
    )
}

/// Middleware: add the headers to responses of the CRM pages.
pub async fn add(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let crm_page = is_crm_page(req.path());
    let own_origin = req
        .app_data::<web::Data<AppState>>()
        .filter(|s| s.config.uses_sandbox())
        .and_then(|s| url::Url::parse(&s.config.public_url).ok())
        .map(|u| u.origin().ascii_serialization());
    let mut resp = next.call(req).await?;
    if crm_page {
        let csp = content_security_policy(own_origin.as_deref());
        let headers = resp.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&csp) {
            headers.insert(HeaderName::from_static("content-security-policy"), value);
        }
        headers.insert(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            HeaderName::from_static("referrer-policy"),
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        );
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_crm_pages_are_covered() {
        for p in ["/settings", "/settings/users/sync", "/inbox", "/inbox/x"] {
            assert!(is_crm_page(p), "{p}");
        }
        for p in [
            "/settingsx",
            "/api/inbox/events",
            "/widget.js",
            "/api/widget/session",
            "/",
        ] {
            assert!(!is_crm_page(p), "{p}");
        }
    }

    #[test]
    fn the_policy_names_the_framing_origins() {
        let csp = content_security_policy(None);
        assert!(
            csp.ends_with("frame-ancestors https://*.pipedrive.com"),
            "{csp}"
        );
        let csp = content_security_policy(Some("http://127.0.0.1:8080"));
        assert!(
            csp.ends_with("frame-ancestors https://*.pipedrive.com http://127.0.0.1:8080"),
            "{csp}"
        );
        assert!(csp.contains("script-src 'self';"), "{csp}");
    }
}
