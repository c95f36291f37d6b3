//! `/api/admin/playbooks`: the list, create, the draft, publish with a note, and
//! `/api/admin/validate`; the versions and restore (`versions`), the on/off switch, delete
//! and export (`lifecycle`). Every change is
//! written with its audit log row in one transaction.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, post, put, web};
use serde_json::{Value, json};

use super::Admin;
use super::change::Logged;
use super::document::{ApiProblem, PlaybookText, check_text, format_of, invalid, readable};
use super::words::describe_trigger;
use crate::chat::flow::FlowState;
use crate::db::playbooks::{self as store, Deleted, NewPlaybook, PlaybookRow};
use crate::db::{self, DbConn, DbError, analytics};
use crate::playbook::Playbook;
use crate::playbook::emit;
use crate::playbook::load::{Format, json_lines, yaml};
use crate::playbook::paths::paths;
use crate::web::ErrorCode;
use crate::web::json::Json;
use crate::web::visitor::types::ErrorBody;
use crate::web::{AppError, AppState};

/// Longest publish note, in characters.
const MAX_NOTE_CHARS: usize = 2000;
/// Most paths the editor lists.
const PATH_LIMIT: usize = 200;
/// The window of the list's counts.
const STATS_DAYS: i64 = 7;

mod lifecycle;
mod types;
mod versions;

pub use lifecycle::{
    __path_export, __path_remove, __path_set_enabled, export, remove, set_enabled,
};
pub use types::{
    Checked, Created, EnabledBody, EnabledState, ExportQuery, PlaybookDetail, PlaybookList,
    PlaybookSummary, Problems, PublishBody, PublishedVersion, Stats, SwitchedOff, VersionDetail,
    VersionInfo, VersionList,
};
pub use versions::{
    __path_restore, __path_version_detail, __path_version_list, restore, version_detail,
    version_list,
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(validate)
        .service(get_one)
        .service(put_draft)
        .service(publish)
        .service(version_list)
        .service(version_detail)
        .service(restore)
        .service(set_enabled)
        .service(remove)
        .service(export);
}

/// The audit log entry of a change to a playbook.
fn logged(action: &'static str, row: &PlaybookRow, detail: Value) -> Logged {
    Logged::new(action, &row.id, &row.slug, detail)
}

/// The draft's text and how it is written. A stored draft that is not JSON is an error
/// naming the playbook (logged with it), never shown as an empty draft.
pub(super) fn draft_text(row: &PlaybookRow) -> Result<(String, Format), AppError> {
    match &row.draft_source {
        Some(source) => Ok((source.clone(), format_of(source))),
        None => {
            let draft = stored_draft(row)?;
            let yaml = emit::value_to_yaml(&draft).map_err(AppError::internal)?;
            Ok((yaml, Format::Yaml))
        }
    }
}

/// The stored draft document (a playbook, or the readable part of a draft with
/// problems); unreadable JSON is an error naming the playbook.
fn stored_draft(row: &PlaybookRow) -> Result<Value, DbError> {
    db::stored_json("playbooks", &row.id, "draft", &row.draft)
}

/// The line of `pointer` in a text.
fn line_of(text: &str, format: Format, pointer: &str) -> Option<usize> {
    match format {
        Format::Yaml => yaml::parse(text, true).ok()?.lines.line(pointer),
        Format::Json => json_lines::lines(text).line(pointer),
    }
}

/// The problems of a draft text for the playbook with `slug`: the format's and the rule
/// that a playbook keeps its slug.
pub(super) fn draft_problems(
    text: &str,
    format: Format,
    slug: &str,
) -> Result<Playbook, Vec<ApiProblem>> {
    let mut problems = match check_text(text, format) {
        Ok(playbook) if playbook.slug == slug => return Ok(playbook),
        Ok(_) => Vec::new(),
        Err(problems) => problems,
    };
    if let Some(other) = readable(text, format)
        .as_ref()
        .and_then(|v| v.get("slug"))
        .and_then(Value::as_str)
        .filter(|s| *s != slug)
    {
        problems.push(ApiProblem {
            card: None,
            line: line_of(text, format, "/slug"),
            message: format!(
                "this playbook's slug is '{slug}' for good; to use '{other}', create a new playbook"
            ),
            pointer: "/slug".into(),
        });
        problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
    }
    Err(problems)
}

fn path_text(playbook: &Playbook) -> String {
    paths(playbook, PATH_LIMIT).render()
}

fn summary(
    row: &PlaybookRow,
    published: Option<&(String, i64)>,
    stats: Stats,
    problems: usize,
) -> Result<PlaybookSummary, AppError> {
    // A draft with problems need not be a whole playbook: then no trigger is described.
    let document: Option<Playbook> = serde_json::from_value(stored_draft(row)?).ok();
    Ok(PlaybookSummary {
        id: row.id.clone(),
        slug: row.slug.clone(),
        name: row.name.clone(),
        enabled: row.enabled,
        priority: row.priority,
        published_version: row.published_version,
        published_at: published.map(|(_, at)| *at),
        has_unpublished_changes: problems > 0 || published.is_none_or(|(doc, _)| *doc != row.draft),
        draft_problems: problems,
        trigger: document
            .map(|d| describe_trigger(&d.trigger))
            .unwrap_or_default(),
        stats_7_days: stats,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn problem_count(row: &PlaybookRow) -> Result<usize, AppError> {
    let (text, format) = draft_text(row)?;
    Ok(draft_problems(&text, format, &row.slug)
        .err()
        .map_or(0, |p| p.len()))
}

#[utoipa::path(
    get,
    path = "/api/admin/playbooks",
    tag = "admin",
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, body = PlaybookList),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    )
)]
#[get("/api/admin/playbooks")]
pub async fn list(state: web::Data<AppState>, admin: Admin) -> Result<HttpResponse, AppError> {
    let company = admin.company_id.clone();
    let since = db::now_ms() - STATS_DAYS * 24 * 3600 * 1000;
    let (rows, published, counts) = state
        .db
        .run(move |conn| {
            let rows = store::list(conn, &company)?;
            let published = store::published_at(conn, &company)?;
            let counts = analytics::counts_since(
                conn,
                &company,
                &[
                    analytics::kind::SHOWN,
                    analytics::kind::ENGAGED,
                    analytics::kind::CONVERTED,
                ],
                since,
            )?;
            Ok::<_, DbError>((rows, published, counts))
        })
        .await?;
    let published: HashMap<String, (String, i64)> = published
        .into_iter()
        .map(|(id, doc, at)| (id, (doc, at)))
        .collect();
    let mut stats: HashMap<String, Stats> = HashMap::new();
    for (playbook, kind, n) in counts {
        let s = stats.entry(playbook).or_default();
        match kind.as_str() {
            analytics::kind::SHOWN => s.shown = n,
            analytics::kind::ENGAGED => s.engaged = n,
            _ => s.converted = n,
        }
    }
    let mut playbooks: Vec<PlaybookSummary> = rows
        .iter()
        .map(|row| {
            summary(
                row,
                published.get(&row.id),
                stats.remove(&row.id).unwrap_or_default(),
                problem_count(row)?,
            )
        })
        .collect::<Result<_, AppError>>()?;
    playbooks.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.slug.cmp(&b.slug)));
    Ok(HttpResponse::Ok().json(PlaybookList { playbooks }))
}

#[utoipa::path(
    post,
    path = "/api/admin/playbooks",
    tag = "admin",
    request_body(content = String, description = "A playbook as YAML or JSON", content_type = "application/yaml"),
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 201, body = Created),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "The company already has a playbook with this slug (`slug_taken`)", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody),
        (status = 422, description = "`invalid_playbook` with every problem in `error.problems`", body = ErrorBody),
    )
)]
#[post("/api/admin/playbooks")]
pub async fn create(
    state: web::Data<AppState>,
    admin: Admin,
    body: PlaybookText,
) -> Result<HttpResponse, AppError> {
    let playbook = body.check().map_err(|p| invalid(&p))?;
    let draft = serde_json::to_string(&playbook).map_err(AppError::internal)?;
    let owner = admin.actor.crm_user_id;
    let row = admin
        .change(&state, move |conn, company| {
            let row = store::create(
                conn,
                company,
                NewPlaybook {
                    slug: &playbook.slug,
                    name: &playbook.name,
                    priority: playbook.priority,
                    draft,
                    source: Some(body.text),
                    owner_crm_user_id: owner,
                },
            )
            .map_err(|e| {
                if e.is_unique_violation() {
                    AppError::conflict(
                        ErrorCode::SlugTaken,
                        format!(
                            "the company already has a playbook '{}': change its draft, or \
                             choose another slug",
                            playbook.slug
                        ),
                    )
                } else {
                    e.into()
                }
            })?;
            let created = logged("playbook.create", &row, json!({ "name": row.name }));
            Ok((row, Some(created)))
        })
        .await?;
    Ok(HttpResponse::Created().json(Created {
        id: row.id,
        slug: row.slug,
    }))
}

#[utoipa::path(
    post,
    path = "/api/admin/validate",
    tag = "admin",
    request_body(content = String, description = "A playbook as YAML or JSON", content_type = "application/yaml"),
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Every problem (none when valid); nothing is stored", body = Checked),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody),
    )
)]
#[post("/api/admin/validate")]
pub async fn validate(_admin: Admin, body: PlaybookText) -> Result<HttpResponse, AppError> {
    let result = web::block(move || checked(&body))
        .await
        .map_err(AppError::internal)?;
    Ok(HttpResponse::Ok().json(result))
}

/// Every problem of a text, its paths when valid and the document as read.
pub fn checked(body: &PlaybookText) -> Checked {
    let document = body.readable();
    match body.check() {
        Ok(playbook) => Checked {
            problems: Vec::new(),
            paths: Some(path_text(&playbook)),
            document,
        },
        Err(problems) => Checked {
            problems,
            paths: None,
            document,
        },
    }
}

/// A company's playbook, or 404 (another company's looks the same as none).
pub(super) fn owned(conn: &mut DbConn, company: &str, id: &str) -> Result<PlaybookRow, AppError> {
    store::by_id(conn, company, id)?.ok_or_else(AppError::not_found)
}

#[utoipa::path(
    get,
    path = "/api/admin/playbooks/{id}",
    tag = "admin",
    params(("id" = String, Path)),
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, body = PlaybookDetail),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[get("/api/admin/playbooks/{id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let company = admin.company_id.clone();
    let (row, published) = state
        .db
        .run(move |conn| {
            let row = owned(conn, &company, &id)?;
            let published = match row.published_version {
                Some(n) => store::version_by_number(conn, &company, &row.id, n)?
                    .map(|v| (v.document, v.published_at)),
                None => None,
            };
            Ok::<_, AppError>((row, published))
        })
        .await?;
    let (source, format) = draft_text(&row)?;
    let checked = draft_problems(&source, format, &row.slug);
    let (problems, paths) = match &checked {
        Ok(playbook) => (Vec::new(), Some(path_text(playbook))),
        Err(problems) => (problems.clone(), None),
    };
    let document = stored_draft(&row)?;
    Ok(HttpResponse::Ok().json(PlaybookDetail {
        summary: summary(&row, published.as_ref(), Stats::default(), problems.len())?,
        source,
        format: match format {
            Format::Yaml => "yaml".into(),
            Format::Json => "json".into(),
        },
        document,
        problems,
        paths,
    }))
}

#[utoipa::path(
    put,
    path = "/api/admin/playbooks/{id}/draft",
    tag = "admin",
    params(("id" = String, Path)),
    request_body(content = String, description = "A playbook as YAML or JSON", content_type = "application/yaml"),
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Saved, with the problems found (possibly none)", body = Problems),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody),
    )
)]
#[put("/api/admin/playbooks/{id}/draft")]
pub async fn put_draft(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
    body: PlaybookText,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let result = admin
        .change_row(&state, id, owned, move |conn, company, row| {
            let checked = draft_problems(&body.text, body.format, &row.slug);
            let draft = match &checked {
                Ok(playbook) => Some(serde_json::to_string(playbook).map_err(AppError::internal)?),
                Err(_) => body.readable().map(|v| v.to_string()),
            };
            store::update_draft(conn, company, &row.id, draft, &body.text)?;
            let problems = checked.as_ref().err().map_or(0, Vec::len);
            let saved = logged("playbook.draft", &row, json!({ "problems": problems }));
            let found = match checked {
                Ok(playbook) => Problems {
                    problems: Vec::new(),
                    paths: Some(path_text(&playbook)),
                },
                Err(problems) => Problems {
                    problems,
                    paths: None,
                },
            };
            Ok((found, Some(saved)))
        })
        .await?;
    Ok(HttpResponse::Ok().json(result))
}

#[utoipa::path(
    post,
    path = "/api/admin/playbooks/{id}/publish",
    tag = "admin",
    params(("id" = String, Path)),
    request_body = PublishBody,
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "The new version visitors get from now on", body = PublishedVersion),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "The draft has problems (`invalid_playbook`, every one in `error.problems`)", body = ErrorBody),
    )
)]
#[post("/api/admin/playbooks/{id}/publish")]
pub async fn publish(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
    body: Json<PublishBody>,
) -> Result<HttpResponse, AppError> {
    let note = body.0.note.trim().to_owned();
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(AppError::bad_request(
            ErrorCode::NoteTooLong,
            format!("a note may be at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    let id = path.into_inner();
    let author = admin.actor.name.clone();
    let version = admin
        .change_row(&state, id, owned, move |conn, _, row| {
            let (text, format) = draft_text(&row)?;
            let playbook = draft_problems(&text, format, &row.slug).map_err(|p| invalid(&p))?;
            let published = store::publish_document(conn, &row, &playbook, &note, Some(&author))?;
            let detail = json!({ "version": published.version, "note": note });
            Ok((
                published.version,
                Some(logged("playbook.publish", &row, detail)),
            ))
        })
        .await?;
    Ok(HttpResponse::Created().json(PublishedVersion { version }))
}
