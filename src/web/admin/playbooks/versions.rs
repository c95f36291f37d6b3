//! A playbook's published versions: the list, one version with its document, restore.

use super::*;

fn info(v: &store::VersionRow) -> VersionInfo {
    VersionInfo {
        version: v.version,
        note: v.note.clone(),
        author: v.author.clone(),
        published_at: v.published_at,
    }
}

#[utoipa::path(
    get,
    path = "/api/admin/playbooks/{id}/versions",
    tag = "admin",
    params(("id" = String, Path)),
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Newest first", body = VersionList),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[get("/api/admin/playbooks/{id}/versions")]
pub async fn version_list(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let rows = state
        .db
        .run(move |conn| {
            owned(conn, &admin.company_id, &id)?;
            Ok::<_, AppError>(store::versions(conn, &admin.company_id, &id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(VersionList {
        versions: rows.iter().map(info).collect(),
    }))
}

#[utoipa::path(
    get,
    path = "/api/admin/playbooks/{id}/versions/{version}",
    tag = "admin",
    params(("id" = String, Path), ("version" = i32, Path)),
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, body = VersionDetail),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[get("/api/admin/playbooks/{id}/versions/{version}")]
pub async fn version_detail(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<(String, i32)>,
) -> Result<HttpResponse, AppError> {
    let (id, number) = path.into_inner();
    let row = state
        .db
        .run(move |conn| store::version_by_number(conn, &admin.company_id, &id, number))
        .await?
        .ok_or_else(AppError::not_found)?;
    let document: Value = serde_json::from_str(&row.document).map_err(AppError::internal)?;
    let yaml = emit::value_to_yaml(&document).map_err(AppError::internal)?;
    Ok(HttpResponse::Ok().json(VersionDetail {
        info: info(&row),
        document,
        yaml,
    }))
}

#[utoipa::path(
    post,
    path = "/api/admin/playbooks/{id}/versions/{version}/restore",
    tag = "admin",
    params(("id" = String, Path), ("version" = i32, Path)),
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The version is the draft again (publish it like any other)", body = Problems),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[post("/api/admin/playbooks/{id}/versions/{version}/restore")]
pub async fn restore(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<(String, i32)>,
) -> Result<HttpResponse, AppError> {
    let (id, number) = path.into_inner();
    let result = admin
        .change_row(&state, id, owned, move |conn, company, row| {
            let v = store::version_by_number(conn, company, &row.id, number)?
                .ok_or_else(AppError::not_found)?;
            let playbook: Playbook =
                serde_json::from_str(&v.document).map_err(AppError::internal)?;
            let yaml = emit::to_yaml(&playbook).map_err(AppError::internal)?;
            store::update_draft(conn, company, &row.id, Some(v.document), &yaml)?;
            let restored = Problems {
                problems: Vec::new(),
                paths: Some(path_text(&playbook)),
            };
            let detail = json!({ "version": number });
            Ok((restored, Some(logged("playbook.restore", &row, detail))))
        })
        .await?;
    Ok(HttpResponse::Ok().json(result))
}
