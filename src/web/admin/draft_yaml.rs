//! `POST /api/admin/yaml`: a draft document edited in the settings page's form (JSON, valid
//! or not) written as the YAML file the editor shows, checked as that text: the form and
//! the YAML view stay one draft, and problems carry the YAML's lines.

use actix_web::{HttpResponse, post, web};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::Admin;
use super::document::PlaybookText;
use super::playbooks::{Checked, checked};
use crate::playbook::emit;
use crate::playbook::load::Format;
use crate::web::AppError;
use crate::web::ErrorCode;
use crate::web::json::Json;
use crate::web::visitor::types::ErrorBody;

/// The document as YAML, with what `/api/admin/validate` finds in that text.
#[derive(Debug, Serialize, ToSchema)]
pub struct AsYaml {
    pub yaml: String,
    #[serde(flatten)]
    pub checked: Checked,
}

#[utoipa::path(
    post,
    path = "/api/admin/yaml",
    tag = "admin",
    request_body(content = Object, description = "A playbook document, valid or not", content_type = "application/json"),
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The document as YAML and its problems; nothing is stored", body = AsYaml),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    )
)]
#[post("/api/admin/yaml")]
pub async fn to_yaml(_admin: Admin, body: Json<Value>) -> Result<HttpResponse, AppError> {
    let Json(document) = body;
    if !document.is_object() {
        return Err(AppError::bad_request(
            ErrorCode::InvalidDocument,
            "a playbook document is a JSON object",
        ));
    }
    let result = web::block(move || {
        let yaml = emit::value_to_yaml(&document)?;
        let checked = checked(&PlaybookText {
            text: yaml.clone(),
            format: Format::Yaml,
        });
        Ok::<_, String>(AsYaml { yaml, checked })
    })
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::internal)?;
    Ok(HttpResponse::Ok().json(result))
}
