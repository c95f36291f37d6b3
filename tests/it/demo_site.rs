//! The demo website at `/demo/`: its pages embed the widget with the first company's key,
//! and the shipped playbooks, loaded into an empty database, start on them.

use crate::common::{TestApp, TestDb};
use concierge::db::companies;
use reqwest::header;
use serde_json::{Value, json};

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    reqwest::get(app.at(path)).await.expect("request")
}

fn demo_company(app: &TestApp) -> companies::Company {
    let mut conn = app.state.db.conn().unwrap();
    companies::first(&mut conn)
        .unwrap()
        .expect("an empty database gets the demo company")
}

/// The playbooks the widget is told it may start on `path`.
async fn triggers_on(app: &TestApp, key: &str, path: &str) -> Vec<Value> {
    let session: Value = reqwest::Client::new()
        .post(app.at("/api/widget/session"))
        .json(&json!({
            "key": key,
            "token": null,
            "page": { "url": app.at(path), "referrer": "", "language": "en-GB", "title": "Demo" }
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    session["triggers"].as_array().expect("triggers").clone()
}

#[tokio::test]
async fn demo_pages_embed_the_first_companys_key() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let company = demo_company(&app);
    let snippet = format!(
        r#"<script src="{}/widget.js" data-key="{}" async></script>"#,
        app.url, company.public_key
    );
    for (path, marker) in [
        ("/demo/", r#"id="book-demo""#),
        ("/demo/pricing", "Enterprise"),
        ("/demo/contact", r#"id="chat-with-support""#),
    ] {
        let resp = get(&app, path).await;
        assert_eq!(resp.status(), 200, "{path}");
        assert!(
            resp.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = resp.text().await.unwrap();
        assert_eq!(html.matches(&snippet).count(), 1, "{path}: {html}");
        assert!(html.contains(marker), "{path}");
        assert!(!html.contains("No company yet"), "{path}");
    }

    let home = get(&app, "/demo/").await.text().await.unwrap();
    assert!(home.contains(&format!(
        r#"&lt;script src="{}/widget.js" data-key="{}" async&gt;&lt;/script&gt;"#,
        app.url, company.public_key
    )));

    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.at("/demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 308);
    assert_eq!(bare.headers()[header::LOCATION], "/demo/");
}

#[tokio::test]
async fn the_shipped_playbooks_start_on_the_demo_pages() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let key = demo_company(&app).public_key;

    // Pricing: lead qualification greets after five seconds on the page.
    let pricing = triggers_on(&app, &key, "/demo/pricing").await;
    let timed: Vec<&Value> = pricing
        .iter()
        .filter(|t| t["on"] == "page_load" || t["on"] == "time_on_page")
        .collect();
    assert_eq!(
        timed.first().copied(),
        Some(&json!({ "slug": "lead-qualification", "on": "time_on_page", "delay_seconds": 5 })),
        "{pricing:#?}"
    );

    // Contact: support triage starts on "help" and the like.
    let contact = triggers_on(&app, &key, "/demo/contact").await;
    assert!(
        contact
            .iter()
            .any(|t| t["slug"] == "support-triage" && t["on"] == "keyword"),
        "{contact:#?}"
    );

    // Home: "Book a demo" starts appointment booking.
    let home = triggers_on(&app, &key, "/demo/").await;
    assert!(
        home.iter().any(|t| t["slug"] == "appointment-booking"
            && t["on"] == "click"
            && t["selector"] == "#book-demo"),
        "{home:#?}"
    );

    // Every click trigger offered on a demo page has its element there.
    for (path, triggers) in [
        ("/demo/", &home),
        ("/demo/pricing", &pricing),
        ("/demo/contact", &contact),
    ] {
        let html = get(&app, path).await.text().await.unwrap();
        for t in triggers.iter().filter(|t| t["on"] == "click") {
            let selector = t["selector"].as_str().unwrap();
            let id = selector.strip_prefix('#').expect("an id selector");
            assert!(
                html.contains(&format!(r#"id="{id}""#)),
                "{path} has no {selector} for {}",
                t["slug"]
            );
        }
    }
}
