//! The daily roll-ups answer exactly what the events say: a seeded random history (two
//! versions, every audience, restarts, captures the CRM confirms before or after later
//! conversions, deals won and lost in two currencies, chats taken by two reps after random
//! waits with or without a first response, flows that stopped answering) recorded the way
//! the app records it, then every report read from the roll-ups equals the one computed
//! from the events and capture rows themselves, for many filters and ranges, on both
//! databases — and again after the roll-ups are rebuilt. The visitors' flags are turned
//! round after the history: chats taken, waits and stopped flows must still count each
//! visitor as they were at the time (the seed's own tally).

use concierge::db::analytics::rollup;
use concierge::db::analytics::{self, kind, left};
use concierge::db::schema::{conversations, visitors};
use concierge::db::{self, DbConn, companies, outbox, outcomes, playbooks};
use concierge::reports::Filter;
use concierge::reports::load::{DayRange, STOPPED_AFTER_MS, Source, report_from};
use concierge::reports::stats::percentile;
use diesel::prelude::*;
use serde_json::json;

use crate::common::TestDb;
use crate::reports::{conversation, document, ev, record};

const DAY: i64 = 86_400_000;

/// SplitMix64: a small seeded generator, so a failure can be replayed.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> i64 {
        (self.next() % n) as i64
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// A confirmed capture of conversation `conv` (a deal or a lead), as the worker stores it.
fn confirmed_capture(conn: &mut DbConn, company: &str, conv: &str, at: i64, deal: i64) {
    let row = outbox::enqueue(
        conn,
        company,
        Some(conv),
        outbox::Kind::Capture,
        &json!({}),
        at,
    )
    .unwrap();
    let progress = if deal % 2 == 0 {
        json!({ "person_id": 1, "deal_id": deal })
    } else {
        json!({ "person_id": 1, "lead_id": format!("00000000-0000-4000-8000-{deal:012}") })
    };
    db::write_tx(conn, |conn| {
        outbox::set_result(conn, company, &row.id, &progress.to_string())
    })
    .unwrap();
}

/// What the seed did that the report must count with the visitor as they were then.
#[derive(Default)]
struct Tally {
    /// (day, version, known, returning, wait ms) of each chat taken.
    takes: Vec<(i64, i32, bool, bool, i64)>,
    /// (day the conversation started, version, known, returning) of each stopped flow.
    stopped: Vec<(i64, i32, bool, bool)>,
}

fn seed(conn: &mut DbConn, rng: &mut Seeded) -> (String, String, Tally) {
    let mut tally = Tally::default();
    let company = companies::create(conn, "Roll-up Inc", Some(4242))
        .unwrap()
        .id;
    let v1 = playbooks::save_and_publish(conn, &company, &document("Team size?")).unwrap();
    let v2 = playbooks::save_and_publish(conn, &company, &document("How big?")).unwrap();
    let pb = v1.playbook_id.clone();
    let p = pb.as_str();
    let now = db::now_ms();
    for n in 0..160_i64 {
        let (version, version_id) = if rng.chance(50) {
            (1, v1.version_id.as_str())
        } else {
            (2, v2.version_id.as_str())
        };
        let (known, returning) = (rng.chance(40), rng.chance(30));
        let at = now - rng.below(12 * DAY as u64) - 1;
        let c = conversation(conn, &company, version_id, at, known, returning);
        let mut rec = |at: i64, events: &[analytics::NewEvent<'_>]| {
            record(conn, &company, &c, known, returning, at, events);
        };
        rec(
            at,
            &[
                ev(kind::SHOWN, p, None, None, version),
                ev(kind::REACHED, p, Some("size"), None, version),
            ],
        );
        if rng.chance(20) {
            // A restart: shown again, still once.
            rec(at + 1, &[ev(kind::SHOWN, p, None, None, version)]);
        }
        if rng.chance(30) {
            rec(
                at + 2,
                &[ev(kind::LEFT, p, Some("size"), Some(left::CLOSED), version)],
            );
            continue;
        }
        let option = rng.below(2);
        rec(
            at + 3,
            &[
                ev(kind::ENGAGED, p, None, None, version),
                ev(kind::ANSWER, p, Some("size"), Some(option), version),
                ev(kind::REACHED, p, Some("email"), None, version),
            ],
        );
        if at < now - STOPPED_AFTER_MS - DAY / 24 && rng.chance(15) {
            // Stopped answering at `email`.
            diesel::update(conversations::table.find(&c.id))
                .set((
                    conversations::engine_state
                        .eq(r#"{"state":{"at":"email","phase":"awaiting_input"},"engaged":true}"#),
                    conversations::status.eq("bot"),
                    conversations::closed_at.eq(None::<i64>),
                    conversations::updated_at.eq(at + 3),
                ))
                .execute(conn)
                .unwrap();
            tally
                .stopped
                .push((analytics::day_of(at), version, known, returning));
            continue;
        }
        // Captures the CRM confirms before the conversion is recorded (an earlier capture
        // of the conversation), after it, or never.
        let confirm = rng.below(3);
        let later = at + 4 + rng.below(3 * DAY as u64);
        if rng.chance(60) {
            if confirm == 0 {
                confirmed_capture(conn, &company, &c.id, at + 4, n);
            }
            record(
                conn,
                &company,
                &c,
                known,
                returning,
                at + 5,
                &[ev(kind::CONVERTED, p, Some("email"), None, version)],
            );
            if confirm == 1 {
                confirmed_capture(conn, &company, &c.id, later, n);
            }
            if confirm < 2 && rng.chance(70) {
                let news = outcomes::DealNews {
                    deal_id: 10_000 + n,
                    lead_id: None,
                    status: if rng.chance(60) { "won" } else { "lost" },
                    value_cents: 1_000 * (1 + rng.below(50)),
                    currency: if rng.chance(70) { "EUR" } else { "USD" },
                };
                outcomes::record(conn, &company, &c.id, &news, later).unwrap();
            }
        }
        let mut rec = |at: i64, events: &[analytics::NewEvent<'_>]| {
            record(conn, &company, &c, known, returning, at, events);
        };
        if rng.chance(40) {
            rec(
                at + 6,
                &[
                    ev(kind::REACHED, p, Some("talk"), None, version),
                    ev(kind::CHAT_OFFERED, p, Some("talk"), None, version),
                ],
            );
            if rng.chance(50) {
                rec(
                    at + 7,
                    &[ev(kind::CHAT_MISSED, p, Some("talk"), None, version)],
                );
            } else {
                let rep = if rng.chance(50) { "rep-a" } else { "rep-b" };
                let waited = 1_000 * (1 + rng.below(400));
                rec(
                    at + 7,
                    &[ev(kind::CHAT_TAKEN, p, Some(rep), Some(waited), version)],
                );
                if rng.chance(70) {
                    let first = waited + 1_000 * rng.below(90);
                    rec(
                        at + 8,
                        &[ev(kind::FIRST_RESPONSE, p, Some(rep), Some(first), version)],
                    );
                }
                tally
                    .takes
                    .push((analytics::day_of(at + 7), version, known, returning, waited));
            }
        }
        rec(
            at + 8,
            &[
                ev(kind::REACHED, p, Some("bye"), None, version),
                ev(kind::COMPLETED, p, None, None, version),
                ev(kind::SCORED, p, None, Some(10 * rng.below(4)), version),
            ],
        );
    }
    // Since then, every visitor turned out the other way round.
    let everyone: Vec<(String, bool, i32)> = visitors::table
        .filter(visitors::company_id.eq(&company))
        .select((visitors::id, visitors::known, visitors::visits))
        .load(conn)
        .unwrap();
    for (id, known, visits) in everyone {
        diesel::update(visitors::table.find(&id))
            .set((
                visitors::known.eq(!known),
                visitors::visits.eq(if visits > 1 { 1 } else { 3 }),
            ))
            .execute(conn)
            .unwrap();
    }
    (company, pb, tally)
}

fn filters() -> Vec<Filter> {
    let mut out = Vec::new();
    for version in [None, Some(1), Some(2)] {
        for known in [None, Some(true), Some(false)] {
            for returning in [None, Some(true), Some(false)] {
                out.push(Filter {
                    version,
                    known,
                    returning,
                });
            }
        }
    }
    out
}

/// Every filter and range: the roll-ups' report equals the events', and its chats taken,
/// waits and stopped flows are the seed's. The number of reports compared that had
/// confirmed conversions.
fn compare_all(conn: &mut DbConn, company: &str, playbook: &str, tally: &Tally) -> usize {
    let now = db::now_ms();
    let today = analytics::day_of(now);
    let mut ranges = vec![DayRange::last(7, now), DayRange::last(30, now)];
    for back in 0..13 {
        let day = concierge::reports::stats::day_label(today - back);
        ranges.extend(DayRange::custom(&day, &day));
    }
    let mut with_conversions = 0;
    for range in ranges {
        for filter in filters() {
            let read = |conn: &mut DbConn, source| {
                report_from(conn, company, playbook, range, &filter, now, source)
                    .unwrap()
                    .expect("the playbook")
            };
            let from_rollups = read(conn, Source::RollUps);
            let from_events = read(conn, Source::Events);
            assert_eq!(
                from_rollups.report, from_events.report,
                "{range:?} {filter:?}"
            );
            let admits = |day: i64, version: i32, known: bool, returning: bool| {
                day >= range.from_day
                    && day <= range.to_day
                    && filter.admits(version, known, returning)
            };
            let waits: Vec<i64> = tally
                .takes
                .iter()
                .filter(|t| admits(t.0, t.1, t.2, t.3))
                .map(|t| t.4)
                .collect();
            let live = &from_rollups.report.live;
            assert_eq!(live.taken, waits.len() as i64, "{range:?} {filter:?}");
            assert_eq!(live.wait_median_ms, percentile(&waits, 50));
            assert_eq!(live.wait_p90_ms, percentile(&waits, 90));
            let by_reps: i64 = live.reps.iter().map(|r| r.taken).sum();
            assert_eq!(by_reps, live.taken);
            let stopped = tally
                .stopped
                .iter()
                .filter(|s| admits(s.0, s.1, s.2, s.3))
                .count() as i64;
            let reported: i64 = from_rollups
                .report
                .funnel
                .iter()
                .map(|c| c.stopped_answering)
                .sum();
            assert_eq!(reported, stopped, "{range:?} {filter:?}");
            if from_rollups.report.totals.converted > 0 {
                with_conversions += 1;
            }
        }
    }
    with_conversions
}

#[test]
fn roll_up_reports_equal_the_events_on_a_seeded_history() {
    for test_db in TestDb::all() {
        let db = test_db.open();
        let mut conn = db.conn().unwrap();
        let mut rng = Seeded(0x5EED_0009);
        let (company, playbook, tally) = seed(&mut conn, &mut rng);
        assert!(tally.takes.len() > 10 && tally.stopped.len() > 5);

        // The history is not trivial: some conversions confirmed, some not, deals in two
        // currencies, several paths.
        let now = db::now_ms();
        let all = Filter {
            version: None,
            known: None,
            returning: None,
        };
        let month = report_from(
            &mut conn,
            &company,
            &playbook,
            DayRange::last(30, now),
            &all,
            now,
            Source::RollUps,
        )
        .unwrap()
        .unwrap()
        .report;
        let t = &month.totals;
        assert!(t.converted > 0 && t.converted < t.captures_queued, "{t:?}");
        assert!(t.deals_won > 0 && t.deals_lost > 0, "{t:?}");
        assert_eq!(t.value_won.len(), 2, "{t:?}");
        assert!(!month.deal_paths.is_empty());

        assert!(month.live.first_response_median_ms.is_some());
        assert!(compare_all(&mut conn, &company, &playbook, &tally) > 20);
        rollup::rebuild(&mut conn, &company).unwrap();
        assert!(compare_all(&mut conn, &company, &playbook, &tally) > 20);
    }
}

/// A rep's inbox call that must succeed.
async fn rep_call(rep: &crate::live_chat::Rep, path: &str, body: Option<serde_json::Value>) {
    let (status, answer) = rep.post(path, body).await;
    assert!(status.is_success(), "{path}: {status} {answer}");
}

/// `(conversation, kind, rep, value, time, version, known, returning)` of the live chat
/// events of the company, sorted.
type LiveEvent = (
    Option<String>,
    String,
    Option<String>,
    Option<i64>,
    i64,
    Option<i32>,
    bool,
    bool,
);

fn live_events(conn: &mut DbConn, company: &str) -> Vec<LiveEvent> {
    use concierge::db::schema::analytics_events as e;
    let mut rows: Vec<LiveEvent> = e::table
        .filter(e::company_id.eq(company))
        .filter(e::kind.eq_any(vec![kind::CHAT_TAKEN, kind::FIRST_RESPONSE]))
        .select((
            e::conversation_id,
            e::kind,
            e::card,
            e::value,
            e::created_at,
            e::version,
            e::visitor_known,
            e::visitor_returning,
        ))
        .load(conn)
        .unwrap();
    rows.sort();
    rows
}

/// Run a migration's SQL as it stands in `migrations/` on this connection.
fn run_sql(conn: &mut DbConn, sql: &str) {
    use diesel::connection::SimpleConnection;
    match conn {
        DbConn::Sqlite(c) => c.batch_execute(sql),
        DbConn::Pg(c) => c.batch_execute(sql),
    }
    .unwrap();
}

/// Chats taken before takes and first responses were recorded as events have only their
/// `chat_takes` rows and messages. A history made through the rep API (a chat taken and
/// answered twice, one taken and never answered, one answered, handed back and taken and
/// answered by another rep, one answered straight from the queue) is turned into that old
/// state: two chats lose their events, the other two name their reps by the `crm_users` row
/// as events did then, the roll-ups are rebuilt from what is left and every visitor has
/// come back since. The migration `live_chat_events` then gives back the very events the app
/// recorded (the visitor as they were, the CRM's user ids), the report's live chat figures
/// equal the new database's for every filter, the roll-ups equal the events, and running it
/// again changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_chat_history_is_backfilled_into_events_and_roll_ups() {
    use crate::live_chat::{ADA, BEN, Rep, setup, visitor_waits};
    use concierge::db::Backend;
    use concierge::db::schema::analytics_events as e;
    for test_db in TestDb::all() {
        let backend = test_db.backend;
        let (app, company) = setup(test_db).await;
        let crm = concierge::crm::sandbox::COMPANY_ID;
        let (ada, ben) = (
            Rep::sign_in(&app, crm, ADA).await,
            Rep::sign_in(&app, crm, BEN).await,
        );
        ada.online().await;
        ben.online().await;
        let says = |text: &str| Some(json!({ "text": text }));
        let mut chats = Vec::new();
        for n in 0..4 {
            let (_widget, id) = visitor_waits(&app, &company, &format!("v{n}@acme.test")).await;
            let (assign, messages) = (
                format!("conversations/{id}/assign"),
                format!("conversations/{id}/messages"),
            );
            match n {
                0 => {
                    rep_call(&ben, &assign, None).await;
                    rep_call(&ben, &messages, says("Hello, Ben here")).await;
                    rep_call(&ben, &messages, says("Still there?")).await;
                }
                1 => rep_call(&ada, &assign, None).await,
                2 => {
                    rep_call(&ben, &assign, None).await;
                    rep_call(&ben, &messages, says("One moment")).await;
                    rep_call(&ben, &assign, Some(json!({ "user_id": null }))).await;
                    rep_call(&ada, &assign, None).await;
                    rep_call(&ada, &messages, says("Ada here")).await;
                }
                _ => rep_call(&ada, &messages, says("Straight from the queue")).await,
            }
            chats.push(id);
        }
        let mut conn = app.state.db.conn().unwrap();
        let playbook = analytics::for_conversation(&mut conn, &company.id, &chats[0]).unwrap()[0]
            .playbook_id
            .clone()
            .unwrap();
        let recorded = live_events(&mut conn, &company.id);
        let kinds = |k: &str| recorded.iter().filter(|r| r.1 == k).count();
        assert_eq!(
            (kinds(kind::CHAT_TAKEN), kinds(kind::FIRST_RESPONSE)),
            (5, 4)
        );
        let now = db::now_ms();
        let range = DayRange::last(7, now);
        let report = |conn: &mut DbConn, filter: &Filter, source| {
            report_from(conn, &company.id, &playbook, range, filter, now, source)
                .unwrap()
                .expect("the playbook")
                .report
        };
        let new: Vec<_> = filters()
            .iter()
            .map(|f| report(&mut conn, f, Source::RollUps).live)
            .collect();
        assert_eq!(new[0].taken, 5);
        assert_eq!(new[0].reps.len(), 2);

        // The old state: the first two chats have no events, the others name their reps
        // by the `crm_users` row; the roll-ups say what those events say.
        diesel::delete(
            e::table
                .filter(e::conversation_id.eq_any(&chats[..2]))
                .filter(e::kind.eq_any(vec![kind::CHAT_TAKEN, kind::FIRST_RESPONSE])),
        )
        .execute(&mut conn)
        .unwrap();
        for crm_id in [ADA, BEN] {
            let row = concierge::db::live::rep(&mut conn, &company.id, crm_id)
                .unwrap()
                .unwrap()
                .id;
            diesel::update(
                e::table
                    .filter(e::company_id.eq(&company.id))
                    .filter(e::kind.eq_any(vec![kind::CHAT_TAKEN, kind::FIRST_RESPONSE]))
                    .filter(e::card.eq(crm_id.to_string())),
            )
            .set(e::card.eq(row))
            .execute(&mut conn)
            .unwrap();
        }
        rollup::rebuild(&mut conn, &company.id).unwrap();
        diesel::update(visitors::table.filter(visitors::company_id.eq(&company.id)))
            .set(visitors::visits.eq(5))
            .execute(&mut conn)
            .unwrap();
        let old = report(&mut conn, &filters()[0], Source::RollUps).live;
        assert_eq!(old.taken, 3, "{old:?}");
        assert!(old.reps.iter().all(|r| r.rep_id.parse::<i64>().is_err()));

        let sql = match backend {
            Backend::Sqlite => {
                include_str!("../../migrations/sqlite/2026-12-06-000900_live_chat_events/up.sql")
            }
            Backend::Postgres => {
                include_str!("../../migrations/postgres/2026-12-06-000900_live_chat_events/up.sql")
            }
        };
        for run in 0..2 {
            run_sql(&mut conn, sql);
            assert_eq!(live_events(&mut conn, &company.id), recorded, "run {run}");
            for (filter, expected) in filters().iter().zip(&new) {
                let from_rollups = report(&mut conn, filter, Source::RollUps);
                assert_eq!(&from_rollups.live, expected, "run {run}: {filter:?}");
                assert_eq!(
                    from_rollups,
                    report(&mut conn, filter, Source::Events),
                    "run {run}: {filter:?}"
                );
            }
        }
    }
}
