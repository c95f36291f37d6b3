//! `GET /api/admin/templates`: the playbooks shipped with the app, as YAML, to start a new
//! playbook from (and a blank one).

use actix_web::{HttpResponse, get};
use serde::Serialize;
use utoipa::ToSchema;

use super::Admin;
use crate::playbook::check::check_document;
use crate::playbook::load::Format;
use crate::web::visitor::types::ErrorBody;

const BLANK: &str = "slug: new-playbook
name: New playbook
language: en
priority: 0
trigger:
  on: page_load
  urls:
    include: []
    exclude: []
  visitors: any
  hours: any
start: welcome
cards:
  - id: welcome
    type: message
    text: \"Hi! How can we help?\"
    next: done
  - id: done
    type: end
";

const SHIPPED: [&str; 7] = [
    include_str!("../../../playbooks/lead-qualification.yaml"),
    include_str!("../../../playbooks/appointment-booking.yaml"),
    include_str!("../../../playbooks/support-triage.yaml"),
    include_str!("../../../playbooks/contact-greeting.yaml"),
    include_str!("../../../playbooks/satisfaction-survey.yaml"),
    include_str!("../../../playbooks/product-recommendation.yaml"),
    include_str!("../../../playbooks/order-status.yaml"),
];

#[derive(Debug, Serialize, ToSchema)]
pub struct Template {
    pub slug: String,
    pub name: String,
    pub yaml: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateList {
    pub templates: Vec<Template>,
}

#[utoipa::path(
    get,
    path = "/api/admin/templates",
    tag = "admin",
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A blank playbook first, then the shipped ones", body = TemplateList),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    )
)]
#[get("/api/admin/templates")]
pub async fn list(_admin: Admin) -> HttpResponse {
    let templates = std::iter::once(BLANK)
        .chain(SHIPPED)
        .filter_map(|yaml| {
            let playbook = check_document(yaml, Format::Yaml).ok()?;
            Some(Template {
                slug: playbook.slug,
                name: playbook.name,
                yaml: yaml.to_owned(),
            })
        })
        .collect();
    HttpResponse::Ok().json(TemplateList { templates })
}
