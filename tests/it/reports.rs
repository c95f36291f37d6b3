//! Reports against a hand-written history whose right answers are known, on both
//! databases: ten conversations over two versions of one playbook (shown, engaged, CRM
//! confirmed or not, left by the close button, an exit word or silence, live chats taken
//! after known waits or missed, deals won and lost), read through the admin API as JSON,
//! CSV and the settings page's HTML, with every filter.

use concierge::crm::CrmUser;
use concierge::db::analytics::{self, Audience, NewEvent, kind, left};
use concierge::db::conversations as convs;
use concierge::db::schema::{conversations, visitors};
use concierge::db::visitors::Page;
use concierge::db::{self, DbConn, companies, crm_users, live, outbox, outcomes, playbooks};
use concierge::web::auth::session;
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::common::{TestApp, TestDb};

const DAY: i64 = 86_400_000;
const SECOND: i64 = 1000;

pub(crate) fn document(version_text: &str) -> concierge::playbook::Playbook {
    serde_json::from_value(json!({
        "slug": "report-fixture",
        "name": "Report fixture",
        "trigger": { "on": "click", "selector": "#report-fixture" },
        "start": "size",
        "cards": [
            { "id": "size", "type": "buttons", "text": version_text,
              "options": [
                  { "label": "Small", "next": "email", "score": 10 },
                  { "label": "Large", "next": "email", "score": 30 }
              ] },
            { "id": "email", "type": "question", "text": "Your e-mail?", "input": "email",
              "save": "person.email", "next": "talk" },
            { "id": "talk", "type": "live_chat", "online_message": "One moment…",
              "offline_message": "We are away.", "offline_next": "bye" },
            { "id": "bye", "type": "end", "text": "Thanks!" }
        ]
    }))
    .expect("the fixture playbook")
}

/// One conversation of the fixture.
pub(crate) struct Conv {
    pub(crate) id: String,
    version_id: String,
}

pub(crate) struct Fixture {
    pub(crate) company: String,
    pub(crate) playbook: String,
    /// The UTC day number of "two days ago" (version 1) — version 2 ran yesterday.
    day1: i64,
}

fn rep(conn: &mut DbConn, company: &str, crm_id: i64) -> String {
    live::rep(conn, company, crm_id)
        .unwrap()
        .expect("synced rep")
        .id
}

pub(crate) fn ev<'a>(
    kind: &'static str,
    playbook: &'a str,
    card: Option<&'a str>,
    value: Option<i64>,
    version: i32,
) -> NewEvent<'a> {
    NewEvent {
        kind,
        playbook_id: Some(playbook),
        card,
        value,
        version: Some(version),
    }
}

pub(crate) fn conversation(
    conn: &mut DbConn,
    company: &str,
    version_id: &str,
    at: i64,
    known: bool,
    returning: bool,
) -> Conv {
    let page = Page {
        url: "https://example.com/".into(),
        ..Page::default()
    };
    let visitor = db::visitors::create(conn, company, &page, at).unwrap();
    diesel::update(visitors::table.find(&visitor.id))
        .set((
            visitors::known.eq(known),
            visitors::visits.eq(if returning { 2 } else { 1 }),
        ))
        .execute(conn)
        .unwrap();
    let c = convs::create(conn, company, &visitor.id, at).unwrap();
    diesel::update(conversations::table.find(&c.id))
        .set((
            conversations::playbook_version_id.eq(version_id),
            conversations::status.eq("closed"),
            conversations::closed_at.eq(Some(at)),
        ))
        .execute(conn)
        .unwrap();
    Conv {
        id: c.id,
        version_id: version_id.to_owned(),
    }
}

pub(crate) fn record(
    conn: &mut DbConn,
    company: &str,
    c: &Conv,
    known: bool,
    returning: bool,
    at: i64,
    events: &[NewEvent<'_>],
) {
    let _ = &c.version_id;
    let mut pending = analytics::Pending::default();
    analytics::record(
        conn,
        company,
        Some(&c.id),
        Audience { known, returning },
        events,
        at,
        &mut pending,
    )
    .unwrap();
    pending.write(conn).unwrap();
}

/// A capture of `c`; `progress` is what the CRM confirmed (`{}`: nothing yet).
fn capture(conn: &mut DbConn, company: &str, c: &Conv, at: i64, progress: Value) {
    let row = outbox::enqueue(
        conn,
        company,
        Some(&c.id),
        outbox::Kind::Capture,
        &json!({}),
        at,
    )
    .unwrap();
    outbox::set_result(conn, company, &row.id, &progress.to_string()).unwrap();
}

/// A rep took `c`'s chat `waited_s` after its hand-off at `handoff` and first wrote
/// `first_s` after it: what the app records then (the take, and the events with the
/// visitor as they were: `who` is (known, returning), `run` the playbook and version).
fn take(
    conn: &mut DbConn,
    company: &str,
    c: &Conv,
    who: (bool, bool),
    run: (&str, i32),
    rep_id: &str,
    (handoff, waited_s, first_s): (i64, i64, Option<i64>),
) {
    let taken_at = handoff + waited_s * SECOND;
    live::record_take(conn, company, &c.id, rep_id, waited_s * SECOND, taken_at).unwrap();
    // The events name the rep by the CRM's user id.
    use concierge::db::schema::crm_users as u;
    let crm_id: i64 = u::table
        .find(rep_id)
        .select(u::crm_user_id)
        .first(conn)
        .unwrap();
    let crm_id = crm_id.to_string();
    let (p, version) = run;
    let taken = ev(
        kind::CHAT_TAKEN,
        p,
        Some(&crm_id),
        Some(waited_s * SECOND),
        version,
    );
    record(conn, company, c, who.0, who.1, taken_at, &[taken]);
    if let Some(s) = first_s {
        let first = ev(
            kind::FIRST_RESPONSE,
            p,
            Some(&crm_id),
            Some(s * SECOND),
            version,
        );
        record(
            conn,
            company,
            c,
            who.0,
            who.1,
            handoff + s * SECOND,
            &[first],
        );
    }
}

/// The fixture's reps as the CRM lists them.
fn fixture_reps() -> Vec<CrmUser> {
    vec![
        CrmUser {
            id: 71,
            name: "Ada Rep".into(),
            email: "ada@example.com".into(),
            is_admin: true,
            active: true,
            icon_url: None,
        },
        CrmUser {
            id: 72,
            name: "Bob Rep".into(),
            email: "bob@example.com".into(),
            is_admin: false,
            active: true,
            icon_url: None,
        },
    ]
}

/// The history whose figures the tests know, in the first company.
pub(crate) fn seed(conn: &mut DbConn) -> Fixture {
    let company = companies::first(conn).unwrap().expect("demo company").id;
    let now = db::now_ms();
    crm_users::sync(conn, &company, &fixture_reps(), now).unwrap();
    let (ada, bob) = (rep(conn, &company, 71), rep(conn, &company, 72));
    let v1 = playbooks::save_and_publish(conn, &company, &document("Team size?")).unwrap();
    let v2 =
        playbooks::save_and_publish(conn, &company, &document("How big is your team?")).unwrap();
    assert_eq!((v1.version, v2.version), (1, 2));
    let pb = v1.playbook_id.clone();
    let p = pb.as_str();
    let today = analytics::day_of(now);
    let (day1, day2) = (today - 2, today - 1);
    let t1 = day1 * DAY + 10 * 3_600_000;
    let t2 = day2 * DAY + 10 * 3_600_000;
    let shown = |v| ev(kind::SHOWN, p, None, None, v);
    let engaged = |v| ev(kind::ENGAGED, p, None, None, v);
    let reached = |card, v| ev(kind::REACHED, p, Some(card), None, v);
    let answer = |i, v| ev(kind::ANSWER, p, Some("size"), Some(i), v);

    // Version 1, two days ago.
    let c1 = conversation(conn, &company, &v1.version_id, t1, true, false);
    record(
        conn,
        &company,
        &c1,
        true,
        false,
        t1,
        &[shown(1), reached("size", 1)],
    );
    // Shown again in the same conversation (a restart): still one.
    record(conn, &company, &c1, true, false, t1 + 1, &[shown(1)]);
    record(
        conn,
        &company,
        &c1,
        true,
        false,
        t1 + 2,
        &[
            engaged(1),
            answer(0, 1),
            reached("email", 1),
            ev(kind::CONVERTED, p, Some("email"), None, 1),
            reached("bye", 1),
            ev(kind::COMPLETED, p, None, None, 1),
            ev(kind::SCORED, p, None, Some(10), 1),
        ],
    );
    capture(
        conn,
        &company,
        &c1,
        t1 + 2,
        json!({ "person_id": 1, "deal_id": 501 }),
    );

    let c2 = conversation(conn, &company, &v1.version_id, t1, false, false);
    record(
        conn,
        &company,
        &c2,
        false,
        false,
        t1,
        &[
            shown(1),
            reached("size", 1),
            engaged(1),
            answer(1, 1),
            reached("email", 1),
            ev(kind::CONVERTED, p, Some("email"), None, 1),
            reached("bye", 1),
            ev(kind::COMPLETED, p, None, None, 1),
            ev(kind::SCORED, p, None, Some(30), 1),
        ],
    );
    // Queued, the CRM has not confirmed it: not converted.
    capture(conn, &company, &c2, t1, json!({ "person_id": 2 }));

    let c3 = conversation(conn, &company, &v1.version_id, t1, false, true);
    record(
        conn,
        &company,
        &c3,
        false,
        true,
        t1,
        &[
            shown(1),
            reached("size", 1),
            engaged(1),
            answer(0, 1),
            reached("email", 1),
            ev(kind::LEFT, p, Some("email"), Some(left::EXIT_WORD), 1),
            ev(kind::COMPLETED, p, None, None, 1),
        ],
    );

    let c4 = conversation(conn, &company, &v1.version_id, t1, false, false);
    record(
        conn,
        &company,
        &c4,
        false,
        false,
        t1,
        &[
            shown(1),
            reached("size", 1),
            ev(kind::LEFT, p, Some("size"), Some(left::CLOSED), 1),
            ev(kind::COMPLETED, p, None, None, 1),
        ],
    );

    // Stopped answering: the flow still waits at `size`, untouched since two days ago.
    let c5 = conversation(conn, &company, &v1.version_id, t1, false, true);
    record(
        conn,
        &company,
        &c5,
        false,
        true,
        t1,
        &[shown(1), reached("size", 1)],
    );
    diesel::update(conversations::table.find(&c5.id))
        .set((
            conversations::engine_state
                .eq(r#"{"state":{"at":"size","phase":"awaiting_input"},"engaged":false}"#),
            conversations::status.eq("bot"),
            conversations::updated_at.eq(t1),
        ))
        .execute(conn)
        .unwrap();

    let c6 = conversation(conn, &company, &v1.version_id, t1, true, false);
    record(
        conn,
        &company,
        &c6,
        true,
        false,
        t1,
        &[
            shown(1),
            reached("size", 1),
            engaged(1),
            reached("talk", 1),
            ev(kind::CHAT_OFFERED, p, Some("talk"), None, 1),
        ],
    );
    take(
        conn,
        &company,
        &c6,
        (true, false),
        (p, 1),
        &ada,
        (t1, 20, Some(50)),
    );

    // Version 2, yesterday.
    let c7 = conversation(conn, &company, &v2.version_id, t2, true, false);
    record(
        conn,
        &company,
        &c7,
        true,
        false,
        t2,
        &[
            shown(2),
            reached("size", 2),
            engaged(2),
            answer(1, 2),
            reached("email", 2),
            ev(kind::CONVERTED, p, Some("email"), None, 2),
            reached("talk", 2),
            ev(kind::CHAT_OFFERED, p, Some("talk"), None, 2),
        ],
    );
    capture(
        conn,
        &company,
        &c7,
        t2,
        json!({ "person_id": 3, "lead_id": "0d9c3f9e-2b55-4a39-9f3c-8c1b2a3d4e5f" }),
    );
    take(
        conn,
        &company,
        &c7,
        (true, false),
        (p, 2),
        &bob,
        (t2, 40, Some(70)),
    );

    let c8 = conversation(conn, &company, &v2.version_id, t2, false, false);
    record(
        conn,
        &company,
        &c8,
        false,
        false,
        t2,
        &[
            shown(2),
            reached("size", 2),
            engaged(2),
            reached("talk", 2),
            ev(kind::CHAT_OFFERED, p, Some("talk"), None, 2),
        ],
    );
    record(
        conn,
        &company,
        &c8,
        false,
        false,
        t2 + 60 * SECOND,
        &[ev(kind::CHAT_MISSED, p, Some("talk"), None, 2)],
    );

    let c9 = conversation(conn, &company, &v2.version_id, t2, false, false);
    record(
        conn,
        &company,
        &c9,
        false,
        false,
        t2,
        &[shown(2), reached("size", 2)],
    );

    let c10 = conversation(conn, &company, &v2.version_id, t2, false, false);
    record(
        conn,
        &company,
        &c10,
        false,
        false,
        t2,
        &[
            shown(2),
            reached("size", 2),
            engaged(2),
            reached("talk", 2),
            ev(kind::CHAT_OFFERED, p, Some("talk"), None, 2),
        ],
    );
    take(
        conn,
        &company,
        &c10,
        (false, false),
        (p, 2),
        &ada,
        (t2, 100, None),
    );

    // The CRM's news: c1's deal won (1,500.00 EUR); c7's lead became deal 502, lost.
    let won = outcomes::DealNews {
        deal_id: 501,
        lead_id: None,
        status: "won",
        value_cents: 150_000,
        currency: "EUR",
    };
    let conv = outcomes::conversation_of(conn, &company, 501, None).unwrap();
    assert_eq!(
        conv.as_deref(),
        Some(c1.id.as_str()),
        "deal 501 belongs to c1's capture"
    );
    outcomes::record(conn, &company, &c1.id, &won, now).unwrap();
    let lead = "0d9c3f9e-2b55-4a39-9f3c-8c1b2a3d4e5f";
    let conv = outcomes::conversation_of(conn, &company, 502, Some(lead)).unwrap();
    assert_eq!(
        conv.as_deref(),
        Some(c7.id.as_str()),
        "deal 502 came from c7's lead"
    );
    let lost = outcomes::DealNews {
        deal_id: 502,
        lead_id: Some(lead),
        status: "lost",
        value_cents: 90_000,
        currency: "EUR",
    };
    outcomes::record(conn, &company, &c7.id, &lost, now).unwrap();

    // Since then every visitor has told who they are and come back: the reports still
    // count each figure with the visitor as they were when it happened.
    diesel::update(visitors::table.filter(visitors::company_id.eq(&company)))
        .set((visitors::known.eq(true), visitors::visits.eq(5)))
        .execute(conn)
        .unwrap();

    Fixture {
        company,
        playbook: pb,
        day1,
    }
}

async fn get(app: &TestApp, cookie: &str, csrf: &str, path: &str) -> (u16, String, String) {
    let resp = reqwest::Client::new()
        .get(app.at(path))
        .header("cookie", cookie)
        .header("x-csrf-token", csrf)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, resp.text().await.unwrap_or_default())
}

async fn json_of(app: &TestApp, cookie: &str, csrf: &str, path: &str) -> Value {
    let (status, _, body) = get(app, cookie, csrf, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).expect("JSON")
}

fn totals(report: &Value) -> (i64, i64, i64) {
    let t = &report["report"]["totals"];
    (
        t["shown"].as_i64().unwrap(),
        t["engaged"].as_i64().unwrap(),
        t["converted"].as_i64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_figures_match_the_hand_written_fixture() {
    for test_db in TestDb::all() {
        let app = TestApp::spawn_with(test_db, |c| c.outbox.concurrency = 0).await;
        let fx = {
            let mut conn = app.state.db.conn().unwrap();
            seed(&mut conn)
        };
        let data = session::start(&fx.company, 71, 0, chrono::Utc::now().timestamp());
        let c = session::cookie(&app.state.crm.session_key, &data);
        let (cookie, csrf) = (format!("{}={}", c.name(), c.value()), data.csrf.clone());
        let base = format!("/api/admin/reports/playbooks/{}", fx.playbook);

        let r = json_of(&app, &cookie, &csrf, &format!("{base}?range=7d")).await;
        let t = &r["report"]["totals"];
        assert_eq!(totals(&r), (10, 7, 2), "{t:#}");
        assert_eq!(t["captures_queued"], 3);
        assert_eq!(t["engagement_rate"], 0.7);
        assert_eq!(t["conversion_rate"], 0.2857);
        assert_eq!(t["completed"], 2);
        assert_eq!(t["deals_won"], 1);
        assert_eq!(t["deals_lost"], 1);
        assert_eq!(
            t["value_won"],
            json!([{ "currency": "EUR", "cents": 150_000 }])
        );
        assert_eq!(r["playbook"]["versions"], json!([2, 1]));

        let series = r["report"]["series"].as_array().unwrap();
        assert_eq!(series.len(), 7);
        let day = |d: i64| {
            let label = concierge::reports::stats::day_label(d);
            series
                .iter()
                .find(|s| s["day"] == label.as_str())
                .cloned()
                .unwrap()
        };
        assert_eq!(
            day(fx.day1),
            json!({ "day": concierge::reports::stats::day_label(fx.day1), "shown": 6, "engaged": 4, "converted": 1 })
        );
        assert_eq!(day(fx.day1 + 1)["shown"], 4);
        assert_eq!(day(fx.day1 + 1)["converted"], 1);

        let funnel: Vec<(String, i64, i64, i64, i64)> = r["report"]["funnel"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["card"].as_str().unwrap().to_owned(),
                    c["reached"].as_i64().unwrap(),
                    c["left_closed"].as_i64().unwrap(),
                    c["left_exit_word"].as_i64().unwrap(),
                    c["stopped_answering"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            funnel,
            vec![
                ("size".into(), 10, 1, 0, 1),
                ("email".into(), 4, 0, 1, 0),
                ("talk".into(), 4, 0, 0, 0),
                ("bye".into(), 2, 0, 0, 0),
            ]
        );
        assert_eq!(
            r["report"]["answers"],
            json!([{ "card": "size", "options": [
                { "index": 0, "label": "Small", "count": 2 },
                { "index": 1, "label": "Large", "count": 2 }
            ] }])
        );
        assert_eq!(
            r["report"]["scores"],
            json!([{ "score": 10, "count": 1 }, { "score": 30, "count": 1 }])
        );

        let l = &r["report"]["live"];
        assert_eq!(
            (
                l["offered"].as_i64(),
                l["taken"].as_i64(),
                l["missed"].as_i64()
            ),
            (Some(4), Some(3), Some(1))
        );
        assert_eq!(l["wait_median_ms"], 40_000);
        assert_eq!(l["wait_p90_ms"], 100_000);
        assert_eq!(l["first_response_median_ms"], 50_000);
        assert_eq!(l["first_response_p90_ms"], 70_000);
        let buckets: Vec<i64> = l["waits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["count"].as_i64().unwrap())
            .collect();
        assert_eq!(buckets, vec![0, 1, 1, 1, 0, 0]);
        assert_eq!(
            l["reps"],
            json!([
                { "rep_id": "71", "name": "Ada Rep", "taken": 2, "wait_median_ms": 20_000, "first_response_median_ms": 50_000 },
                { "rep_id": "72", "name": "Bob Rep", "taken": 1, "wait_median_ms": 40_000, "first_response_median_ms": 70_000 }
            ])
        );

        // Filters: a version, an audience; ranges.
        let v1 = json_of(&app, &cookie, &csrf, &format!("{base}?range=7d&version=1")).await;
        assert_eq!(totals(&v1), (6, 4, 1));
        assert_eq!(v1["report"]["live"]["taken"], 1);
        assert_eq!(v1["report"]["totals"]["deals_won"], 1);
        let v2 = json_of(&app, &cookie, &csrf, &format!("{base}?range=7d&version=2")).await;
        assert_eq!(totals(&v2), (4, 3, 1));
        assert_eq!(v2["report"]["totals"]["deals_lost"], 1);
        assert_eq!(v2["report"]["answers"][0]["options"][0]["label"], "Small");
        let known = json_of(&app, &cookie, &csrf, &format!("{base}?range=7d&known=true")).await;
        assert_eq!(totals(&known), (3, 3, 2));
        assert_eq!(known["report"]["live"]["taken"], 2);
        let unknown = json_of(
            &app,
            &cookie,
            &csrf,
            &format!("{base}?range=7d&known=false"),
        )
        .await;
        assert_eq!(totals(&unknown), (7, 4, 0));
        // Taken and stopped with the visitor as they were then (all known by now).
        assert_eq!(unknown["report"]["live"]["taken"], 1);
        assert_eq!(unknown["report"]["live"]["wait_median_ms"], 100_000);
        assert_eq!(unknown["report"]["funnel"][0]["stopped_answering"], 1);
        assert_eq!(known["report"]["funnel"][0]["stopped_answering"], 0);
        let back = json_of(
            &app,
            &cookie,
            &csrf,
            &format!("{base}?range=7d&returning=true"),
        )
        .await;
        assert_eq!(totals(&back), (2, 1, 0));
        assert_eq!(back["report"]["funnel"][0]["stopped_answering"], 1);
        let new = json_of(
            &app,
            &cookie,
            &csrf,
            &format!("{base}?range=7d&returning=false"),
        )
        .await;
        assert_eq!(totals(&new), (8, 6, 2));
        let today = json_of(&app, &cookie, &csrf, &format!("{base}?range=today")).await;
        assert_eq!(totals(&today), (0, 0, 0));
        assert_eq!(today["report"]["series"].as_array().unwrap().len(), 1);
        let label = concierge::reports::stats::day_label(fx.day1);
        let one_day = json_of(
            &app,
            &cookie,
            &csrf,
            &format!("{base}?range=custom&from={label}&to={label}"),
        )
        .await;
        assert_eq!(totals(&one_day), (6, 4, 1));
        assert_eq!(one_day["report"]["live"]["taken"], 1);
        let thirty = json_of(&app, &cookie, &csrf, &base).await;
        assert_eq!(totals(&thirty), (10, 7, 2));
        assert_eq!(thirty["report"]["series"].as_array().unwrap().len(), 30);

        // Versions side by side.
        let both = json_of(
            &app,
            &cookie,
            &csrf,
            &format!("{base}/compare?a=1&b=2&range=7d"),
        )
        .await;
        assert_eq!(totals(&both["a"]), (6, 4, 1));
        assert_eq!(totals(&both["b"]), (4, 3, 1));
        let (status, _, body) = get(&app, &cookie, &csrf, &format!("{base}/compare?a=1&b=9")).await;
        assert_eq!(status, 400, "{body}");

        // CSV: one figure a line.
        let (status, content_type, csv) =
            get(&app, &cookie, &csrf, &format!("{base}?range=7d&format=csv")).await;
        assert_eq!(status, 200);
        assert!(content_type.starts_with("text/csv"), "{content_type}");
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "section,item,measure,value");
        for expected in [
            "totals,,shown,10",
            "totals,,engaged,7",
            "totals,,converted,2",
            "totals,EUR,value_won_cents,150000",
            "deal_paths,size → email → bye,deals_won,1",
            "deal_paths,size → email → bye (EUR),value_won_cents,150000",
            "deal_paths,size → email → talk,deals_lost,1",
            "funnel,size,stopped_answering,1",
            "answers,size: Large,count,2",
            "live_chat,,wait_p90_ms,100000",
            "reps,Ada Rep,taken,2",
        ] {
            assert!(lines.contains(&expected), "{expected} missing from\n{csv}");
        }
        let (_, _, csv) = get(
            &app,
            &cookie,
            &csrf,
            &format!("{base}/compare?a=1&b=2&range=7d&format=csv"),
        )
        .await;
        assert!(csv.lines().any(|l| l == "1,totals,,shown,6"), "{csv}");
        assert!(csv.lines().any(|l| l == "2,totals,,shown,4"), "{csv}");

        // The settings page's HTML: charts with their tables.
        let (status, content_type, html) = get(
            &app,
            &cookie,
            &csrf,
            &format!("{base}?range=7d&format=html"),
        )
        .await;
        assert_eq!(status, 200);
        assert!(content_type.starts_with("text/html"));
        assert_eq!(html.matches("<svg class=\"chart\"").count(), 3, "{html}");
        assert!(html.contains("<td>Small</td><td>2</td>"), "{html}");
        assert!(html.contains("1500.00 EUR"), "{html}");
        assert!(
            html.contains("<td>size → email → bye</td><td>1</td><td>0</td><td>1500.00 EUR</td>"),
            "{html}"
        );

        // Errors: bad range, unknown playbook, a rep, no session.
        let (status, _, _) = get(
            &app,
            &cookie,
            &csrf,
            &format!("{base}?range=custom&from=2026-02-01&to=2026-01-01"),
        )
        .await;
        assert_eq!(status, 400);
        let (status, _, _) = get(&app, &cookie, &csrf, &format!("{base}?format=xml")).await;
        assert_eq!(status, 400);
        let (status, _, _) = get(&app, &cookie, &csrf, "/api/admin/reports/playbooks/nope").await;
        assert_eq!(status, 404);
        let rep_data = session::start(&fx.company, 72, 0, chrono::Utc::now().timestamp());
        let rc = session::cookie(&app.state.crm.session_key, &rep_data);
        let (status, _, _) = get(
            &app,
            &format!("{}={}", rc.name(), rc.value()),
            &rep_data.csrf,
            &base,
        )
        .await;
        assert_eq!(status, 403);
        let (status, _, _) = get(&app, "", "", &base).await;
        assert_eq!(status, 401);
    }
}

/// A chat taken and answered through the rep API: the take and the rep's first words are
/// recorded then, with the visitor as they were (new), so the report still counts them
/// there after the visitor came back; a second message is no first response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_take_and_the_first_response_are_recorded_when_they_happen() {
    use crate::live_chat::{ADA, BEN, Rep, setup, visitor_waits};
    for test_db in TestDb::all() {
        let (app, company) = setup(test_db).await;
        let ben = Rep::sign_in(&app, concierge::crm::sandbox::COMPANY_ID, BEN).await;
        ben.online().await;
        let (_visitor, id) = visitor_waits(&app, &company, "eve@acme.test").await;
        let (status, taken) = ben.post(&format!("conversations/{id}/assign"), None).await;
        assert_eq!(status, 200, "{taken}");
        for text in ["Hello, Ben here", "Still there?"] {
            let (status, sent) = ben
                .post(
                    &format!("conversations/{id}/messages"),
                    Some(json!({ "text": text })),
                )
                .await;
            assert_eq!(status, 201, "{sent}");
        }
        let (playbook, events) = {
            let mut conn = app.state.db.conn().unwrap();
            let events = analytics::for_conversation(&mut conn, &company.id, &id).unwrap();
            // The visitor is back by now.
            let visitor: String = conversations::table
                .find(&id)
                .select(conversations::visitor_id)
                .first(&mut conn)
                .unwrap();
            diesel::update(visitors::table.find(&visitor))
                .set(visitors::visits.eq(4))
                .execute(&mut conn)
                .unwrap();
            (events[0].playbook_id.clone().unwrap(), events)
        };
        let of = |k: &str| {
            events
                .iter()
                .filter(|e| e.kind == k)
                .map(|e| (e.card.clone(), e.value, e.visitor_returning))
                .collect::<Vec<_>>()
        };
        let taken = of(kind::CHAT_TAKEN);
        assert_eq!(taken.len(), 1, "{events:?}");
        // The rep by the CRM's user id.
        assert_eq!(taken[0].0, Some(BEN.to_string()));
        assert!(!taken[0].2, "new when taken");
        let first = of(kind::FIRST_RESPONSE);
        assert_eq!(first.len(), 1, "one first response: {events:?}");
        assert!(first[0].1.unwrap() >= taken[0].1.unwrap());

        let data = session::start(&company.id, ADA, 0, chrono::Utc::now().timestamp());
        let c = session::cookie(&app.state.crm.session_key, &data);
        let cookie = format!("{}={}", c.name(), c.value());
        let base = format!("/api/admin/reports/playbooks/{playbook}?range=today");
        let as_then = json_of(
            &app,
            &cookie,
            &data.csrf,
            &format!("{base}&returning=false"),
        )
        .await;
        let live = &as_then["report"]["live"];
        assert_eq!(live["taken"], 1, "{live:#}");
        assert_eq!(live["reps"][0]["name"], "Ben Rep");
        assert!(live["first_response_median_ms"].is_i64(), "{live:#}");
        let as_now = json_of(&app, &cookie, &data.csrf, &format!("{base}&returning=true")).await;
        assert_eq!(as_now["report"]["live"]["taken"], 0);
    }
}

/// Reps are named by the CRM's user id, which outlives an uninstall: the uninstall deletes
/// the company's CRM users, a new install syncs them again as new rows, and the report
/// still names each rep with the chats they took before.
#[test]
fn the_reps_keep_their_names_after_an_uninstall_and_a_new_install() {
    use concierge::reports::Filter;
    use concierge::reports::load::{DayRange, playbook_report};
    for test_db in TestDb::all() {
        let db = test_db.open();
        let mut conn = db.conn().unwrap();
        companies::create(&mut conn, "Acme", Some(4242)).unwrap();
        let fx = seed(&mut conn);
        let reps = |conn: &mut DbConn| -> Vec<(String, String, i64)> {
            let now = db::now_ms();
            let all = Filter {
                version: None,
                known: None,
                returning: None,
            };
            let r = playbook_report(
                conn,
                &fx.company,
                &fx.playbook,
                DayRange::last(7, now),
                &all,
                now,
            )
            .unwrap()
            .expect("the playbook");
            r.report
                .live
                .reps
                .iter()
                .map(|p| (p.rep_id.clone(), p.name.clone(), p.taken))
                .collect()
        };
        let before = reps(&mut conn);
        assert_eq!(
            before,
            vec![
                ("71".to_owned(), "Ada Rep".to_owned(), 2),
                ("72".to_owned(), "Bob Rep".to_owned(), 1)
            ]
        );
        let ada_before = rep(&mut conn, &fx.company, 71);
        db::purge::uninstall(&mut conn, &fx.company, db::now_ms()).unwrap();
        crm_users::sync(&mut conn, &fx.company, &fixture_reps(), db::now_ms()).unwrap();
        assert_ne!(
            rep(&mut conn, &fx.company, 71),
            ada_before,
            "synced as new rows"
        );
        assert_eq!(reps(&mut conn), before);
    }
}
