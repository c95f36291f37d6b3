//! An empty database gets the demo company with the shipped playbooks, once.

use crate::common::{TestApp, TestDb};
use crate::widget_support::*;
use concierge::db::{answer_rules, companies, playbooks};

#[tokio::test]
async fn an_empty_database_gets_a_working_demo() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (company, published, rules) = app
        .state
        .db
        .run(|conn| {
            let company = companies::first(conn)?.expect("demo company");
            let published = playbooks::published(conn, &company.id)?;
            let rules = answer_rules::enabled(conn, &company.id)?;
            Ok::<_, concierge::db::DbError>((company, published, rules))
        })
        .await
        .unwrap();
    assert_eq!(company.name, "Demo company");
    let shipped = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/playbooks"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "yaml")
        })
        .count();
    assert_eq!(
        published.len(),
        shipped,
        "every shipped playbook is published"
    );
    assert!(published.iter().all(|p| p.enabled));
    assert_eq!(rules.len(), 2);

    // The demo answers a visitor straight away.
    let mut w = Widget::new(&app, &company);
    w.page = "https://demo.test/".into();
    let session = w.session().await;
    assert!(!session["triggers"].as_array().unwrap().is_empty());
    let reply = w.say("What are your opening hours?").await;
    assert!(texts(&reply["messages"])[1].contains("Monday to Friday"));

    // A restart on the same database adds nothing.
    let seeded = app
        .state
        .db
        .run(|conn| {
            concierge::chat::seed::seed_if_empty(
                conn,
                std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/playbooks")),
            )
        })
        .await
        .unwrap();
    assert!(seeded.is_none());
}
