//! `PUT /api/admin/playbooks/order`: the admin's order of the playbook list, which is the
//! order targeting uses when several playbooks match a page. The list is the source of
//! truth: each playbook gets a priority from its place (the first the highest), and
//! publishing leaves priorities alone.

use std::collections::HashSet;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, put, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::Admin;
use super::change::Logged;
use crate::db::playbooks::{self as store, PlaybookRow};
use crate::web::json::Json;
use crate::web::visitor::types::ErrorBody;
use crate::web::{AppError, AppState, ErrorCode};

/// The gap between neighbours' priorities, so a document's own priority can still land
/// between two of them when a playbook is created.
const STEP: i64 = 10;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(reorder);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderBody {
    /// Every playbook id of the company, the one that wins first.
    pub ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Ordered {
    pub playbooks: Vec<Placed>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Placed {
    pub id: String,
    pub slug: String,
    pub priority: i64,
}

/// The priorities of `ids` in order: the first gets the highest, the last `STEP`.
pub fn priorities(ids: &[String]) -> Vec<(String, i64)> {
    let n = ids.len() as i64;
    ids.iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), (n - i as i64) * STEP))
        .collect()
}

/// 422 unless `ids` names every playbook of the company exactly once.
fn check_complete(ids: &[String], rows: &[PlaybookRow]) -> Result<(), AppError> {
    let given: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let known: HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    if given.len() == ids.len() && given == known {
        return Ok(());
    }
    Err(AppError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::OrderMismatch,
        "the order must name every playbook of the company exactly once; reload the list and \
         try again",
    ))
}

/// The slugs of `rows` by descending priority, as the list shows them.
fn slugs_in_order(rows: &mut [PlaybookRow]) -> Vec<String> {
    rows.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.slug.cmp(&b.slug)));
    rows.iter().map(|r| r.slug.clone()).collect()
}

#[utoipa::path(
    put,
    path = "/api/admin/playbooks/order",
    tag = "admin",
    request_body = OrderBody,
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The new priorities, highest first", body = Ordered),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 422, description = "`order_mismatch`: the ids are not every playbook of the company, once each", body = ErrorBody),
    )
)]
#[put("/api/admin/playbooks/order")]
pub async fn reorder(
    state: web::Data<AppState>,
    admin: Admin,
    body: Json<OrderBody>,
) -> Result<HttpResponse, AppError> {
    let ids = body.0.ids;
    let placed = admin
        .change(&state, move |conn, company| {
            let mut rows = store::list(conn, company)?;
            check_complete(&ids, &rows)?;
            let before = slugs_in_order(&mut rows);
            let wanted = priorities(&ids);
            store::set_priorities(conn, company, &wanted)?;
            let mut rows = store::list(conn, company)?;
            let after = slugs_in_order(&mut rows);
            // The same order again changes nothing.
            let logged = (before != after).then(|| {
                let detail = json!({ "before": before, "after": after });
                Logged::about("playbook.reorder", "playbooks", detail)
            });
            let placed: Vec<Placed> = rows
                .into_iter()
                .map(|r| Placed {
                    id: r.id,
                    slug: r.slug,
                    priority: r.priority,
                })
                .collect();
            Ok((placed, logged))
        })
        .await?;
    Ok(HttpResponse::Ok().json(Ordered { playbooks: placed }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_gets_the_highest_priority() {
        let ids: Vec<String> = ["b", "a", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            priorities(&ids),
            [("b".into(), 30), ("a".into(), 20), ("c".into(), 10)]
        );
    }
}
