//! The admin API under `/api/admin/`: everything an admin configures, as JSON, for the
//! settings page (session cookie + `X-CSRF-Token`) and for scripts and CI (an API key as
//! `Authorization: Bearer`). One module per resource; every change writes its audit log
//! row in the transaction of the change. Described in `/openapi.json`.

pub mod answer_rules;
pub mod api_keys;
pub mod audit;
pub mod auth;
mod change;
pub mod document;
pub mod draft_yaml;
pub mod order;
pub mod playbooks;
pub mod preview;
mod report_view;
pub mod reports;
pub mod settings;
pub mod teams;
pub mod templates;
mod words;

use actix_web::web;

pub use auth::Admin;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // Before `playbooks`, whose `{id}` routes would take `order` as an id.
    cfg.configure(order::routes)
        .configure(playbooks::routes)
        .configure(preview::routes)
        .configure(answer_rules::routes)
        .configure(settings::routes)
        .configure(api_keys::routes)
        .configure(reports::routes)
        .configure(teams::routes)
        .service(draft_yaml::to_yaml)
        .service(audit::list)
        .service(templates::list);
}
