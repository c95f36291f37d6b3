//! R2 and R3 against the sandbox CRM: 1,000 conversations reach a capture card while 30 %
//! of CRM calls fail in every way (429 with and without Retry-After, 500/502/503, answers
//! that never come after the write was applied, dropped connections after the write,
//! refused connections, expired tokens) and some writes are refused for good (400/422).
//! After the CRM recovers, every person, organization, lead, deal, activity and note exists
//! exactly once, and the refusals are in the sync log with the CRM's message.
//!
//! The sandbox limits each OAuth token like Pipedrive (search: 10 requests per 2 s), so the
//! 1,000 conversations are spread over several sandboxes (each its own company and token)
//! run side by side: one company's searches alone would take minutes.

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use crate::common::{TestApp, TestDb};
use crate::wait::eventually_for;
use chrono::NaiveDate;
use concierge::config::Config;
use concierge::crm::access::CrmAccess;
use concierge::crm::oauth::{Credentials, OAuthClient};
use concierge::crm::outbox::backoff::{Backoff, StepRetry};
use concierge::crm::outbox::progress::Step;
use concierge::crm::outbox::{Worker, WorkerConfig};
use concierge::crm::pipedrive::{ClientOptions, http_client};
use concierge::crm::secrets::TokenCipher;
use concierge::db::outbox::store;
use concierge::db::{self, Backend, Db, outbox, schema};
use concierge::playbook::effect::{ActivityData, CrmWrite, OrgData, PersonData};
use concierge::playbook::model::{CaptureTarget, NoteMode, Owner};
use diesel::prelude::*;
use serde_json::json;

const REJECT_MESSAGE: &str = "Validation failed: title: value is not allowed";

fn no_worker(c: &mut Config) {
    c.outbox.concurrency = 0;
}

/// A token source like the server's, with a short HTTP timeout.
fn access(app: &TestApp, db: Db) -> Arc<CrmAccess> {
    let config = &app.state.config;
    let creds = concierge::crm::oauth::sandbox_credentials(config);
    let http = http_client(ClientOptions {
        timeout: Duration::from_millis(800),
        connect_timeout: Duration::from_millis(500),
        ..ClientOptions::default()
    })
    .unwrap();
    let credentials = Credentials {
        client_id: creds.client_id,
        client_secret: creds.client_secret,
        jwt_secret: creds.jwt_secret,
        oauth_url: creds.oauth_url,
    };
    Arc::new(CrmAccess::new(
        db,
        TokenCipher::new(&config.secret_key),
        OAuthClient::new(http.clone(), credentials, &config.public_url),
        http,
    ))
}

fn worker_config() -> WorkerConfig {
    WorkerConfig {
        poll_interval: Duration::from_millis(20),
        concurrency: 4,
        per_company: 4,
        lease: Duration::from_secs(20),
        step_retry: StepRetry {
            pause: Duration::from_millis(20),
            ..StepRetry::default()
        },
        backoff: Backoff {
            base: Duration::from_millis(20),
            cap: Duration::from_millis(400),
        },
        disconnected_delay: Duration::from_millis(200),
    }
}

/// What conversation `i` captured.
fn capture(i: usize, shared_orgs: bool) -> CrmWrite {
    let email = (i % 4 != 3).then(|| format!("visitor{i}@example.com"));
    let org = match (i % 3, shared_orgs) {
        (0, _) => None,
        (_, true) => Some(format!("Org {}", i % 25)),
        (_, false) => Some(format!("Org of visitor {i}")),
    };
    CrmWrite {
        card: "capture".into(),
        create: if i % 5 == 4 {
            CaptureTarget::Deal
        } else {
            CaptureTarget::Lead
        },
        title: if i % 50 == 7 {
            format!("REFUSED chat lead {i}")
        } else {
            format!("Chat lead {i}")
        },
        person: PersonData {
            name: Some(format!("Visitor {i}")),
            email,
            phone: Some(format!("+4930{i:06}")),
        },
        org: org.map(|name| OrgData {
            name,
            address: Some("Main Street 1".into()),
        }),
        value: None,
        expected_close_date: None,
        owner: Owner::Rep,
        label: None,
        activity: Some(ActivityData {
            subject: format!("Call back visitor {i}"),
            kind: "call".into(),
            due_date: NaiveDate::from_ymd_opt(2030, 1, 2).unwrap(),
        }),
        note: NoteMode::Transcript,
        answers: vec![("budget".into(), format!("<script>{i}</script>"))],
    }
}

/// A conversation with two messages and its capture row, in one transaction.
async fn seed(db: &Db, company_id: &str, n: usize, shared_orgs: bool) {
    let company_id = company_id.to_owned();
    db.run(move |conn| seed_now(conn, &company_id, n, shared_orgs))
        .await
        .unwrap();
}

fn seed_now(
    conn: &mut db::DbConn,
    company_id: &str,
    n: usize,
    shared_orgs: bool,
) -> Result<(), db::DbError> {
    let now = db::now_ms();
    for i in 0..n {
        let (v, c) = (format!("v{i}"), format!("c{i}"));
        db::write_tx(conn, |conn| {
            diesel::insert_into(schema::visitors::table)
                .values((
                    schema::visitors::id.eq(&v),
                    schema::visitors::company_id.eq(company_id),
                    schema::visitors::first_seen_at.eq(now),
                    schema::visitors::last_seen_at.eq(now),
                ))
                .execute(conn)?;
            diesel::insert_into(schema::conversations::table)
                .values((
                    schema::conversations::id.eq(&c),
                    schema::conversations::company_id.eq(company_id),
                    schema::conversations::visitor_id.eq(&v),
                    schema::conversations::status.eq("bot"),
                    schema::conversations::created_at.eq(now),
                    schema::conversations::updated_at.eq(now),
                ))
                .execute(conn)?;
            for (seq, (author, body)) in
                [("bot", "What is your budget?"), ("visitor", "<b>lots</b>")]
                    .iter()
                    .enumerate()
            {
                diesel::insert_into(schema::messages::table)
                    .values((
                        schema::messages::id.eq(format!("{c}-m{seq}")),
                        schema::messages::conversation_id.eq(&c),
                        schema::messages::company_id.eq(company_id),
                        schema::messages::seq.eq(seq as i64 + 1),
                        schema::messages::author.eq(*author),
                        schema::messages::body.eq(*body),
                        schema::messages::created_at.eq(now),
                    ))
                    .execute(conn)?;
            }
            let payload = serde_json::to_value(capture(i, shared_orgs)).unwrap();
            outbox::enqueue(
                conn,
                company_id,
                Some(&c),
                outbox::Kind::Capture,
                &payload,
                now,
            )?;
            Ok::<_, db::DbError>(())
        })?;
    }
    Ok(())
}

// The helpers below reach the database on the blocking pool: a test task that blocks its
// runtime's threads stalls every other task of the test, above all the HTTP clients of the
// companies still installing — whose connection the server then closes with a 408 before
// the request is written (seen as `hyper::Error(UnexpectedMessage)`).

async fn pending(db: &Db, company_id: &str) -> i64 {
    let company_id = company_id.to_owned();
    let counts = db
        .run(move |conn| store::counts(conn, &company_id))
        .await
        .unwrap();
    counts
        .into_iter()
        .filter(|(s, _)| s == "pending")
        .map(|(_, n)| n)
        .sum()
}

/// Pending rows under a lease that has not run out yet.
async fn live_leases(db: &Db) -> i64 {
    db.run(|conn| {
        schema::outbox::table
            .filter(schema::outbox::status.eq("pending"))
            .filter(schema::outbox::locked_until.gt(db::now_ms()))
            .count()
            .get_result::<i64>(conn)
            .map_err(db::DbError::from)
    })
    .await
    .unwrap()
}

async fn post(app: &TestApp, path: &str, body: Option<serde_json::Value>) {
    let mut req = crate::crm_support::browser().post(app.at(path));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
}

/// Point the stored install at a closed port for a while: connections are refused.
async fn refuse_connections(db: &Db, company_id: &str, for_how_long: Duration) {
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let set = |domain: String| {
        let company_id = company_id.to_owned();
        db.run(move |conn| {
            diesel::update(
                schema::installs::table.filter(schema::installs::company_id.eq(&company_id)),
            )
            .set(schema::installs::api_domain.eq(domain))
            .execute(conn)
            .map_err(db::DbError::from)
        })
    };
    let real = {
        let company_id = company_id.to_owned();
        db.run(move |conn| {
            schema::installs::table
                .filter(schema::installs::company_id.eq(&company_id))
                .select(schema::installs::api_domain)
                .first::<String>(conn)
                .map_err(db::DbError::from)
        })
        .await
        .unwrap()
    };
    set(format!("http://127.0.0.1:{closed}/sandbox"))
        .await
        .unwrap();
    tokio::time::sleep(for_how_long).await;
    set(real).await.unwrap();
}

/// One company: install, seed `n` captures, deliver them through faults, recover, check.
async fn one_company(db: TestDb, index: usize, n: usize) {
    let backend = db.backend;
    // Opening a database runs its migrations: not on a thread the other companies'
    // installs need (see `pending`).
    let second_node =
        (backend == Backend::Postgres).then(|| tokio::task::block_in_place(|| db.open()));
    let app = TestApp::spawn_with(db, no_worker).await;
    let company_id = crate::crm_support::install_app(&app, 1001).await;
    let shared_orgs = second_node.is_none();
    seed(&app.state.db, &company_id, n, shared_orgs).await;
    post(
        &app,
        "/sandbox/faults",
        Some(json!({
            "rate": 0.3,
            "seed": 7 + index as u64,
            "kinds": [
                "server_error", "bad_gateway", "unavailable", "slow", "drop_after_apply",
                "unauthorized", "server_error", "bad_gateway", "unavailable", "slow",
                "drop_after_apply", "unauthorized", "rate_limit_retry_after", "rate_limit"
            ],
            "slow_ms": 1200,
            "retry_after_secs": 1,
            "reject": {
                "field": "title",
                "contains": "REFUSED",
                "status": if index.is_multiple_of(2) { 422 } else { 400 }
            }
        })),
    )
    .await;
    let mut handles = vec![
        Worker::new(
            app.state.db.clone(),
            access(&app, app.state.db.clone()),
            worker_config(),
        )
        .spawn(),
    ];
    if let Some(other) = &second_node {
        handles
            .push(Worker::new(other.clone(), access(&app, other.clone()), worker_config()).spawn());
    }
    // Under fire: expired tokens twice and refused connections once.
    tokio::time::sleep(Duration::from_secs(2)).await;
    post(&app, "/sandbox/oauth/expire", None).await;
    refuse_connections(&app.state.db, &company_id, Duration::from_millis(1500)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    post(&app, "/sandbox/oauth/expire", None).await;
    // Faults continue until half of the rows are through, then the CRM recovers (the
    // refusals stay: they are permanent).
    eventually_for(
        "half of the rows under faults",
        Duration::from_secs(600),
        || async { (pending(&app.state.db, &company_id).await <= (n / 2) as i64).then_some(()) },
    )
    .await;
    post(
        &app,
        "/sandbox/faults",
        Some(json!({"reject": {"field": "title", "contains": "REFUSED"}})),
    )
    .await;
    eventually_for("the outbox to drain", Duration::from_secs(600), || async {
        (pending(&app.state.db, &company_id).await == 0).then_some(())
    })
    .await;
    for h in handles {
        h.stop().await;
    }
    check(&app, &company_id, n, shared_orgs, true).await;
}

/// Exactly once in the sandbox; refusals in the sync log.
async fn check(app: &TestApp, company_id: &str, n: usize, shared_orgs: bool, refusals: bool) {
    let s = app.state.sandbox.as_ref().unwrap().snapshot();
    let refused: HashSet<usize> = (0..n).filter(|i| refusals && i % 50 == 7).collect();
    let writes: Vec<CrmWrite> = (0..n).map(|i| capture(i, shared_orgs)).collect();

    // Persons: one per conversation, found by e-mail or name.
    assert_eq!(s.persons.len(), n, "persons");
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for p in &s.persons {
        let key = p
            .emails
            .first()
            .map(|e| e.value.clone())
            .unwrap_or_else(|| p.name.clone());
        *by_key.entry(key).or_default() += 1;
    }
    assert!(by_key.values().all(|&c| c == 1), "a person was duplicated");

    // Organizations: one per name.
    let names: HashSet<&str> = writes
        .iter()
        .filter_map(|w| w.org.as_ref().map(|o| o.name.as_str()))
        .collect();
    assert_eq!(s.orgs.len(), names.len(), "organizations");
    let created: HashSet<&str> = s.orgs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(created, names);

    // Leads and deals: one per accepted conversation.
    let deals = (0..n)
        .filter(|i| i % 5 == 4 && !refused.contains(i))
        .count();
    let leads = (0..n)
        .filter(|i| i % 5 != 4 && !refused.contains(i))
        .count();
    assert_eq!(s.deals.len(), deals, "deals");
    assert_eq!(s.leads.len(), leads, "leads");
    let titles: HashSet<&str> = s
        .leads
        .iter()
        .map(|l| l.title.as_str())
        .chain(s.deals.iter().map(|d| d.title.as_str()))
        .collect();
    assert_eq!(titles.len(), leads + deals, "a lead or deal was duplicated");

    // One activity and one note on each lead or deal.
    assert_eq!(s.activities.len(), leads + deals, "activities");
    assert_eq!(s.notes.len(), leads + deals, "notes");
    let mut per_target: HashMap<String, (usize, usize)> = HashMap::new();
    for a in &s.activities {
        let key = a
            .lead_id
            .clone()
            .or(a.deal_id.map(|d| d.to_string()))
            .unwrap();
        per_target.entry(key).or_default().0 += 1;
    }
    for note in &s.notes {
        assert!(
            !note.content.contains("<script>"),
            "visitor text is escaped"
        );
        let key = note
            .lead_id
            .clone()
            .or(note.deal_id.map(|d| d.to_string()))
            .unwrap();
        per_target.entry(key).or_default().1 += 1;
    }
    assert_eq!(per_target.len(), leads + deals);
    assert!(
        per_target.values().all(|&c| c == (1, 1)),
        "an activity or note was duplicated"
    );

    // The sync log: every refusal failed with the CRM's own message; nothing else.
    let company = company_id.to_owned();
    let (log, counts) = app
        .state
        .db
        .run(move |conn| {
            let log = store::unfinished(conn, &company, 10_000)?;
            store::counts(conn, &company).map(|counts| (log, counts))
        })
        .await
        .unwrap();
    assert_eq!(log.len(), refused.len(), "rows left in the sync log");
    for row in &log {
        assert_eq!(row.status, "failed");
        let error = row.last_error.as_deref().unwrap_or_default();
        assert!(error.contains(REJECT_MESSAGE), "{error}");
    }
    let done: i64 = counts
        .into_iter()
        .filter(|(s, _)| s == "done")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(done as usize, n - refused.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_conversations_through_the_fault_matrix() {
    const COMPANIES: usize = 8;
    const PER_COMPANY: usize = 125;
    let mut runs = Vec::new();
    for i in 0..COMPANIES {
        runs.push(tokio::spawn(one_company(TestDb::sqlite(), i, PER_COMPANY)));
        // Two nodes per company on one PostgreSQL, side by side.
        if let Some(db) = TestDb::postgres() {
            runs.push(tokio::spawn(one_company(db, COMPANIES + i, PER_COMPANY)));
        }
    }
    for r in runs {
        r.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_the_crms_answer_and_the_record_does_not_duplicate() {
    for t in TestDb::all() {
        let app = TestApp::spawn_with(t, no_worker).await;
        let company_id = crate::crm_support::install_app(&app, 1001).await;
        seed(&app.state.db, &company_id, 12, true).await;
        let mut config = worker_config();
        config.lease = Duration::from_millis(500);
        // Each row dies after one of its creates, a different step per row.
        let steps = [
            Step::Org,
            Step::Person,
            Step::LeadOrDeal,
            Step::Activity,
            Step::Note,
        ];
        let crashed = Arc::new(std::sync::Mutex::new(HashSet::new()));
        let hook_crashed = crashed.clone();
        let crashing = Worker::new(
            app.state.db.clone(),
            access(&app, app.state.db.clone()),
            config.clone(),
        )
        .with_crash_hook(Arc::new(move |row, step| {
            let mut seen = hook_crashed.lock().unwrap();
            let pick = steps[seen.len() % steps.len()];
            if step == pick && !seen.contains(row) {
                seen.insert(row.to_owned());
                return false;
            }
            true
        }));
        for _ in 0..4 {
            crashing.run_once().await.unwrap();
        }
        assert!(crashed.lock().unwrap().len() >= 5, "crashes happened");
        // A fresh node takes over once the leases have run out.
        eventually_for("the leases to run out", Duration::from_secs(10), || async {
            (live_leases(&app.state.db).await == 0).then_some(())
        })
        .await;
        let fresh = Worker::new(
            app.state.db.clone(),
            access(&app, app.state.db.clone()),
            config,
        )
        .spawn();
        eventually_for("the outbox to drain", Duration::from_secs(120), || async {
            (pending(&app.state.db, &company_id).await == 0).then_some(())
        })
        .await;
        fresh.stop().await;
        check(&app, &company_id, 12, true, false).await;
    }
}

/// A capture made in a visitor's turn wakes the node's outbox worker once the turn has
/// committed: the lead reaches the CRM at once, not at the worker's next poll (here a
/// minute away).
#[tokio::test]
async fn a_visitors_capture_goes_out_without_waiting_for_the_next_poll() {
    // An e-mail question, then a capture of a lead titled "Metered lead".
    use crate::metrics::FLOW;
    for t in TestDb::all() {
        let app = TestApp::spawn_with(t, |c| c.outbox.poll_ms = 60_000).await;
        let company = crate::crm_support::installed_with(&app, 1001, FLOW).await;
        let mut widget = crate::widget_support::Widget::new(&app, &company);
        widget.session().await;
        widget.trigger("metered", "click").await;
        widget.say("kim@acme.test").await;
        let sandbox = app.state.sandbox.clone().unwrap();
        eventually_for("the lead in the CRM", Duration::from_secs(20), || async {
            sandbox
                .snapshot()
                .leads
                .iter()
                .any(|l| l.title == "Metered lead")
                .then_some(())
        })
        .await;
    }
}
