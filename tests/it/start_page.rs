//! What a person sees at the app's address: a start page linking to the demo website, the
//! sandbox CRM, the settings and the API description, and an icon on every page.

use crate::common::{TestApp, TestDb};
use reqwest::header;

async fn html(app: &TestApp, path: &str) -> String {
    let resp = reqwest::get(app.at(path)).await.expect("request");
    assert_eq!(resp.status(), 200, "{path}");
    let kind = resp.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.starts_with("text/html"), "{path}: {kind}");
    resp.text().await.unwrap()
}

/// The `href`s of a page, in order.
fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|href| href.replace("&amp;", "&"))
        .collect()
}

#[tokio::test]
async fn the_start_page_explains_and_every_link_works() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let page = html(&app, "/").await;
    assert!(page.contains("<h1>Concierge</h1>"), "{page}");
    let links = links(&page);
    for wanted in [
        "/demo/",
        "/sandbox/",
        "/sandbox/chat",
        "/sandbox/app?surface=settings",
        "/openapi.json",
    ] {
        assert!(
            links.iter().any(|l| l == wanted),
            "{wanted} missing: {links:?}"
        );
    }
    for link in &links {
        let resp = reqwest::get(app.at(link)).await.unwrap();
        assert_eq!(resp.status(), 200, "{link}");
    }
}

#[tokio::test]
async fn every_page_names_an_icon_that_exists() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    for path in [
        "/",
        "/demo/",
        "/demo/pricing",
        "/demo/contact",
        "/sandbox/",
        "/sandbox/data",
        "/sandbox/app?surface=settings",
    ] {
        let page = html(&app, path).await;
        assert!(
            page.contains(r#"<link rel="icon" href="/favicon.svg" type="image/svg+xml">"#),
            "{path}"
        );
    }
    let icon = reqwest::get(app.at("/favicon.svg")).await.unwrap();
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()[header::CONTENT_TYPE], "image/svg+xml");
    assert!(icon.text().await.unwrap().starts_with("<svg"));
    // Pages that name no icon (a JSON answer opened in a browser) get one too.
    let ico = reqwest::get(app.at("/favicon.ico")).await.unwrap();
    assert_eq!(ico.status(), 200);
    assert_eq!(ico.headers()[header::CONTENT_TYPE], "image/svg+xml");
}
