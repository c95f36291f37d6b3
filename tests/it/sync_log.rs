//! The settings page's sync log: its links into the CRM open the records in the sandbox,
//! and "Delivered recently" lists captures newest first.

use std::time::Duration;

use crate::common::{TestApp, TestDb};
use crate::crm_support::{browser, client, install};
use concierge::crm::outbox::progress::Progress;
use concierge::crm::{Crm, NewLeadOrDeal, NewOrg, NewPerson};
use concierge::db::outbox::store;
use concierge::db::{self, companies, outbox, schema};
use diesel::prelude::*;
use serde_json::json;

#[tokio::test]
async fn the_links_to_created_records_open_them_in_the_sandbox() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let crm = client(&app, Duration::from_secs(10)).await;
    let org_id = crm
        .create_org(&NewOrg {
            name: "Analytical Engines".into(),
            ..NewOrg::default()
        })
        .await
        .unwrap();
    let person_id = crm
        .create_person(&NewPerson {
            name: "Ada Lovelace".into(),
            email: Some("ada@example.com".into()),
            phone: None,
            org_id: Some(org_id),
            owner_id: None,
        })
        .await
        .unwrap();
    let lead = NewLeadOrDeal {
        title: "Chat lead".into(),
        person_id: Some(person_id),
        org_id: Some(org_id),
        owner_id: None,
        value: None,
        expected_close_date: None,
        label: None,
    };
    let lead_id = crm.create_lead(&lead).await.unwrap();
    let deal_id = crm.create_deal(&lead).await.unwrap();
    let progress = Progress {
        org_id: Some(org_id),
        person_id: Some(person_id),
        lead_id: Some(lead_id.clone()),
        deal_id: Some(deal_id),
        ..Progress::default()
    };
    let api_domain = install(&app, 1001).await["api_domain"]
        .as_str()
        .unwrap()
        .to_owned();
    let data = reqwest::get(app.at("/sandbox/data"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let links = progress.links(&api_domain);
    assert_eq!(links.len(), 4);
    for (kind, href) in links {
        let resp = browser().get(&href).send().await.unwrap();
        assert_eq!(resp.status(), 303, "{href}");
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        let (page, row) = location.split_once('#').expect("a row of the data page");
        assert_eq!(page, "/sandbox/data", "{href}");
        assert!(
            data.contains(&format!("id=\"{row}\"")),
            "{kind}: no row {row}"
        );
        // Followed, the link lands on the page.
        assert_eq!(reqwest::get(&href).await.unwrap().status(), 200, "{href}");
    }
}

#[tokio::test]
async fn delivered_captures_are_listed_newest_first() {
    for t in TestDb::all() {
        let app = TestApp::spawn_with(t, |c| c.outbox.concurrency = 0).await;
        let mut conn = app.state.db.conn().unwrap();
        let company = companies::first(&mut conn).unwrap().unwrap();
        let now = db::now_ms();
        // Captured at now-3m, now-2m, now-1m; the oldest was delivered last (a retry).
        for (minutes_ago, delivered_ago) in [(3, 0), (2, 2), (1, 1)] {
            let row = outbox::enqueue(
                &mut conn,
                &company.id,
                None,
                outbox::Kind::Capture,
                &json!({ "title": format!("captured {minutes_ago} min ago") }),
                now - minutes_ago * 60_000,
            )
            .unwrap();
            diesel::update(schema::outbox::table.find(&row.id))
                .set((
                    schema::outbox::status.eq("done"),
                    schema::outbox::updated_at.eq(now - delivered_ago * 60_000 + 1),
                ))
                .execute(&mut *conn)
                .unwrap();
        }
        let rows = store::delivered(&mut conn, &company.id, 10).unwrap();
        let created: Vec<i64> = rows.iter().map(|r| (now - r.created_at) / 60_000).collect();
        assert_eq!(created, [1, 2, 3], "{:?}", app.db.backend);
    }
}
