//! P9 reports: a 30-day report of one playbook (every figure of the settings page: totals,
//! the daily series, the funnel with where visitors left, answers, scores, live chat with
//! waits and first responses per rep, CRM outcomes) with 1,000,000 analytics events in the
//! database.
//!
//! The history is written straight into the database in multi-row inserts: conversations
//! over the last 60 days with 6.8 events each on average (about 147,100 of them for a
//! million events; the exact count of events written is printed), half of them (every
//! other block of ten) on the measured playbook and the rest on three others; captures
//! (two in three confirmed by the CRM), live chats taken with rep messages or missed,
//! deals won and lost in two currencies. The daily roll-ups (confirmed conversions
//! included) are then rebuilt from the events (`db::analytics::rollup::rebuild`, what recording
//! keeps up to date as events are written).
//!
//! ```sh
//! cargo bench --bench reports
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench reports
//! ```
//! `BENCH_EVENTS` (default 1000000) changes the size; `BENCH_SQLITE=0` skips SQLite.
// Benchmark code: a failed expect is the report, and results go to stdout.
#![allow(clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use concierge::db::analytics::rollup;
use concierge::db::analytics::{AnalyticsEvent, kind, left};
use concierge::db::conversations::Conversation;
use concierge::db::schema::{
    analytics_events, chat_takes, conversations, crm_outcomes, messages, outbox, visitors,
};
use concierge::db::visitors::Visitor;
use concierge::db::{self, Db, DbConn, DbError, companies, crm_users, playbooks};
use concierge::reports::Filter;
use concierge::reports::load::{DayRange, playbook_report};
use diesel::prelude::*;

/// Rows written per insert while seeding (below SQLite's bound-variable limit).
const CHUNK: usize = 1000;
const DAY: i64 = 86_400_000;
/// Events written by ten consecutive conversations of the seed: two each (shown, the first
/// card reached), three for the seven that answer, one for the three captures, two for the
/// two live chats, one for the missed one and two for the one taken (taken, first
/// response), one for the one who left, two for the eight that end (completed, scored).
const EVENTS_PER_TEN: usize = 2 * 10 + 3 * 7 + 3 + 2 * 2 + 1 + 2 + 1 + 2 * 8;
/// Reports timed per database.
const RUNS: usize = 15;

fn playbook(slug: &str) -> concierge::playbook::Playbook {
    serde_json::from_value(serde_json::json!({
        "slug": slug,
        "name": slug,
        "trigger": { "on": "click", "selector": "#bench" },
        "start": "size",
        "cards": [
            { "id": "size", "type": "buttons", "text": "Team size?",
              "options": [ { "label": "Small", "next": "email", "score": 10 },
                           { "label": "Large", "next": "email", "score": 30 } ] },
            { "id": "email", "type": "question", "text": "E-mail?", "input": "email",
              "save": "person.email", "next": "talk" },
            { "id": "talk", "type": "live_chat", "online_message": "One moment…",
              "offline_message": "We are away.", "offline_next": "bye" },
            { "id": "bye", "type": "end", "text": "Thanks!" }
        ]
    }))
    .expect("bench playbook")
}

fn main() {
    let events: usize = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut databases = Vec::new();
    if std::env::var("BENCH_SQLITE").as_deref() != Ok("0") {
        databases.push(("SQLite", None));
    }
    if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
        databases.push(("PostgreSQL", Some(url)));
    }
    println!("P9 reports: about {events} analytics events asked, a 30-day report of one playbook");
    for (name, admin) in databases {
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, cleanup) = match &admin {
            None => (dir.path().join("bench.db").display().to_string(), None),
            Some(admin) => {
                let db = format!("concierge_bench_{}", uuid::Uuid::new_v4().simple());
                pg(admin, &format!("CREATE DATABASE {db}"));
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
                (format!("{base}/{db}"), Some((admin.clone(), db)))
            }
        };
        run(name, &url, events).expect("bench run");
        if let Some((admin, db)) = cleanup {
            pg(
                &admin,
                &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            );
        }
    }
}

fn pg(admin: &str, sql: &str) {
    use diesel::pg::PgConnection;
    let mut conn = PgConnection::establish(admin).expect("PostgreSQL");
    diesel::sql_query(sql).execute(&mut conn).expect(sql);
}

/// Insert `rows` in chunks, in one transaction. Backend branch: diesel's multi-row insert
/// is implemented per backend.
macro_rules! insert_all {
    ($conn:expr, $table:expr, $rows:expr) => {{
        for chunk in $rows.chunks(CHUNK) {
            match &mut *$conn {
                DbConn::Sqlite(c) => diesel::insert_into($table).values(chunk).execute(c)?,
                DbConn::Pg(c) => diesel::insert_into($table).values(chunk).execute(c)?,
            };
        }
    }};
}

struct Seeded {
    company: String,
    playbook: String,
    events: usize,
    conversations: usize,
}

fn seed(conn: &mut DbConn, target: usize) -> Result<Seeded, DbError> {
    let company = companies::create(conn, "Bench Inc", Some(777))?.id;
    let now = db::now_ms();
    let reps: Vec<concierge::crm::CrmUser> = (0..5)
        .map(|i| concierge::crm::CrmUser {
            id: 100 + i,
            name: format!("Rep {i}"),
            email: format!("rep{i}@example.com"),
            is_admin: false,
            active: true,
            icon_url: None,
        })
        .collect();
    crm_users::sync(conn, &company, &reps, now)?;
    // `(row id, CRM user id)`: takes name the row, events the CRM's user id.
    let rep_ids: Vec<(String, String)> = (0..5)
        .map(|i| {
            concierge::db::live::rep(conn, &company, 100 + i)
                .map(|r| r.map(|r| (r.id, r.crm_user_id.to_string())))
        })
        .collect::<Result<Option<Vec<(String, String)>>, DbError>>()?
        .unwrap_or_default();
    let published: Vec<_> = (0..4)
        .map(|i| playbooks::save_and_publish(conn, &company, &playbook(&format!("bench-{i}"))))
        .collect::<Result<Vec<_>, DbError>>()?;
    // Every ten conversations (`i % 10` below) write exactly EVENTS_PER_TEN events.
    let conversations_n = (target * 10).div_ceil(EVENTS_PER_TEN).max(1);
    let span = 60 * DAY;
    let (mut evs, mut vis, mut convs, mut out, mut takes, mut msgs, mut deals) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let mut total = 0;
    for i in 0..conversations_n {
        // Every other block of ten on the measured playbook (0), so it has every kind of
        // conversation of the block; the rest on the others.
        let p = if (i / 10) % 2 == 0 {
            0
        } else {
            1 + (i / 20) % 3
        };
        let pb = &published[p];
        let at = now - 60_000 - (i as i64 * span / conversations_n as i64);
        let (known, returning) = (i % 4 == 0, i % 5 == 0);
        let visitor_id = db::new_id();
        let conv_id = db::new_id();
        vis.push(Visitor {
            id: visitor_id.clone(),
            company_id: company.clone(),
            email: None,
            name: None,
            known,
            visits: if returning { 2 } else { 1 },
            attributes: "{}".into(),
            first_seen_at: at,
            last_seen_at: at,
        });
        let waiting = i % 10 == 6;
        convs.push(Conversation {
            id: conv_id.clone(),
            company_id: company.clone(),
            visitor_id,
            status: "closed".into(),
            playbook_version_id: Some(pb.version_id.clone()),
            engine_state: if waiting {
                r#"{"state":{"at":"email","phase":"awaiting_input"},"engaged":true}"#.into()
            } else {
                r#"{"state":{"phase":"ended"}}"#.into()
            },
            assigned_to: None,
            last_seq: 0,
            created_at: at,
            updated_at: at,
            closed_at: Some(at),
            waiting_since: None,
            assigned_at: None,
            outcome: None,
            team: None,
            panel: None,
        });
        let mut ev = |kind: &str, card: Option<&str>, value: Option<i64>| {
            evs.push(AnalyticsEvent {
                id: db::new_id(),
                company_id: company.clone(),
                playbook_id: Some(pb.playbook_id.clone()),
                conversation_id: Some(conv_id.clone()),
                visitor_known: known,
                kind: kind.to_owned(),
                card: card.map(str::to_owned),
                value,
                created_at: at,
                version: Some(pb.version),
                visitor_returning: returning,
            });
        };
        ev(kind::SHOWN, None, None);
        ev(kind::REACHED, Some("size"), None);
        let step = i % 10;
        if step < 7 {
            ev(kind::ENGAGED, None, None);
            ev(kind::ANSWER, Some("size"), Some((i % 2) as i64));
            ev(kind::REACHED, Some("email"), None);
        }
        if step < 3 {
            ev(kind::CONVERTED, Some("email"), None);
            let result = if i % 3 == 0 {
                "{\"person_id\":1}".to_owned()
            } else {
                format!("{{\"person_id\":1,\"deal_id\":{i}}}")
            };
            out.push((db::new_id(), conv_id.clone(), result, at));
            if i % 30 == 1 {
                deals.push((
                    conv_id.clone(),
                    i as i64,
                    if i % 60 == 1 { "won" } else { "lost" },
                ));
            }
        }
        if step == 3 || step == 4 {
            ev(kind::REACHED, Some("talk"), None);
            ev(kind::CHAT_OFFERED, Some("talk"), None);
            if step == 3 {
                let waited = ((i % 120) as i64 + 5) * 1000;
                let (rep, crm_id) = rep_ids[i % rep_ids.len().max(1)].clone();
                ev(kind::CHAT_TAKEN, Some(crm_id.as_str()), Some(waited));
                ev(
                    kind::FIRST_RESPONSE,
                    Some(crm_id.as_str()),
                    Some(waited + 8_000),
                );
                takes.push((conv_id.clone(), rep, waited, at + waited));
                msgs.push((conv_id.clone(), at + waited + 8_000));
            } else {
                ev(kind::CHAT_MISSED, Some("talk"), None);
            }
        }
        if step == 5 {
            ev(kind::LEFT, Some("size"), Some(left::CLOSED));
        }
        if !waiting && step != 3 {
            ev(kind::COMPLETED, None, None);
            ev(kind::SCORED, None, Some(((i % 4) * 10) as i64));
        }
        if evs.len() >= 20 * CHUNK {
            total += evs.len();
            db::write_tx(conn, |conn| {
                insert_all!(conn, visitors::table, vis);
                insert_all!(conn, conversations::table, convs);
                insert_all!(conn, analytics_events::table, evs);
                Ok::<_, DbError>(())
            })?;
            evs.clear();
            vis.clear();
            convs.clear();
        }
    }
    total += evs.len();
    db::write_tx(conn, |conn| {
        insert_all!(conn, visitors::table, vis);
        insert_all!(conn, conversations::table, convs);
        insert_all!(conn, analytics_events::table, evs);
        let out: Vec<_> = out
            .iter()
            .map(|(id, conv, result, at)| {
                (
                    outbox::id.eq(id),
                    outbox::company_id.eq(&company),
                    outbox::conversation_id.eq(Some(conv)),
                    outbox::kind.eq("capture"),
                    outbox::payload.eq("{}"),
                    outbox::status.eq("done"),
                    outbox::attempts.eq(1),
                    outbox::next_attempt_at.eq(at),
                    outbox::result.eq(Some(result)),
                    outbox::created_at.eq(at),
                    outbox::updated_at.eq(at),
                )
            })
            .collect();
        insert_all!(conn, outbox::table, out);
        let takes: Vec<_> = takes
            .iter()
            .map(|(conv, rep, waited, taken)| {
                (
                    chat_takes::id.eq(db::new_id()),
                    chat_takes::company_id.eq(&company),
                    chat_takes::conversation_id.eq(conv),
                    chat_takes::crm_user_id.eq(rep),
                    chat_takes::waited_ms.eq(waited),
                    chat_takes::taken_at.eq(taken),
                )
            })
            .collect();
        insert_all!(conn, chat_takes::table, takes);
        let msgs: Vec<_> = msgs
            .iter()
            .map(|(conv, at)| {
                (
                    messages::id.eq(db::new_id()),
                    messages::conversation_id.eq(conv),
                    messages::company_id.eq(&company),
                    messages::seq.eq(1_i64),
                    messages::author.eq("rep"),
                    messages::body.eq("Hello!"),
                    messages::payload.eq("{}"),
                    messages::created_at.eq(at),
                )
            })
            .collect();
        insert_all!(conn, messages::table, msgs);
        let deals: Vec<_> = deals
            .iter()
            .map(|(conv, deal, status)| {
                (
                    crm_outcomes::id.eq(db::new_id()),
                    crm_outcomes::company_id.eq(&company),
                    crm_outcomes::conversation_id.eq(conv),
                    crm_outcomes::deal_id.eq(deal),
                    crm_outcomes::status.eq(*status),
                    crm_outcomes::value_cents.eq(100_000_i64),
                    crm_outcomes::currency.eq(if deal % 120 == 1 { "USD" } else { "EUR" }),
                    crm_outcomes::updated_at.eq(now),
                )
            })
            .collect();
        insert_all!(conn, crm_outcomes::table, deals);
        rollup::rebuild(conn, &company)
    })?;
    Ok(Seeded {
        company,
        playbook: published[0].playbook_id.clone(),
        events: total,
        conversations: conversations_n,
    })
}

fn run(name: &str, url: &str, target: usize) -> Result<(), DbError> {
    let db = Db::open(url, 4)?;
    let mut conn = db.conn()?;
    let started = Instant::now();
    let seeded = seed(&mut conn, target)?;
    println!(
        "  {name}: seeded {} analytics events ({} conversations) in {:.1} s (roll-ups rebuilt included)",
        seeded.events,
        seeded.conversations,
        started.elapsed().as_secs_f64()
    );
    if let DbConn::Pg(c) = &mut *conn {
        diesel::sql_query("ANALYZE").execute(c)?;
    }
    let filters = [
        (
            "all visitors",
            Filter {
                version: None,
                known: None,
                returning: None,
            },
        ),
        (
            "known, returning",
            Filter {
                version: Some(1),
                known: Some(true),
                returning: Some(true),
            },
        ),
    ];
    for (label, filter) in filters {
        let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
        let mut shown = 0;
        for _ in 0..RUNS {
            let now = db::now_ms();
            let t = Instant::now();
            let report = playbook_report(
                &mut conn,
                &seeded.company,
                &seeded.playbook,
                DayRange::last(30, now),
                &filter,
                now,
            )?
            .expect("the playbook");
            times.push(t.elapsed());
            shown = report.report.totals.shown;
        }
        times.sort();
        println!(
            "  {name}, {label}: 30-day report in median {:.1} ms, max {:.1} ms ({RUNS} runs; {shown} shown)",
            times[RUNS / 2].as_secs_f64() * 1000.0,
            times[RUNS - 1].as_secs_f64() * 1000.0,
        );
    }
    Ok(())
}
