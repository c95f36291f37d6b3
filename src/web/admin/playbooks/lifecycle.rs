//! Switching a playbook on or off, deleting it (switched off while conversations run)
//! and exporting its draft.

use super::*;

#[utoipa::path(
    post,
    path = "/api/admin/playbooks/{id}/enabled",
    tag = "admin",
    params(("id" = String, Path)),
    request_body = EnabledBody,
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, body = EnabledState),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[post("/api/admin/playbooks/{id}/enabled")]
pub async fn set_enabled(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
    body: Json<EnabledBody>,
) -> Result<HttpResponse, AppError> {
    let (id, enabled) = (path.into_inner(), body.0.enabled);
    admin
        .change_row(&state, id, owned, move |conn, company, row| {
            store::set_enabled(conn, company, &row.id, enabled)?;
            let action = match enabled {
                true => "playbook.switch_on",
                false => "playbook.switch_off",
            };
            let detail = json!({ "before": row.enabled, "after": enabled });
            Ok((
                (),
                (row.enabled != enabled).then(|| logged(action, &row, detail)),
            ))
        })
        .await?;
    Ok(HttpResponse::Ok().json(EnabledState { enabled }))
}

#[utoipa::path(
    delete,
    path = "/api/admin/playbooks/{id}",
    tag = "admin",
    params(("id" = String, Path)),
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Deleted with its versions"),
        (status = 202, description = "Conversations still run on it: switched off instead; delete it again once they have ended", body = SwitchedOff),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[delete("/api/admin/playbooks/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let outcome = admin
        .change_row(&state, id, owned, move |conn, company, row| {
            let outcome = store::delete(conn, company, &row.id, |conv, state| {
                Ok(FlowState::read(conv, state)?.is_running())
            })?;
            let (action, detail) = match outcome {
                Deleted::Deleted => ("playbook.delete", json!({ "name": row.name })),
                Deleted::SwitchedOff { running } => (
                    "playbook.switch_off",
                    json!({ "before": row.enabled, "after": false, "running_conversations": running }),
                ),
                Deleted::NotFound => return Err(AppError::not_found()),
            };
            Ok((outcome, Some(logged(action, &row, detail))))
        })
        .await?;
    Ok(match outcome {
        Deleted::SwitchedOff { running } => HttpResponse::Accepted().json(SwitchedOff {
            deleted: false,
            enabled: false,
            running_conversations: running,
            message: format!(
                "{running} conversation(s) still run on this playbook: it is switched off and \
                 can be deleted once they have ended"
            ),
        }),
        _ => HttpResponse::NoContent().finish(),
    })
}

#[utoipa::path(
    get,
    path = "/api/admin/playbooks/{id}/export",
    tag = "admin",
    params(("id" = String, Path), ExportQuery),
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The draft (or a version) as a YAML file", content_type = "application/yaml", body = String),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[get("/api/admin/playbooks/{id}/export")]
pub async fn export(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, AppError> {
    let (id, version) = (path.into_inner(), query.version);
    let (row, document) = state
        .db
        .run(move |conn| {
            let row = owned(conn, &admin.company_id, &id)?;
            let document = match version {
                Some(n) => Some(
                    store::version_by_number(conn, &admin.company_id, &id, n)?
                        .ok_or_else(AppError::not_found)?
                        .document,
                ),
                None => None,
            };
            Ok::<_, AppError>((row, document))
        })
        .await?;
    let yaml = match document {
        Some(document) => {
            let playbook: Playbook = serde_json::from_str(&document).map_err(AppError::internal)?;
            emit::to_yaml(&playbook).map_err(AppError::internal)?
        }
        None => {
            let (text, format) = draft_text(&row)?;
            match check_text(&text, format) {
                Ok(playbook) => emit::to_yaml(&playbook).map_err(AppError::internal)?,
                Err(_) => match format {
                    Format::Yaml => text,
                    Format::Json => readable(&text, format)
                        .and_then(|v| emit::value_to_yaml(&v).ok())
                        .unwrap_or(text),
                },
            }
        }
    };
    Ok(HttpResponse::build(StatusCode::OK)
        .content_type("application/yaml; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!(
                "attachment; filename=\"{}.yaml\"",
                safe_file_name(&row.slug)
            ),
        ))
        .body(yaml))
}

/// A slug as a file name: letters, digits, `-` and `_` only.
fn safe_file_name(slug: &str) -> String {
    let name: String = slug
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    if name.is_empty() {
        "playbook".into()
    } else {
        name
    }
}
