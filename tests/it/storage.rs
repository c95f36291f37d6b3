//! Storage against SQLite always and PostgreSQL when `TEST_DATABASE_URL` is set.

use crate::common::{TestApp, TestDb};
use concierge::db::{self, Backend, companies, playbooks};
use concierge::playbook::Playbook;
use serde_json::json;

fn tiny_playbook(slug: &str, text: &str) -> Playbook {
    serde_json::from_value(json!({
        "slug": slug,
        "name": "Tiny",
        "trigger": { "on": "page_load" },
        "start": "hi",
        "cards": [
            { "id": "hi", "type": "message", "text": text, "next": "bye" },
            { "id": "bye", "type": "end", "text": "Bye" }
        ]
    }))
    .expect("valid document")
}

#[test]
fn postgres_is_tested_when_configured() {
    // CI sets TEST_DATABASE_URL; when it does, PostgreSQL must really be there.
    if std::env::var("TEST_DATABASE_URL").is_ok() {
        let pg = TestDb::postgres().expect("configured");
        assert_eq!(pg.backend, Backend::Postgres);
        pg.open();
    }
}

/// The versions of the migrations the binary carries for `backend`: its folders under
/// `migrations/`, as diesel numbers them (the date and number, without the dashes).
fn carried_migrations(backend: Backend) -> Vec<String> {
    let folder = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(folder);
    let mut versions: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .map(|name| name.split('_').next().unwrap_or_default().replace('-', ""))
        .collect();
    versions.sort();
    versions
}

/// The versions the database says it has run.
fn applied_migrations(db: &db::Db) -> Vec<String> {
    use diesel_migrations::MigrationHarness;
    let mut conn = db.conn().unwrap();
    let applied = match &mut *conn {
        db::DbConn::Sqlite(c) => c.applied_migrations(),
        db::DbConn::Pg(c) => c.applied_migrations(),
    };
    let mut versions: Vec<String> = applied
        .unwrap()
        .into_iter()
        .map(|v| v.to_string())
        .collect();
    versions.sort();
    versions
}

#[tokio::test]
async fn migrations_run_and_are_idempotent() {
    for t in TestDb::all() {
        let backend = t.backend;
        let carried = carried_migrations(backend);
        assert!(carried.len() >= 10, "{backend:?}: {carried:?}");
        let db = t.open();
        // Every migration the binary carries ran, and nothing else did.
        assert_eq!(applied_migrations(&db), carried, "{backend:?}");
        assert!(!db.migrations_pending().await.unwrap(), "{backend:?}");
        let company = companies::create(&mut db.conn().unwrap(), "Acme", Some(7)).unwrap();
        drop(db);
        // A second start finds nothing to do: nothing runs again, the data stays.
        let again = t.open();
        assert_eq!(applied_migrations(&again), carried, "{backend:?}");
        let kept = companies::by_id(&mut again.conn().unwrap(), &company.id).unwrap();
        assert_eq!(kept.map(|c| c.name).as_deref(), Some("Acme"), "{backend:?}");
    }
}

#[test]
fn companies_round_trip_and_stay_apart() {
    for t in TestDb::all() {
        let db = t.open();
        let mut conn = db.conn().unwrap();
        let a = companies::create(&mut conn, "Acme", Some(11)).unwrap();
        let b = companies::create(&mut conn, "Globex", Some(22)).unwrap();
        assert_ne!(a.public_key, b.public_key);
        assert_eq!(companies::first(&mut conn).unwrap().unwrap().id, a.id);
        assert_eq!(
            companies::by_public_key(&mut conn, &b.public_key)
                .unwrap()
                .unwrap()
                .name,
            "Globex"
        );
        assert_eq!(
            companies::by_crm_id(&mut conn, 11).unwrap().unwrap().id,
            a.id
        );
        assert!(companies::by_id(&mut conn, "nope").unwrap().is_none());
        // A duplicate CRM company id is refused by the database.
        let dup = companies::create(&mut conn, "Again", Some(11)).unwrap_err();
        assert!(dup.is_unique_violation(), "{dup:?} on {:?}", t.backend);
    }
}

#[test]
fn page_views_keep_the_latest_per_visitor_and_stay_apart() {
    use concierge::db::page_views::{self, KEEP};
    use concierge::db::visitors::{self, Page};
    for t in TestDb::all() {
        let db = t.open();
        let mut conn = db.conn().unwrap();
        let a = companies::create(&mut conn, "Acme", None).unwrap();
        let b = companies::create(&mut conn, "Globex", None).unwrap();
        let page = |n: i64| Page {
            url: format!("https://acme.test/p/{n}"),
            title: format!("Page {n}"),
            ..Page::default()
        };
        let ann = visitors::create(&mut conn, &a.id, &page(0), 0).unwrap();
        let bob = visitors::create(&mut conn, &b.id, &page(0), 0).unwrap();
        for n in 1..=KEEP + 5 {
            page_views::record(&mut conn, &a.id, &ann.id, &page(n), n * 1000).unwrap();
        }
        page_views::record(&mut conn, &b.id, &bob.id, &page(7), 7).unwrap();
        // No address, no view.
        page_views::record(&mut conn, &b.id, &bob.id, &Page::default(), 8).unwrap();

        let latest = page_views::latest(&mut conn, &a.id, &ann.id, 3).unwrap();
        let urls: Vec<_> = latest
            .iter()
            .map(|v| (v.url.as_str(), v.viewed_at))
            .collect();
        assert_eq!(
            urls,
            [
                ("https://acme.test/p/105", 105_000),
                ("https://acme.test/p/104", 104_000),
                ("https://acme.test/p/103", 103_000)
            ],
            "{:?}",
            t.backend
        );
        assert_eq!(latest[0].title, "Page 105");
        let kept = page_views::latest(&mut conn, &a.id, &ann.id, 1000).unwrap();
        assert_eq!(kept.len() as i64, KEEP, "older views are dropped");
        assert_eq!(kept.last().unwrap().url, "https://acme.test/p/6");
        // Another company's visitor, or this visitor asked for by another company: apart.
        assert_eq!(
            page_views::latest(&mut conn, &b.id, &bob.id, 10)
                .unwrap()
                .len(),
            1
        );
        assert!(
            page_views::latest(&mut conn, &b.id, &ann.id, 10)
                .unwrap()
                .is_empty()
        );
    }
}

#[test]
fn published_versions_are_kept_and_scoped() {
    for t in TestDb::all() {
        let db = t.open();
        let mut conn = db.conn().unwrap();
        let a = companies::create(&mut conn, "Acme", None).unwrap();
        let b = companies::create(&mut conn, "Globex", None).unwrap();
        let v1 =
            playbooks::save_and_publish(&mut conn, &a.id, &tiny_playbook("hello", "v1")).unwrap();
        let v2 =
            playbooks::save_and_publish(&mut conn, &a.id, &tiny_playbook("hello", "v2")).unwrap();
        assert_eq!((v1.version, v2.version), (1, 2));
        assert_eq!(v1.playbook_id, v2.playbook_id);
        // Only the latest version is the published one…
        let live = playbooks::published(&mut conn, &a.id).unwrap();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].version_id, v2.version_id);
        // …but a conversation on version 1 still finds its document.
        let old = playbooks::version(&mut conn, &a.id, &v1.version_id)
            .unwrap()
            .unwrap();
        assert_eq!(old.document, tiny_playbook("hello", "v1"));
        // Another company sees neither.
        assert!(playbooks::published(&mut conn, &b.id).unwrap().is_empty());
        assert!(
            playbooks::version(&mut conn, &b.id, &v1.version_id)
                .unwrap()
                .is_none()
        );
        assert!(!playbooks::set_enabled(&mut conn, &b.id, &v1.playbook_id, false).unwrap());
        assert!(playbooks::set_enabled(&mut conn, &a.id, &v1.playbook_id, false).unwrap());
    }
}

#[test]
fn write_transactions_roll_back_on_error() {
    for t in TestDb::all() {
        let db = t.open();
        let mut conn = db.conn().unwrap();
        let result: Result<(), db::DbError> = db::write_tx(&mut conn, |c| {
            companies::create(c, "Doomed", None)?;
            Err(db::DbError::Corrupt("stop".into()))
        });
        assert!(result.is_err());
        assert!(
            companies::first(&mut conn).unwrap().is_none(),
            "{:?}",
            t.backend
        );
    }
}

#[tokio::test]
async fn healthz_answers_when_the_database_does() {
    for t in TestDb::all() {
        let app = TestApp::spawn(t).await;
        let resp = reqwest::get(app.at("/healthz")).await.unwrap();
        assert_eq!(resp.status(), 200);
        let resp = reqwest::get(app.at("/no-such-page")).await.unwrap();
        assert_eq!(resp.status(), 404);
    }
}

/// Plant unreadable JSON in one column of one row.
pub(crate) fn plant(conn: &mut db::DbConn, sql: &str, id: &str) {
    use diesel::RunQueryDsl;
    let sql = sql.replace("$id", &id.replace('\'', "''"));
    diesel::sql_query(sql).execute(conn).unwrap();
}

#[test]
fn an_unreadable_message_payload_is_an_error_naming_the_message() {
    use concierge::db::conversations::{self as convs, NewMessage, author};
    use concierge::db::visitors::{self, Page};
    for t in TestDb::all() {
        let backend = t.backend;
        let db = t.open();
        let mut conn = db.conn().unwrap();
        let company = companies::create(&mut conn, "Acme", None).unwrap();
        let visitor = visitors::create(&mut conn, &company.id, &Page::default(), 0).unwrap();
        let mut conv = convs::create(&mut conn, &company.id, &visitor.id, 0).unwrap();
        let said = |body: &str| NewMessage {
            author: author::BOT,
            body: body.into(),
            ..NewMessage::default()
        };
        let good = convs::append(&mut conn, &mut conv, said("Hello"), 1).unwrap();
        let bad = convs::append(&mut conn, &mut conv, said("Pick one"), 2).unwrap();
        convs::save(&mut conn, &conv).unwrap();
        plant(
            &mut conn,
            r#"UPDATE messages SET payload = '{"buttons": [' WHERE id = '$id'"#,
            &bad.id,
        );
        let (co, c) = (company.id.as_str(), conv.id.as_str());
        let names_it = |e: db::DbError| {
            let text = e.to_string();
            assert!(
                matches!(e, db::DbError::Corrupt(_)) && text.contains(&bad.id),
                "{backend:?}: {text}"
            );
        };
        names_it(convs::latest_messages(&mut conn, co, c, 10).unwrap_err());
        names_it(convs::messages_after(&mut conn, co, c, 0, 10).unwrap_err());
        names_it(convs::message(&mut conn, co, c, &bad.id).unwrap_err());
        names_it(convs::last_reply(&mut conn, co, c).unwrap_err());
        // The readable messages still read.
        let before = convs::messages_after(&mut conn, co, c, -1, 1).unwrap();
        assert_eq!(before.len(), 1, "{backend:?}");
        assert_eq!(before[0].id, good.id, "{backend:?}");
        assert!(
            convs::message(&mut conn, co, c, &good.id)
                .unwrap()
                .is_some(),
            "{backend:?}"
        );
    }
}

#[test]
fn an_unreadable_audit_detail_is_an_error_naming_the_row() {
    use concierge::db::audit::{self, Actor, Change};
    for t in TestDb::all() {
        let backend = t.backend;
        let db = t.open();
        let mut conn = db.conn().unwrap();
        let company = companies::create(&mut conn, "Acme", None).unwrap();
        let actor = Actor {
            name: "Ada".into(),
            crm_user_id: Some(7),
            key_id: None,
        };
        let change = |action| Change {
            action,
            subject_id: None,
            subject: "welcome",
            detail: json!({ "version": 3 }),
        };
        audit::record(
            &mut conn,
            &company.id,
            &actor,
            change("playbook.publish"),
            1,
        )
        .unwrap();
        audit::record(
            &mut conn,
            &company.id,
            &actor,
            change("playbook.restore"),
            2,
        )
        .unwrap();
        let rows = audit::recent(&mut conn, &company.id, None, 10).unwrap();
        let (bad, good) = (&rows[0], &rows[1]);
        plant(
            &mut conn,
            r#"UPDATE audit_log SET detail = '{"version": ' WHERE id = '$id'"#,
            &bad.id,
        );
        let rows = audit::recent(&mut conn, &company.id, None, 10).unwrap();
        let err = rows[0].detail_value().unwrap_err();
        assert!(
            matches!(err, db::DbError::Corrupt(_)) && err.to_string().contains(&bad.id),
            "{backend:?}: {err}"
        );
        assert_eq!(rows[1].id, good.id, "{backend:?}");
        assert_eq!(rows[1].detail_value().unwrap(), json!({ "version": 3 }));
    }
}

#[test]
fn unreadable_answer_rule_keywords_and_offer_skips_are_errors_naming_the_row() {
    use concierge::chat::answers;
    use concierge::db::conversations as convs;
    use concierge::db::visitors::{self, Page};
    use concierge::db::{answer_rules, offers};
    for t in TestDb::all() {
        let backend = t.backend;
        let db = t.open();
        let mut conn = db.conn().unwrap();
        let company = companies::create(&mut conn, "Acme", None).unwrap();
        let names = |e: db::DbError, id: &str| {
            let text = e.to_string();
            assert!(
                matches!(e, db::DbError::Corrupt(_)) && text.contains(id),
                "{backend:?}: {text}"
            );
        };

        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let bad = answer_rules::create(&mut conn, &company.id, &words(&["price"]), "A").unwrap();
        let good = answer_rules::create(&mut conn, &company.id, &words(&["price"]), "B").unwrap();
        plant(
            &mut conn,
            r#"UPDATE answer_rules SET keywords = '["price"' WHERE id = '$id'"#,
            &bad.id,
        );
        let rules = answer_rules::list(&mut conn, &company.id).unwrap();
        names(rules[0].keywords().unwrap_err(), &bad.id);
        // The broken rule answers nothing; the next readable one still does.
        let found = answers::find(&rules, "what is the price?").map(|r| r.id.clone());
        assert_eq!(found, Some(good.id.clone()), "{backend:?}");

        let visitor = visitors::create(&mut conn, &company.id, &Page::default(), 0).unwrap();
        let conv = convs::create(&mut conn, &company.id, &visitor.id, 0).unwrap();
        let offer = offers::Offer {
            offered_to: None,
            expires_at: None,
            skipped: vec!["u2".into()],
        };
        offers::put(&mut conn, &company.id, &conv.id, &offer, 1).unwrap();
        assert_eq!(
            offers::get(&mut conn, &company.id, &conv.id).unwrap(),
            Some(offer),
            "{backend:?}"
        );
        plant(
            &mut conn,
            r#"UPDATE chat_offers SET skipped = '["u2"' WHERE conversation_id = '$id'"#,
            &conv.id,
        );
        names(
            offers::get(&mut conn, &company.id, &conv.id).unwrap_err(),
            &conv.id,
        );
    }
}

#[test]
fn unreadable_company_settings_and_visitor_attributes_are_errors_naming_the_row() {
    use concierge::db::visitors::{self, Page};
    for t in TestDb::all() {
        let backend = t.backend;
        let db = t.open();
        let mut conn = db.conn().unwrap();
        let names = |e: db::DbError, id: &str| {
            let text = e.to_string();
            assert!(
                matches!(e, db::DbError::Corrupt(_)) && text.contains(id),
                "{backend:?}: {text}"
            );
        };
        let bad = companies::create(&mut conn, "Broken", Some(501)).unwrap();
        let good = companies::create(&mut conn, "Fine", Some(502)).unwrap();
        plant(
            &mut conn,
            r#"UPDATE companies SET settings = '{"bot_name": ' WHERE id = '$id'"#,
            &bad.id,
        );
        // Every way of loading the company says so, naming it; none makes up defaults.
        names(companies::by_id(&mut conn, &bad.id).unwrap_err(), &bad.id);
        names(
            companies::by_public_key(&mut conn, &bad.public_key).unwrap_err(),
            &bad.id,
        );
        names(companies::by_crm_id(&mut conn, 501).unwrap_err(), &bad.id);
        names(companies::first(&mut conn).unwrap_err(), &bad.id);
        let fine = companies::by_id(&mut conn, &good.id).unwrap().unwrap();
        assert_eq!(fine.settings(), good.settings(), "{backend:?}");

        let broken = visitors::create(&mut conn, &good.id, &Page::default(), 0).unwrap();
        let other = visitors::create(&mut conn, &good.id, &Page::default(), 0).unwrap();
        plant(
            &mut conn,
            r#"UPDATE visitors SET attributes = '{"finished": [' WHERE id = '$id'"#,
            &broken.id,
        );
        names(
            visitors::get(&mut conn, &good.id, &broken.id).unwrap_err(),
            &broken.id,
        );
        names(
            visitors::get_many(&mut conn, &[broken.id.clone(), other.id.clone()]).unwrap_err(),
            &broken.id,
        );
        let read = visitors::get(&mut conn, &good.id, &other.id).unwrap();
        assert_eq!(read.map(|v| v.id), Some(other.id.clone()), "{backend:?}");
    }
}

/// Over HTTP: a company whose stored settings cannot be read gets no widget session made
/// of default settings, and a visitor whose attributes cannot be read no fresh start: an
/// error, logged naming the row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_refuses_a_company_or_visitor_row_it_cannot_read() {
    use crate::widget_support::Widget;
    assert!(crate::server_log::capture(), "the log is captured");
    for t in TestDb::all() {
        let backend = t.backend;
        let app = TestApp::spawn(t).await;
        let began = std::time::Instant::now();
        let company = {
            let mut conn = app.state.db.conn().unwrap();
            companies::first(&mut conn).unwrap().unwrap()
        };
        let mut widget = Widget::new(&app, &company);
        let session = widget.session().await;
        let visitor = session["visitor"]["id"].as_str().unwrap().to_owned();
        {
            let mut conn = app.state.db.conn().unwrap();
            plant(
                &mut conn,
                r#"UPDATE visitors SET attributes = 'not json' WHERE id = '$id'"#,
                &visitor,
            );
        }
        let again = widget
            .post(
                "trigger",
                json!({ "slug": "lead-qualification", "page": widget.page(), "reason": "sdk" }),
            )
            .await;
        assert_eq!(again.status, 500, "{backend:?}: {}", again.body);
        assert!(
            crate::server_log::logged_since(began, &visitor),
            "{backend:?}: the error names the visitor"
        );
        {
            let mut conn = app.state.db.conn().unwrap();
            plant(
                &mut conn,
                r#"UPDATE companies SET settings = '[' WHERE id = '$id'"#,
                &company.id,
            );
        }
        let fresh = Widget::new(&app, &company);
        let refused = fresh
            .post(
                "session",
                json!({ "key": company.public_key, "token": null, "page": fresh.page() }),
            )
            .await;
        assert_eq!(refused.status, 500, "{backend:?}: {}", refused.body);
        assert!(
            crate::server_log::logged_since(began, &company.id),
            "{backend:?}: the error names the company"
        );
    }
}
