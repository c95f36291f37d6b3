//! The sandbox's pages: a CRM shell imitation (`/sandbox/`), the shell opening the app's
//! `/settings` or `/inbox` in an iframe with a signed token (`/sandbox/app`), and the list
//! of everything the app created (`/sandbox/data`). All text is escaped by askama; note
//! content (HTML written by the app) goes through [`note_html`] and nothing else.

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::oauth::html;
use super::store::{DemoUser, Store};
use super::{HttpError, Sandbox};
use secrecy::ExposeSecret as _;

/// The host side of the app-extensions SDK handshake.
const HOST_JS: &str = include_str!("host.js");
/// Lifetime of iframe tokens and of `GET_SIGNED_TOKEN` answers.
pub const TOKEN_SECS: i64 = 300;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(home))
        .route("/", web::get().to(home))
        .route("/app", web::get().to(app))
        .route("/app/token", web::get().to(app_token))
        .route("/chat", web::get().to(chat))
        .route("/data", web::get().to(data))
        .route(
            "/{kind:person|organization|deal}/{id}",
            web::get().to(record),
        )
        .route("/leads/inbox/{id}", web::get().to(lead))
        .route("/static/host.js", web::get().to(host_js))
        .configure(super::control::routes);
}

/// The claims of the tokens Pipedrive signs for the app's iframes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IframeClaims {
    #[serde(rename = "userId")]
    pub user_id: i64,
    #[serde(rename = "companyId")]
    pub company_id: i64,
    pub iat: i64,
    pub exp: i64,
}

/// An HS256 token for this user, signed with the sandbox's JWT secret.
pub fn sign_iframe_token(sb: &Sandbox, user_id: i64, company_id: i64) -> Result<String, HttpError> {
    let iat = Utc::now().timestamp();
    let claims = IframeClaims {
        user_id,
        company_id,
        iat,
        exp: iat + TOKEN_SECS,
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(
            sb.credentials.jwt_secret.expose_secret().as_bytes(),
        ),
    )
    .map_err(HttpError::internal)
}

/// Note content as the data page shows it: the app's HTML, sanitised (no scripts, no
/// event handlers, no `javascript:` links). The one place sandbox pages emit HTML.
pub fn note_html(content: &str) -> String {
    ammonia::clean(content)
}

#[derive(Template)]
#[template(path = "sandbox/home.html")]
struct HomePage<'a> {
    store: &'a Store,
    public_url: &'a str,
}

async fn home(sb: web::Data<Sandbox>) -> Result<HttpResponse, HttpError> {
    let store = sb.snapshot();
    Ok(html(
        HomePage {
            store: &store,
            public_url: &sb.public_url,
        }
        .render(),
    ))
}

#[derive(Debug, Deserialize)]
struct AppQuery {
    user: Option<i64>,
    surface: Option<String>,
    theme: Option<String>,
}

#[derive(Template)]
#[template(path = "sandbox/app.html")]
struct AppPage<'a> {
    store: &'a Store,
    user: &'a DemoUser,
    surface: &'a str,
    theme: &'a str,
    src: String,
    runtime_id: String,
}

async fn app(q: web::Query<AppQuery>, sb: web::Data<Sandbox>) -> Result<HttpResponse, HttpError> {
    let store = sb.snapshot();
    let user = q
        .user
        .and_then(|id| store.user(id))
        .or(store.users.first())
        .ok_or_else(HttpError::not_found)?;
    let surface = match q.surface.as_deref() {
        Some("inbox") => "inbox",
        _ => "settings",
    };
    let theme = theme_of(q.theme.as_deref());
    let (src, runtime_id) = frame_src(&sb, &store, user, surface, theme)?;
    Ok(html(
        AppPage {
            store: &store,
            user,
            surface,
            theme,
            src,
            runtime_id,
        }
        .render(),
    ))
}

/// The CRM theme a page asks for: `dark` or `light`.
fn theme_of(raw: Option<&str>) -> &'static str {
    match raw {
        Some("dark") => "dark",
        _ => "light",
    }
}

/// The address the shell gives its iframe: the app's `surface` with a fresh signed token,
/// the SDK runtime id and the theme; and that runtime id.
fn frame_src(
    sb: &Sandbox,
    store: &Store,
    user: &DemoUser,
    surface: &str,
    theme: &str,
) -> Result<(String, String), HttpError> {
    let token = sign_iframe_token(sb, user.id, store.company.id)?;
    let runtime_id = uuid::Uuid::new_v4().to_string();
    let mut src =
        url::Url::parse(&format!("{}/{surface}", sb.public_url)).map_err(HttpError::internal)?;
    src.query_pairs_mut()
        .append_pair("userId", &user.id.to_string())
        .append_pair("companyId", &store.company.id.to_string())
        .append_pair("token", &token)
        .append_pair("id", &runtime_id)
        .append_pair("theme", theme);
    Ok((src.to_string(), runtime_id))
}

#[derive(Debug, Deserialize)]
struct ChatQuery {
    user: Option<i64>,
    theme: Option<String>,
    /// `floating`: the inbox as narrow as the CRM's floating window.
    width: Option<String>,
}

#[derive(Template)]
#[template(path = "sandbox/chat.html")]
struct ChatPage<'a> {
    store: &'a Store,
    user: &'a DemoUser,
    theme: &'a str,
    floating: bool,
    demo_src: String,
    src: String,
    runtime_id: String,
}

/// `/sandbox/chat`: the demo website and a user's inbox side by side, so one person can
/// chat as the visitor on the left and as the rep on the right.
async fn chat(q: web::Query<ChatQuery>, sb: web::Data<Sandbox>) -> Result<HttpResponse, HttpError> {
    let store = sb.snapshot();
    // A rep by default: the first user who is not an admin.
    let user = q
        .user
        .and_then(|id| store.user(id))
        .or_else(|| store.users.iter().find(|u| !u.is_admin))
        .or(store.users.first())
        .ok_or_else(HttpError::not_found)?;
    let theme = theme_of(q.theme.as_deref());
    let (src, runtime_id) = frame_src(&sb, &store, user, "inbox", theme)?;
    Ok(html(
        ChatPage {
            store: &store,
            user,
            theme,
            floating: q.width.as_deref() == Some("floating"),
            demo_src: format!("{}/demo/pricing", sb.public_url),
            src,
            runtime_id,
        }
        .render(),
    ))
}

/// Where the CRM's record pages would be (`/person/7`, `/organization/3`, `/deal/5`, the
/// sync log links to them): the record's row on the data page.
async fn record(path: web::Path<(String, String)>) -> HttpResponse {
    let (kind, id) = path.into_inner();
    to_row(&kind, &id)
}

/// `/leads/inbox/{id}`: the lead's row on the data page.
async fn lead(id: web::Path<String>) -> HttpResponse {
    to_row("lead", &id)
}

fn to_row(kind: &str, id: &str) -> HttpResponse {
    let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    HttpResponse::SeeOther()
        .insert_header(("Location", format!("/sandbox/data#{kind}-{id}")))
        .finish()
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    user: i64,
}

/// `GET_SIGNED_TOKEN` for the shell's script: a fresh 5-minute token for the user.
async fn app_token(
    q: web::Query<TokenQuery>,
    sb: web::Data<Sandbox>,
) -> Result<HttpResponse, HttpError> {
    let company = {
        let store = super::lock(&sb.store);
        store.user(q.user).ok_or_else(HttpError::not_found)?;
        store.company.id
    };
    let token = sign_iframe_token(&sb, q.user, company)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({ "token": token })))
}

struct NoteRow {
    id: i64,
    on: String,
    html: String,
    add_time: String,
}

#[derive(Template)]
#[template(path = "sandbox/data.html")]
struct DataPage<'a> {
    store: &'a Store,
    notes: Vec<NoteRow>,
}

impl DataPage<'_> {
    fn person_name(&self, id: &Option<i64>) -> String {
        id.and_then(|id| self.store.persons.iter().find(|p| p.id == id))
            .map_or_else(String::new, |p| p.name.clone())
    }

    fn person_by_id(&self, id: &i64) -> String {
        self.person_name(&Some(*id))
    }

    fn org_name(&self, id: &Option<i64>) -> String {
        id.and_then(|id| self.store.orgs.iter().find(|o| o.id == id))
            .map_or_else(String::new, |o| o.name.clone())
    }

    fn user_name(&self, id: &i64) -> String {
        self.store
            .user(*id)
            .map_or_else(|| id.to_string(), |u| u.name.clone())
    }

    fn label_names(&self, ids: &[String]) -> String {
        ids.iter()
            .filter_map(|id| self.store.labels.iter().find(|l| &l.id == id))
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

async fn data(sb: web::Data<Sandbox>) -> Result<HttpResponse, HttpError> {
    let store = sb.snapshot();
    let notes = store
        .notes
        .iter()
        .rev()
        .map(|n| NoteRow {
            id: n.id,
            on: match (&n.lead_id, n.deal_id, n.person_id, n.org_id) {
                (Some(l), _, _, _) => format!("lead {l}"),
                (None, Some(d), _, _) => format!("deal {d}"),
                (None, None, Some(p), _) => format!("person {p}"),
                (None, None, None, Some(o)) => format!("organization {o}"),
                _ => String::new(),
            },
            html: note_html(&n.content),
            add_time: n.add_time.format("%Y-%m-%d %H:%M").to_string(),
        })
        .collect();
    Ok(html(
        DataPage {
            store: &store,
            notes,
        }
        .render(),
    ))
}

async fn host_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .body(HOST_JS)
}
