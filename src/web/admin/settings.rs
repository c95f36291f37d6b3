//! `/api/admin/settings` (the widget's look, language, time zone, business hours, live
//! chat, notification e-mails, exit words, the fallback reply) and `/api/admin/embed`
//! (the snippet, the identity secret and its rotation). A `PUT` changes the fields it
//! names and keeps the others; the audit log keeps `before → after` per field.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, put, web};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::Admin;
use super::change::Logged;
use crate::chat::targeting;
use crate::db::DbConn;
use crate::db::companies::{self, CompanySettings};
use crate::web::ErrorCode;
use crate::web::demo::Embed;
use crate::web::visitor::types::ErrorBody;
use crate::web::{AppError, AppState};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(get_settings)
        .service(put_settings)
        .service(embed)
        .service(rotate_identity_secret);
}

/// A field that cannot be saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldProblem {
    /// Dotted path, e.g. `live_chat.max_open_chats` or `business_hours.2`.
    pub field: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmbedInfo {
    /// The company's public key, carried by the snippet.
    pub public_key: String,
    /// Paste before `</body>` on every page of the website.
    pub snippet: String,
    /// Signs visitor identities: `hash` = hex HMAC-SHA256 of the e-mail with this secret,
    /// computed on the website's server, never in the browser.
    pub identity_secret: String,
    /// `Concierge.identify({ … })` as the website calls it.
    pub identify_example: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    pub identity_secret: String,
}

fn company(conn: &mut DbConn, id: &str) -> Result<companies::Company, AppError> {
    companies::by_id(conn, id)?.ok_or_else(AppError::not_found)
}

#[utoipa::path(
    get,
    path = "/api/admin/settings",
    tag = "admin",
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, body = CompanySettings),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    )
)]
#[get("/api/admin/settings")]
pub async fn get_settings(
    state: web::Data<AppState>,
    admin: Admin,
) -> Result<HttpResponse, AppError> {
    let company = state
        .db
        .run(move |conn| company(conn, &admin.company_id))
        .await?;
    Ok(HttpResponse::Ok().json(company.settings()))
}

#[utoipa::path(
    put,
    path = "/api/admin/settings",
    tag = "admin",
    request_body(content = CompanySettings, description = "The fields to change; the others keep their values"),
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The settings now", body = CompanySettings),
        (status = 400, description = "Not JSON, or a field that does not exist", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 422, description = "`invalid_settings`, every problem in `error.problems` as `{field, message}`", body = ErrorBody),
    )
)]
#[put("/api/admin/settings")]
pub async fn put_settings(
    state: web::Data<AppState>,
    admin: Admin,
    body: crate::web::json::Json<Value>,
) -> Result<HttpResponse, AppError> {
    let patch = body.0;
    let settings = admin
        .change(&state, move |conn, company_id| {
            let company = company(conn, company_id)?;
            let before = company.settings();
            let after = apply(&before, &patch)?;
            let changes = changes(&before, &after);
            // Saving the same values changes nothing.
            let logged = if changes.is_empty() {
                None
            } else {
                companies::update_settings(conn, &company.id, &after)?;
                let detail = json!({ "changes": changes });
                Some(Logged::about("settings.update", "settings", detail))
            };
            Ok((after, logged))
        })
        .await?;
    Ok(HttpResponse::Ok().json(settings))
}

/// `before` with the fields of `patch` changed, checked.
fn apply(before: &CompanySettings, patch: &Value) -> Result<CompanySettings, AppError> {
    let Value::Object(patch) = patch else {
        return Err(AppError::bad_request(
            ErrorCode::InvalidJson,
            "the settings are a JSON object of the fields to change",
        ));
    };
    let mut merged = serde_json::to_value(before).map_err(AppError::internal)?;
    merge(&mut merged, patch, "")?;
    let after: CompanySettings = serde_json::from_value(merged.clone()).map_err(|e| {
        AppError::bad_request(ErrorCode::InvalidJson, format!("settings: {e}"))
            .with_details(json!({ "path": "." }))
    })?;
    let problems = check(&after);
    if problems.is_empty() {
        Ok(after)
    } else {
        Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidSettings,
            problems
                .iter()
                .map(|p| format!("{}: {}", p.field, p.message))
                .collect::<Vec<_>>()
                .join("; "),
        )
        .with_field("problems", json!(problems)))
    }
}

/// Set the fields of `patch` in `target`; objects (like `live_chat`) field by field.
fn merge(target: &mut Value, patch: &Map<String, Value>, at: &str) -> Result<(), AppError> {
    let Value::Object(target) = target else {
        return Ok(());
    };
    for (key, value) in patch {
        let path = if at.is_empty() {
            key.clone()
        } else {
            format!("{at}.{key}")
        };
        match (target.get_mut(key), value) {
            (None, _) => {
                return Err(AppError::bad_request(
                    ErrorCode::InvalidJson,
                    format!("{path}: there is no such setting"),
                )
                .with_details(json!({ "path": path })));
            }
            (Some(inner @ Value::Object(_)), Value::Object(fields)) => merge(inner, fields, &path)?,
            (Some(slot), value) => *slot = value.clone(),
        }
    }
    Ok(())
}

/// Every problem of a set of settings.
pub fn check(s: &CompanySettings) -> Vec<FieldProblem> {
    let mut out = Vec::new();
    let mut bad = |field: &str, message: String| {
        out.push(FieldProblem {
            field: field.to_owned(),
            message,
        })
    };
    let name = s.bot_name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        bad(
            "bot_name",
            "give the widget a name of 1 to 60 characters".into(),
        );
    }
    if let Some(url) = &s.avatar_url
        && !url.is_empty()
        && !(url.starts_with("https://") || url.starts_with("http://") || url.starts_with('/'))
    {
        bad(
            "avatar_url",
            "an avatar is an http(s) address or a path on this app".into(),
        );
    }
    let hex = s.color.strip_prefix('#').unwrap_or("");
    if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        bad(
            "color",
            format!("'{}' is not a colour like #2f6fed", s.color),
        );
    }
    if s.position != "right" && s.position != "left" {
        bad(
            "position",
            "the widget sits on the 'right' or the 'left'".into(),
        );
    }
    if s.timezone.parse::<chrono_tz::Tz>().is_err() {
        bad(
            "timezone",
            format!("'{}' is not a time zone like Europe/Paris", s.timezone),
        );
    }
    if s.business_hours.len() != 7 {
        bad(
            "business_hours",
            "give seven days, Monday first (an empty list is a closed day)".into(),
        );
    }
    for (day, ranges) in s.business_hours.iter().enumerate() {
        for range in ranges {
            if targeting::parse_range(range).is_none() {
                bad(
                    &format!("business_hours.{day}"),
                    format!("'{range}' is not opening hours like 09:00-17:30"),
                );
            }
        }
    }
    for (i, day) in s.holidays.iter().enumerate() {
        if targeting::parse_holiday(day).is_none() {
            bad(
                &format!("holidays.{i}"),
                format!("'{day}' is not a date like 2026-12-25"),
            );
        }
    }
    if s.holidays.len() > 366 {
        bad("holidays", "at most 366 holidays".into());
    }
    for (i, email) in s.notification_emails.iter().enumerate() {
        if !email_address::EmailAddress::is_valid(email.trim()) {
            bad(
                &format!("notification_emails.{i}"),
                format!("'{email}' is not an e-mail address"),
            );
        }
    }
    if s.exit_words.iter().any(|w| w.trim().is_empty()) {
        bad("exit_words", "an exit word cannot be empty".into());
    }
    if s.fallback_reply.trim().is_empty() || s.fallback_reply.chars().count() > 4000 {
        bad(
            "fallback_reply",
            "the fallback reply must be 1 to 4000 characters".into(),
        );
    }
    if !(10..=3600).contains(&s.heartbeat_timeout_seconds) {
        bad(
            "heartbeat_timeout_seconds",
            "between 10 and 3600 seconds".into(),
        );
    }
    let live = &s.live_chat;
    if !(1..=100).contains(&live.max_open_chats) {
        bad(
            "live_chat.max_open_chats",
            "between 1 and 100 open chats".into(),
        );
    }
    if !(1..=1440).contains(&live.unanswered_minutes) {
        bad(
            "live_chat.unanswered_minutes",
            "between 1 and 1440 minutes".into(),
        );
    }
    if !(5..=600).contains(&live.offer_seconds) {
        bad(
            "live_chat.offer_seconds",
            "between 5 and 600 seconds".into(),
        );
    }
    out
}

/// `{FIELD: {"before", "after"}}` for each field that changed (`live_chat.*` one by one).
fn changes(before: &CompanySettings, after: &CompanySettings) -> Map<String, Value> {
    let flat = |s: &CompanySettings| {
        let mut out = Map::new();
        if let Ok(Value::Object(fields)) = serde_json::to_value(s) {
            for (k, v) in fields {
                match v {
                    Value::Object(inner) => {
                        for (ik, iv) in inner {
                            out.insert(format!("{k}.{ik}"), iv);
                        }
                    }
                    v => {
                        out.insert(k, v);
                    }
                }
            }
        }
        out
    };
    let (b, a) = (flat(before), flat(after));
    a.into_iter()
        .filter(|(k, v)| b.get(k) != Some(v))
        .map(|(k, v)| {
            let was = b.get(&k).cloned().unwrap_or(Value::Null);
            (k, json!({ "before": was, "after": v }))
        })
        .collect()
}

#[utoipa::path(
    get,
    path = "/api/admin/embed",
    tag = "admin",
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, body = EmbedInfo),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    )
)]
#[get("/api/admin/embed")]
pub async fn embed(state: web::Data<AppState>, admin: Admin) -> Result<HttpResponse, AppError> {
    let company = state
        .db
        .run(move |conn| company(conn, &admin.company_id))
        .await?;
    let embed = Embed::of(&company, &state.config.public_url);
    Ok(HttpResponse::Ok().json(EmbedInfo {
        snippet: format!(
            "<script src=\"{}\" data-key=\"{}\" async></script>",
            embed.src, embed.key
        ),
        public_key: company.public_key,
        identity_secret: company.identity_secret,
        identify_example: "Concierge.identify({ email: \"ada@example.com\", name: \"Ada\", \
                           hash: \"<hex HMAC-SHA256 of the e-mail, made on your server>\" })"
            .into(),
    }))
}

#[utoipa::path(
    post,
    path = "/api/admin/embed/identity-secret",
    tag = "admin",
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A new identity secret: hashes made with the old one stop verifying", body = RotatedSecret),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    )
)]
#[post("/api/admin/embed/identity-secret")]
pub async fn rotate_identity_secret(
    state: web::Data<AppState>,
    admin: Admin,
) -> Result<HttpResponse, AppError> {
    let secret = admin
        .change(&state, move |conn, company| {
            let secret = companies::rotate_identity_secret(conn, company)?;
            let logged = Logged::about("identity_secret.rotate", "identity secret", json!({}));
            Ok((secret, Some(logged)))
        })
        .await?;
    Ok(HttpResponse::Ok().json(RotatedSecret {
        identity_secret: secret,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_changes_only_its_fields_and_is_checked() {
        let before = CompanySettings::default();
        let after = apply(
            &before,
            &json!({ "color": "#112233", "live_chat": { "max_open_chats": 2 } }),
        )
        .unwrap();
        assert_eq!(after.color, "#112233");
        assert_eq!(after.live_chat.max_open_chats, 2);
        assert_eq!(after.live_chat.unanswered_minutes, 3);
        assert_eq!(after.bot_name, before.bot_name);
        let c = changes(&before, &after);
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c["color"]["before"], json!("#2f6fed"));
        assert_eq!(c["live_chat.max_open_chats"]["after"], json!(2));

        let err = apply(&before, &json!({ "colour": "#112233" })).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        let err = apply(
            &before,
            &json!({ "timezone": "Mars/Olympus", "business_hours": [["9-5"], [], [], [], [], [], []] }),
        )
        .unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        let problems = &err.details.unwrap()["problems"];
        assert_eq!(problems.as_array().unwrap().len(), 2, "{problems}");
    }
}
