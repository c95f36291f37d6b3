//! Several nodes on one database: `/readyz`, and `PgHub` carrying events between two
//! servers on one PostgreSQL database (a conversation's watchers, a company's inboxes, and
//! the resync every subscriber gets after the listening connection was cut).

use std::time::Duration;

use concierge::chat::live::RepEvent;
use concierge::chat::pg_hub::LISTEN_NAME;
use concierge::chat::realtime::{CompanyEvent, LiveEvent};
use diesel::RunQueryDsl;
use serde_json::Value;

use crate::common::{TestApp, TestDb};

async fn ready(app: &TestApp) -> (u16, Value) {
    let resp = reqwest::get(app.at("/readyz")).await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// `/readyz` once it says ready (the listener connects in the background), within 10 s.
async fn until_ready(app: &TestApp) -> Value {
    for _ in 0..100 {
        let (status, body) = ready(app).await;
        if status == 200 {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not ready within 10 s: {:?}", ready(app).await);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_published_on_one_node_reach_the_other_and_a_cut_listener_resyncs() {
    let Some(db) = TestDb::postgres() else {
        println!("TEST_DATABASE_URL unset: PgHub needs PostgreSQL");
        return;
    };
    let second = db.share();
    let a = TestApp::spawn(db).await;
    let b = TestApp::spawn(second).await;
    until_ready(&a).await;
    until_ready(&b).await;

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
    // A node does not hear its own events twice.
    let mut own = a.state.chat.hub.subscribe("conv-2");
    a.state.chat.hub.publish("co-1", "conv-2", status("bot"));
    assert_eq!(next(&mut own).await, status("bot"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(own.try_recv().is_err(), "delivered once");
    assert!(matches!(
        next(&mut inbox).await,
        CompanyEvent::Conversation { conversation_id, .. } if conversation_id == "conv-2"
    ));

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
    assert_eq!(next(&mut inbox).await, CompanyEvent::Resync);
    until_ready(&b).await;
    assert!(b.state.chat.hub.reconnects() >= 1);
    a.state.chat.hub.publish("co-1", "conv-1", status("closed"));
    assert_eq!(next(&mut watcher).await, status("closed"));
}
