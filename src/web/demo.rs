//! `/demo/`: a small website ("Acme CRM tools") with the widget installed, so the visitor
//! side can be tried right after `concierge serve`. Its pages carry the embed snippet with
//! the first company's public key, and elements the shipped playbooks trigger on: the
//! pricing page (`/demo/pricing*`), the contact page and a "Book a demo" button.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use askama::Template;

use super::{AppError, AppState};
use crate::db::companies::{self, Company};

/// The embed snippet of one company: where the script is and the key it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Embed {
    /// Absolute URL of `/widget.js` on this app.
    pub src: String,
    /// The company's public key (`pk_…`).
    pub key: String,
}

impl Embed {
    /// The snippet of `company` on the app reached at `public_url`.
    pub fn of(company: &Company, public_url: &str) -> Embed {
        Embed {
            src: format!("{}/widget.js", public_url.trim_end_matches('/')),
            key: company.public_key.clone(),
        }
    }
}

/// The pages of the demo site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoPage {
    Home,
    Pricing,
    Contact,
}

/// What every page of the layout shows: which page is current and the snippet, if there
/// is a company to take it from.
pub struct Site {
    pub page: DemoPage,
    pub embed: Option<Embed>,
}

impl Site {
    /// Is `name` (`home`, `pricing`, `contact`) the current page? For the navigation.
    pub fn is(&self, name: &str) -> bool {
        let current = match self.page {
            DemoPage::Home => "home",
            DemoPage::Pricing => "pricing",
            DemoPage::Contact => "contact",
        };
        current == name
    }
}

#[derive(Template)]
#[template(path = "demo/home.html")]
struct HomeTemplate<'a> {
    site: &'a Site,
}

#[derive(Template)]
#[template(path = "demo/pricing.html")]
struct PricingTemplate<'a> {
    site: &'a Site,
}

#[derive(Template)]
#[template(path = "demo/contact.html")]
struct ContactTemplate<'a> {
    site: &'a Site,
}

/// The HTML of one demo page.
pub fn render(site: &Site) -> Result<String, askama::Error> {
    match site.page {
        DemoPage::Home => HomeTemplate { site }.render(),
        DemoPage::Pricing => PricingTemplate { site }.render(),
        DemoPage::Contact => ContactTemplate { site }.render(),
    }
}

/// The demo routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(demo_root)
        .service(home)
        .service(pricing)
        .service(contact);
}

#[get("/demo")]
async fn demo_root() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/demo/"))
        .finish()
}

#[get("/demo/")]
async fn home(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    page(&state, DemoPage::Home).await
}

#[get("/demo/pricing")]
async fn pricing(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    page(&state, DemoPage::Pricing).await
}

#[get("/demo/contact")]
async fn contact(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    page(&state, DemoPage::Contact).await
}

async fn page(state: &AppState, page: DemoPage) -> Result<HttpResponse, AppError> {
    let company = state.db.run(companies::first).await?;
    let site = Site {
        page,
        embed: company
            .as_ref()
            .map(|c| Embed::of(c, &state.config.public_url)),
    };
    let html = render(&site).map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embed() -> Embed {
        Embed {
            src: "http://127.0.0.1:8080/widget.js".into(),
            key: "pk_test".into(),
        }
    }

    const SNIPPET: &str =
        r#"<script src="http://127.0.0.1:8080/widget.js" data-key="pk_test" async></script>"#;

    #[test]
    fn every_page_carries_the_snippet_once() {
        for page in [DemoPage::Home, DemoPage::Pricing, DemoPage::Contact] {
            let html = render(&Site {
                page,
                embed: Some(embed()),
            })
            .expect("renders");
            assert_eq!(html.matches(SNIPPET).count(), 1, "{page:?}");
        }
    }

    #[test]
    fn home_shows_the_snippet_to_paste() {
        let html = render(&Site {
            page: DemoPage::Home,
            embed: Some(embed()),
        })
        .expect("renders");
        let shown = r#"&lt;script src="http://127.0.0.1:8080/widget.js" data-key="pk_test" async&gt;&lt;/script&gt;"#;
        assert!(html.contains(shown), "{html}");
    }

    #[test]
    fn without_a_company_the_pages_explain_and_load_no_widget() {
        for page in [DemoPage::Home, DemoPage::Pricing, DemoPage::Contact] {
            let html = render(&Site { page, embed: None }).expect("renders");
            assert!(!html.contains("widget.js"), "{page:?}");
            assert!(html.contains("No company yet"), "{page:?}");
        }
    }

    #[test]
    fn the_embed_url_ignores_a_trailing_slash() {
        let company = Company {
            id: "c".into(),
            crm_company_id: None,
            name: "Acme".into(),
            public_key: "pk_x".into(),
            identity_secret: "s".into(),
            api_domain: None,
            settings: "{}".into(),
            created_at: 0,
            session_epoch: 0,
            uninstalled_at: None,
        };
        let e = Embed::of(&company, "https://chat.example.com/");
        assert_eq!(e.src, "https://chat.example.com/widget.js");
        assert_eq!(e.key, "pk_x");
    }
}
