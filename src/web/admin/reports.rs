//! `GET /api/admin/reports/playbooks/{id}`: the report of one playbook for a range of days,
//! optionally one published version and one audience, as JSON, CSV or the HTML the
//! settings page shows (charts drawn on the server, each with its table);
//! `…/compare?a=&b=`: two versions side by side.

use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::Admin;
use super::report_view;
use crate::db;
use crate::reports::load::{DayRange, PlaybookReport, playbook_report};
use crate::reports::{Filter, csv};
use crate::web::ErrorCode;
use crate::web::visitor::types::ErrorBody;
use crate::web::{AppError, AppState};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(compare).service(report);
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReportQuery {
    /// `today`, `7d`, `30d` (the default) or `custom` (with `from` and `to`).
    pub range: Option<String>,
    /// First day of a custom range, `YYYY-MM-DD` (UTC).
    pub from: Option<String>,
    /// Last day of a custom range, included (at most 366 days in all).
    pub to: Option<String>,
    /// Only this published version.
    pub version: Option<i32>,
    /// `true`: only identified visitors; `false`: only anonymous ones.
    pub known: Option<bool>,
    /// `true`: only returning visitors; `false`: only first visits.
    pub returning: Option<bool>,
    /// `json` (the default), `csv` or `html` (the settings page's fragment).
    pub format: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CompareQuery {
    /// One version.
    pub a: i32,
    /// The version to compare it with.
    pub b: i32,
}

/// Two versions of one playbook over the same range and audience.
#[derive(Debug, Serialize, ToSchema)]
pub struct Comparison {
    pub a: PlaybookReport,
    pub b: PlaybookReport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Html,
}

impl ReportQuery {
    fn format(&self) -> Result<Format, AppError> {
        match self.format.as_deref() {
            None | Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some("html") => Ok(Format::Html),
            Some(_) => Err(AppError::bad_request(
                ErrorCode::InvalidFormat,
                "format is json, csv or html",
            )),
        }
    }

    fn range(&self, now_ms: i64) -> Result<DayRange, AppError> {
        match self.range.as_deref() {
            Some("today") => Ok(DayRange::last(1, now_ms)),
            Some("7d") => Ok(DayRange::last(7, now_ms)),
            None | Some("30d") => Ok(DayRange::last(30, now_ms)),
            Some("custom") => {
                let (from, to) = (self.from.as_deref(), self.to.as_deref());
                from.zip(to)
                    .and_then(|(f, t)| DayRange::custom(f, t))
                    .ok_or_else(|| {
                        AppError::bad_request(
                            ErrorCode::InvalidRange,
                            "a custom range needs from and to as YYYY-MM-DD, from not after \
                             to, at most 366 days",
                        )
                    })
            }
            Some(_) => Err(AppError::bad_request(
                ErrorCode::InvalidRange,
                "range is today, 7d, 30d or custom",
            )),
        }
    }

    fn filter(&self, version: Option<i32>) -> Filter {
        Filter {
            version,
            known: self.known,
            returning: self.returning,
        }
    }
}

fn attachment(name: &str, content_type: &str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type))
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .body(body)
}

/// A file name of plain characters: the slug and the range.
fn file_name(r: &PlaybookReport, extra: &str, ext: &str) -> String {
    let slug: String = r
        .playbook
        .slug
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    format!("report-{slug}{extra}-{}-{}.{ext}", r.from, r.to)
}

#[utoipa::path(
    get,
    path = "/api/admin/reports/playbooks/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "The playbook"), ReportQuery),
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The report (JSON); with `format=csv` a CSV file `section,item,measure,value`; with `format=html` the settings page's charts and tables", body = PlaybookReport),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[get("/api/admin/reports/playbooks/{id}")]
pub async fn report(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, AppError> {
    let now = db::now_ms();
    let (format, range) = (query.format()?, query.range(now)?);
    let filter = query.filter(query.version);
    let id = path.into_inner();
    let report = state
        .db
        .run(move |conn| playbook_report(conn, &admin.company_id, &id, range, &filter, now))
        .await?
        .ok_or_else(AppError::not_found)?;
    Ok(match format {
        Format::Json => HttpResponse::Ok().json(&report),
        Format::Csv => attachment(
            &file_name(&report, "", "csv"),
            "text/csv; charset=utf-8",
            csv::render(&report.report),
        ),
        Format::Html => report_view::one(&report)?,
    })
}

#[utoipa::path(
    get,
    path = "/api/admin/reports/playbooks/{id}/compare",
    tag = "admin",
    params(("id" = String, Path, description = "The playbook"), CompareQuery, ReportQuery),
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Both reports (JSON); with `format=csv` one CSV file `version,section,item,measure,value`; with `format=html` the settings page's table", body = Comparison),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[get("/api/admin/reports/playbooks/{id}/compare")]
pub async fn compare(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
    versions: web::Query<CompareQuery>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, AppError> {
    let now = db::now_ms();
    let q = versions.into_inner();
    let (format, range) = (query.format()?, query.range(now)?);
    let (fa, fb) = (query.filter(Some(q.a)), query.filter(Some(q.b)));
    let id = path.into_inner();
    let (a, b) = state
        .db
        .run(move |conn| {
            let a = playbook_report(conn, &admin.company_id, &id, range, &fa, now)?;
            let b = playbook_report(conn, &admin.company_id, &id, range, &fb, now)?;
            Ok::<_, db::DbError>(a.zip(b))
        })
        .await?
        .ok_or_else(AppError::not_found)?;
    for r in [&a, &b] {
        let v = r.filter.version.unwrap_or_default();
        if !r.playbook.versions.contains(&v) {
            return Err(AppError::bad_request(
                ErrorCode::UnknownVersion,
                format!("the playbook has no published version {v}"),
            ));
        }
    }
    Ok(match format {
        Format::Json => HttpResponse::Ok().json(Comparison { a, b }),
        Format::Csv => {
            let mut body = String::from("version,section,item,measure,value\r\n");
            for r in [&a, &b] {
                let v = r.filter.version.unwrap_or_default();
                for line in csv::render(&r.report).lines().skip(1) {
                    body.push_str(&format!("{v},{line}\r\n"));
                }
            }
            let extra = format!("-v{}-v{}", q.a, q.b);
            attachment(
                &file_name(&a, &extra, "csv"),
                "text/csv; charset=utf-8",
                body,
            )
        }
        Format::Html => report_view::compare(&a, &b)?,
    })
}
