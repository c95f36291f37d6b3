//! `/openapi.json`: the description of the app's JSON API, generated from the handlers'
//! annotations and the request and response types.

use actix_web::{HttpResponse, get};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{generate, inbox, visitor};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Concierge",
        description = "Chat widget, chatbot playbooks and live chat that write leads into the CRM."
    ),
    paths(
        visitor::start_session,
        visitor::trigger,
        visitor::send_message,
        visitor::history,
        visitor::identify,
        visitor::close,
        visitor::events::events,
        visitor::typing,
        inbox::me,
        inbox::presence,
        inbox::heartbeat,
        inbox::reps,
        inbox::notifications,
        inbox::list,
        inbox::detail,
        inbox::assign,
        inbox::send,
        inbox::typing,
        inbox::close,
        inbox::panel,
        inbox::crm,
        inbox::events::events,
        generate::status,
        generate::generate,
    ),
    modifiers(&VisitorToken),
    tags(
        (name = "widget", description = "The API of the embeddable widget"),
        (name = "inbox", description = "The rep API of the inbox: a rep's session cookie, with `X-CSRF-Token` on writes"),
        (name = "admin", description = "The admin API: an admin's session cookie, with `X-CSRF-Token` on writes")
    )
)]
pub struct ApiDoc;

/// The visitor token as a bearer scheme.
struct VisitorToken;

impl Modify for VisitorToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "visitor_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "admin_session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("concierge_session"))),
        );
    }
}

/// The OpenAPI description of the JSON API.
#[get("/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
