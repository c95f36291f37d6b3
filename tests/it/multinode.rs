//! Several nodes on one database: `/readyz`, and `PgHub` carrying events between two
//! servers on one PostgreSQL database (a conversation's watchers, a company's inboxes, and
//! the resync every subscriber gets after the listening connection was cut); a change is
//! announced with its transaction (a rolled-back one never, a committed one always); two
//! nodes that find the CRM's token expired at the same moment refresh it once and both
//! use the new one.

use std::time::Duration;

use concierge::chat::live::RepEvent;
use concierge::chat::pg_hub::LISTEN_NAME;
use concierge::chat::realtime::{CompanyEvent, LiveEvent, Notices};
use concierge::db::{DbError, write_tx};
use diesel::RunQueryDsl;
use serde_json::Value;

use crate::common::{TestApp, TestDb};
use crate::wait::eventually_for;

async fn ready(app: &TestApp) -> (u16, Value) {
    let resp = reqwest::get(app.at("/readyz")).await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// `/readyz` once it says ready (the listener connects in the background), within 10 s.
pub(crate) async fn until_ready(app: &TestApp) -> Value {
    eventually_for("/readyz to say ready", Duration::from_secs(10), || async {
        let (status, body) = ready(app).await;
        (status == 200).then_some(body)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_names_the_database_the_listener_and_shutdown() {
    for db in TestDb::all() {
        let backend = db.backend;
        let app = TestApp::spawn(db).await;
        let body = until_ready(&app).await;
        assert_eq!(
            body,
            serde_json::json!({"status": "ready", "database": "ok", "listener": "ok", "stopping": false}),
            "{backend:?}"
        );
        app.state.shutdown.begin();
        let (status, body) = ready(&app).await;
        assert_eq!(status, 503, "{backend:?}: {body}");
        assert_eq!(body["stopping"], true);
    }
}

fn status(s: &str) -> LiveEvent {
    LiveEvent::Status {
        status: s.into(),
        outcome: None,
    }
}

async fn next<T: Clone>(rx: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<T>>) -> T {
    let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("an event within 5 s")
        .expect("the channel is open");
    (*got).clone()
}

/// Two servers on one fresh PostgreSQL database, both ready.
pub(crate) async fn two_nodes() -> Option<(TestApp, TestApp)> {
    let Some(db) = TestDb::postgres() else {
        println!("TEST_DATABASE_URL unset: PgHub needs PostgreSQL");
        return None;
    };
    let second = db.share();
    let a = TestApp::spawn(db).await;
    let b = TestApp::spawn(second).await;
    until_ready(&a).await;
    until_ready(&b).await;
    Some((a, b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_published_on_one_node_reach_the_other_and_a_cut_listener_resyncs() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };

    // A conversation watched on B, published on A; and the company's inbox on B.
    let mut watcher = b.state.chat.hub.subscribe("conv-1");
    let mut inbox = b.state.chat.hub.subscribe_company("co-1");
    a.state
        .chat
        .hub
        .publish("co-1", "conv-1", status("assigned"));
    assert_eq!(next(&mut watcher).await, status("assigned"));
    assert_eq!(
        next(&mut inbox).await,
        CompanyEvent::Conversation {
            conversation_id: "conv-1".into(),
            event: status("assigned"),
        }
    );
    let crm = RepEvent::Crm {
        conversation_id: "conv-1".into(),
    };
    a.state.chat.hub.publish_rep("co-1", crm.clone());
    assert_eq!(next(&mut inbox).await, CompanyEvent::Rep { event: crm });
    // A node does not hear its own events twice: once B heard A's event, B publishes on
    // the same conversation, and the next event A's subscriber gets is B's (the
    // notifications reach A's listener in the order they were sent).
    let mut own = a.state.chat.hub.subscribe("conv-2");
    a.state.chat.hub.publish("co-1", "conv-2", status("bot"));
    assert_eq!(next(&mut own).await, status("bot"));
    assert!(matches!(
        next(&mut inbox).await,
        CompanyEvent::Conversation { conversation_id, .. } if conversation_id == "conv-2"
    ));
    b.state
        .chat
        .hub
        .publish("co-1", "conv-2", status("unassigned"));
    assert_eq!(next(&mut own).await, status("unassigned"), "delivered once");
    assert_eq!(
        next(&mut inbox).await,
        CompanyEvent::Conversation {
            conversation_id: "conv-2".into(),
            event: status("unassigned"),
        }
    );

    // Cut every listening connection: B's subscribers are told to re-read, and the
    // events after the reconnect arrive again.
    let url = a.db.url.clone();
    let cut = tokio::task::spawn_blocking(move || {
        use diesel::Connection;
        let mut conn = diesel::pg::PgConnection::establish(&url).unwrap();
        diesel::sql_query(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = '{LISTEN_NAME}' AND datname = current_database()"
        ))
        .execute(&mut conn)
        .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(cut, 2, "one listener per node");
    assert_eq!(next(&mut watcher).await, LiveEvent::Resync);
    assert!(
        matches!(
            next(&mut inbox).await,
            CompanyEvent::Resync { since: Some(_) }
        ),
        "the inbox catches up with what changed since the link was lost"
    );
    until_ready(&b).await;
    assert!(b.state.chat.hub.reconnects() >= 1);
    a.state.chat.hub.publish("co-1", "conv-1", status("closed"));
    assert_eq!(next(&mut watcher).await, status("closed"));
}

/// The first event on `rx` is `marker`, announced after what must never arrive (which
/// would have come first: a channel's events keep their order), and nothing follows it.
async fn only<T: Clone + PartialEq + std::fmt::Debug>(
    rx: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<T>>,
    marker: T,
    backend: concierge::db::Backend,
) {
    assert_eq!(
        next(rx).await,
        marker,
        "{backend:?}: the marker comes first"
    );
    let after = rx.try_recv();
    assert!(
        after.is_err(),
        "{backend:?}: nothing after the marker, got {after:?}"
    );
}

fn one_status(s: &str) -> Notices {
    let mut notices = Notices::new();
    notices.conversation("co-1", "conv-1", status(s));
    notices
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_is_announced_with_its_transaction_and_only_if_it_commits() {
    for db in TestDb::all() {
        let backend = db.backend;
        let app = TestApp::spawn(db).await;
        until_ready(&app).await;
        let mut watcher = app.state.chat.hub.subscribe("conv-1");
        let undone = app
            .state
            .chat
            .write_announced(|_, notices| {
                notices.conversation("co-1", "conv-1", status("undone"));
                Err::<(), _>(DbError::Task("rolled back".into()))
            })
            .await;
        assert!(undone.is_err(), "{backend:?}");
        // The committed change is the marker: the rolled-back one never arrives before it.
        app.state
            .chat
            .write_announced(|_, notices| {
                notices.conversation("co-1", "conv-1", status("done"));
                Ok::<_, DbError>(())
            })
            .await
            .unwrap();
        only(&mut watcher, status("done"), backend).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_notify_goes_out_inside_the_transaction_of_the_change() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let mut remote = b.state.chat.hub.subscribe("conv-1");
    let mut remote_inbox = b.state.chat.hub.subscribe_company("co-1");
    // Only what runs on the transaction's own connection: nothing is queued elsewhere,
    // nothing is delivered after the commit (as if the node died right then).
    let in_tx = |a_db: concierge::db::Db,
                 hub: std::sync::Arc<dyn concierge::chat::realtime::Hub>,
                 commit: bool| {
        tokio::task::spawn_blocking(move || {
            let mut conn = a_db.conn().unwrap();
            write_tx(&mut conn, |conn| {
                let s = if commit { "committed" } else { "rolled back" };
                hub.notify_in(conn, &one_status(s))?;
                if commit {
                    Ok(())
                } else {
                    Err(DbError::Task("undone".into()))
                }
            })
        })
    };
    let hub = a.state.chat.hub.clone();
    let undone = in_tx(a.state.db.clone(), hub.clone(), false).await.unwrap();
    assert!(undone.is_err());
    // The committed change is the marker: the rolled-back one never arrives before it.
    in_tx(a.state.db.clone(), hub, true).await.unwrap().unwrap();
    only(
        &mut remote,
        status("committed"),
        concierge::db::Backend::Postgres,
    )
    .await;
    assert_eq!(
        next(&mut remote_inbox).await,
        CompanyEvent::Conversation {
            conversation_id: "conv-1".into(),
            event: status("committed"),
        }
    );
}

/// The refreshes the sandbox CRM has answered.
fn refreshes(app: &TestApp) -> u64 {
    let sandbox = app.state.sandbox.clone().expect("the sandbox CRM");
    sandbox.snapshot().grants.iter().map(|g| g.refreshed).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_that_find_the_token_expired_at_once_refresh_it_once() {
    use concierge::config::PipedriveConfig;
    use concierge::crm::Crm as _;
    use concierge::crm::oauth::sandbox_credentials;
    use diesel::ExpressionMethods as _;

    let Some(db) = TestDb::postgres() else {
        println!("TEST_DATABASE_URL unset: several nodes need PostgreSQL");
        return;
    };
    let second = db.share();
    let a = TestApp::spawn(db).await;
    let company_id = crate::crm_support::install_app(&a, 1001).await;
    // Node B talks to the CRM node A serves (one CRM for both, as with Pipedrive).
    let crm = sandbox_credentials(&a.state.config);
    let b = TestApp::spawn_with(second, move |c| {
        c.pipedrive = PipedriveConfig {
            client_id: Some(crm.client_id),
            client_secret: Some(crm.client_secret),
            jwt_secret: Some(crm.jwt_secret),
            oauth_url: crm.oauth_url,
        };
    })
    .await;
    let (on_a, on_b) = (a.state.crm.access.clone(), b.state.crm.access.clone());
    let first = on_a.connect(&company_id).await.unwrap();
    assert_eq!(
        on_b.connect(&company_id).await.unwrap().version,
        first.version
    );
    assert_eq!(refreshes(&a), 0);

    // The CRM expires the token: both nodes' next calls are refused, and both refresh at
    // the same moment.
    let expired = crate::crm_support::browser()
        .post(a.at("/sandbox/oauth/expire"))
        .send()
        .await
        .unwrap();
    assert!(expired.status().is_success());
    assert!(matches!(
        first.client.users().await,
        Err(concierge::crm::CrmError::Unauthorized)
    ));
    let (ra, rb) = tokio::join!(
        on_a.reconnect(&company_id, first.version),
        on_b.reconnect(&company_id, first.version)
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(refreshes(&a), 1, "the CRM saw one refresh");
    assert_eq!(ra.version, rb.version, "both nodes hold the new tokens");
    assert_ne!(ra.version, first.version);
    assert_eq!(ra.client.users().await.unwrap().len(), 4);
    assert_eq!(rb.client.users().await.unwrap().len(), 4);

    // A token about to expire, found by both nodes at once: refreshed once before use.
    let db = a.state.db.clone();
    db.run(|conn| {
        diesel::update(concierge::db::schema::installs::table)
            .set(concierge::db::schema::installs::expires_at.eq(concierge::db::now_ms() + 60_000))
            .execute(conn)
            .map_err(DbError::from)
    })
    .await
    .unwrap();
    let (ca, cb) = tokio::join!(on_a.connect(&company_id), on_b.connect(&company_id));
    let (ca, cb) = (ca.unwrap(), cb.unwrap());
    assert_eq!(refreshes(&a), 2, "one more refresh, not two");
    assert_eq!(ca.version, cb.version);
    assert_ne!(ca.version, ra.version);
    assert_eq!(ca.client.users().await.unwrap().len(), 4);
    assert_eq!(cb.client.users().await.unwrap().len(), 4);
}
