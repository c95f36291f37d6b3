//! `/openapi.json`: the description of the app's JSON API, generated from the handlers'
//! annotations and the request and response types, then completed with what the shared
//! extractors enforce (`enforced.rs`), the event streams (`streams.rs`) and the schemas
//! serde's attributes cannot express (`schemas.rs`). The document is OpenAPI 3.2, whose
//! `itemSchema` describes a stream's events.

mod enforced;
mod schemas;
mod streams;

use std::sync::OnceLock;

use actix_web::{HttpResponse, get};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{admin, generate, inbox, visitor};

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
        inbox::rep::me,
        inbox::rep::presence,
        inbox::rep::heartbeat,
        inbox::rep::reps,
        inbox::rep::notifications,
        inbox::list,
        inbox::detail,
        inbox::assign,
        inbox::send,
        inbox::typing,
        inbox::close,
        inbox::offer::decline,
        inbox::panel,
        inbox::crm,
        inbox::events::events,
        generate::status,
        generate::generate,
        admin::playbooks::list,
        admin::playbooks::create,
        admin::playbooks::validate,
        admin::draft_yaml::to_yaml,
        admin::playbooks::get_one,
        admin::playbooks::put_draft,
        admin::playbooks::publish,
        admin::playbooks::version_list,
        admin::playbooks::version_detail,
        admin::playbooks::restore,
        admin::playbooks::set_enabled,
        admin::playbooks::remove,
        admin::playbooks::export,
        admin::order::reorder,
        admin::preview::preview,
        admin::settings::get_settings,
        admin::settings::put_settings,
        admin::settings::embed,
        admin::settings::rotate_identity_secret,
        admin::answer_rules::list,
        admin::answer_rules::create,
        admin::answer_rules::get_one,
        admin::answer_rules::update,
        admin::answer_rules::remove,
        admin::teams::list,
        admin::teams::create,
        admin::teams::update,
        admin::teams::remove,
        admin::api_keys::list,
        admin::api_keys::create,
        admin::api_keys::revoke,
        admin::audit::list,
        admin::templates::list,
        admin::reports::report,
        admin::reports::compare,
    ),
    modifiers(&VisitorToken),
    tags(
        (name = "widget", description = "The API of the embeddable widget"),
        (name = "inbox", description = "The rep API of the inbox: a rep's session cookie, with `X-CSRF-Token` on writes"),
        (name = "admin", description = "The admin API: an admin's session cookie, with `X-CSRF-Token` on writes, or an API key of the company as `Authorization: Bearer KEY` (API keys cannot manage API keys). Playbooks are sent as YAML (`application/yaml`) or JSON; an invalid one answers 422 `invalid_playbook` with `error.problems`: `[{\"card\", \"line\", \"message\", \"pointer\"}]`, `line` counting from 1 in the text as sent. Every change is recorded in the audit log.")
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
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("ck_…")
                    .build(),
            ),
        );
    }
}

/// The description as served.
pub fn document() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    doc["openapi"] = serde_json::Value::String("3.2.0".into());
    schemas::apply(&mut doc);
    streams::apply(&mut doc);
    enforced::apply(&mut doc);
    doc
}

/// The OpenAPI description of the JSON API.
#[get("/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    static DOCUMENT: OnceLock<serde_json::Value> = OnceLock::new();
    HttpResponse::Ok().json(DOCUMENT.get_or_init(document))
}
