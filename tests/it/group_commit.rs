//! Group commit of visitor turns: turns that wait together commit in one transaction, each
//! in a savepoint (a failing one is rolled back alone), and every turn is answered only
//! after its commit.

use std::collections::HashMap;

use concierge::db::companies::Company;
use concierge::db::{Backend, DbError};
use diesel::prelude::*;
use diesel::sql_types::Text;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, TestDb};
use crate::wait::eventually;
use crate::widget_support::{Widget, company_with};

/// A question that repeats what it was told, until it is told "bye".
const ECHO: &str = include_str!("../../benches/support/echo_loop.yaml");

async fn echoing(app: &TestApp, company: &Company) -> Widget {
    let mut w = Widget::new(app, company);
    w.session().await;
    w.trigger("bench", "click").await;
    w
}

fn said(reply: &Value) -> Vec<String> {
    reply["messages"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["text"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Hold SQLite's writer until the sender is used (or dropped): turns wait meanwhile.
async fn hold_the_writer(
    app: &TestApp,
) -> (
    std::sync::mpsc::Sender<()>,
    tokio::task::JoinHandle<Result<(), DbError>>,
) {
    let (held, holding) = std::sync::mpsc::channel::<()>();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let db = app.state.db.clone();
    let blocker = tokio::spawn(async move {
        db.write(move |_| {
            let _ = held.send(());
            let _ = released.recv();
            Ok::<_, DbError>(())
        })
        .await
    });
    tokio::task::spawn_blocking(move || holding.recv())
        .await
        .unwrap()
        .unwrap();
    (release, blocker)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn turns_waiting_together_commit_as_one_and_a_failing_turn_is_undone_alone() {
    // SQLite has one writer: holding it makes the turns wait together.
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let company = company_with(&app, &[ECHO]).await;
    let first = echoing(&app, &company).await;
    let a = echoing(&app, &company).await;
    let c = echoing(&app, &company).await;
    // B talks to another company's widget with no playbook: the fallback answers. Its bot
    // reply is then made unreadable, so B's next turn fails after storing its message.
    let other = company_with(&app, &[]).await;
    let mut b = Widget::new(&app, &other);
    b.session().await;
    let opened = b.say("hello").await;
    let b_conversation = opened["conversation"]["id"].as_str().unwrap().to_owned();
    let id = b_conversation.clone();
    app.state
        .db
        .run(move |conn| {
            diesel::sql_query(
                "UPDATE messages SET payload = 'not json' WHERE conversation_id = $1 \
                 AND author = 'bot'",
            )
            .bind::<Text, _>(&id)
            .execute(conn)?;
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();

    let group = app.state.chat.group.clone();
    let before = group.stats();
    let (release, blocker) = hold_the_writer(&app).await;

    // The first turn finds the writer free: it starts at once, alone, and waits for the
    // database. The next three arrive meanwhile and wait for the writer.
    let first = tokio::spawn(async move { first.post("messages", json!({"text": "one"})).await });
    eventually("the writer took the first turn alone", || async {
        let s = group.stats();
        (s.batches == before.batches + 1 && s.waiting == 0).then_some(())
    })
    .await;
    let (a, c) = (std::sync::Arc::new(a), std::sync::Arc::new(c));
    let (a_widget, c_widget) = (a.clone(), c.clone());
    let b = std::sync::Arc::new(b);
    let replies: Vec<_> = [(a, "two"), (b, "again"), (c, "three")]
        .into_iter()
        .map(|(w, text)| {
            tokio::spawn(async move { w.post("messages", json!({ "text": text })).await })
        })
        .collect();
    eventually("three turns waiting", || async {
        (group.stats().waiting == 3).then_some(())
    })
    .await;
    release.send(()).unwrap();
    blocker.await.unwrap().unwrap();

    let first = first.await.unwrap();
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(
        said(&first.body),
        ["one", "You said: one", "Tell me something"]
    );
    let mut replies = futures_util::future::join_all(replies).await.into_iter();
    let a = replies.next().unwrap().unwrap();
    let b = replies.next().unwrap().unwrap();
    let c = replies.next().unwrap().unwrap();
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(said(&a.body), ["two", "You said: two", "Tell me something"]);
    assert_eq!(c.status, StatusCode::OK, "{}", c.body);
    assert_eq!(
        said(&c.body),
        ["three", "You said: three", "Tell me something"]
    );
    assert_eq!(b.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", b.body);

    let after = group.stats();
    assert_eq!(after.batches, before.batches + 2, "{after:?}");
    assert!(
        after.largest >= 3,
        "the three waiting turns were one batch: {after:?}"
    );
    // B failed the batch's first attempt (no savepoints), which was rolled back whole and
    // written again with a savepoint per turn: A's and C's turns are stored once.
    assert_eq!(after.redone, before.redone + 1, "{after:?}");
    for w in [&a_widget, &c_widget] {
        let history = w.history(0).await;
        assert_eq!(history.len(), 1 + 3, "{history:?}");
    }
    // B's turn stored its message before it failed: rolled back to its savepoint.
    let stored = app
        .state
        .db
        .run(move |conn| {
            diesel::sql_query("SELECT COUNT(*) AS n FROM messages WHERE conversation_id = $1")
                .bind::<Text, _>(&b_conversation)
                .get_result::<Count>(conn)
                .map_err(DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(stored.n, 2, "hello and the fallback only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_turns_at_once_are_all_stored_in_order() {
    for db in TestDb::all() {
        let app = TestApp::spawn(db).await;
        let company = company_with(&app, &[ECHO]).await;
        let mut visitors = Vec::new();
        for _ in 0..8 {
            visitors.push(std::sync::Arc::new(echoing(&app, &company).await));
        }
        // Three turns per visitor, all at once: some of one visitor share a batch, some
        // run in batches of their own on PostgreSQL's several writers.
        let mut sent = Vec::new();
        for round in 0..3 {
            for (i, w) in visitors.iter().enumerate() {
                let w = w.clone();
                let text = format!("v{i} r{round}");
                sent.push(tokio::spawn(async move {
                    let r = w.post("messages", json!({ "text": text })).await;
                    (i, r)
                }));
            }
        }
        let mut answered: HashMap<usize, Vec<String>> = HashMap::new();
        for r in futures_util::future::join_all(sent).await {
            let (i, reply) = r.unwrap();
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            answered.entry(i).or_default().extend(said(&reply.body));
        }
        for (i, w) in visitors.iter().enumerate() {
            let history = w.history(0).await;
            let seqs: Vec<i64> = history.iter().filter_map(|m| m["seq"].as_i64()).collect();
            assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
            let texts: Vec<&str> = history.iter().filter_map(|m| m["text"].as_str()).collect();
            // The greeting question, then each of the three turns: text, echo, question.
            assert_eq!(texts.len(), 1 + 3 * 3, "visitor {i}: {texts:?}");
            for turn in texts[1..].chunks(3) {
                assert_eq!(turn[1], format!("You said: {}", turn[0]));
                assert_eq!(turn[2], "Tell me something");
            }
            assert_eq!(
                answered[&i].len(),
                9,
                "every turn answered with its messages"
            );
        }
        let stats = app.state.chat.group.stats();
        assert_eq!(
            stats.turns,
            8 + 24,
            "every trigger and message went through the queue"
        );
    }
}

/// How many statements the node sent to its database while `work` ran.
async fn statements_of<T>(app: &TestApp, work: impl std::future::Future<Output = T>) -> u64 {
    let before = app.state.db.statements();
    work.await;
    app.state.db.statements() - before
}

/// What a visitor costs in statements (round trips on PostgreSQL), counted by the node's
/// pool, transaction control included: a new visitor's session start, their first turn
/// (which starts the playbook and sets its visitor variables), and a text turn alone and
/// in a batch. With no worker running, nothing else talks to the database meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_and_turns_cost_few_statements() {
    for db in TestDb::all() {
        let backend = db.backend;
        let app = TestApp::spawn_with(db, |c| {
            c.outbox.concurrency = 0;
            c.timers.batch = 0;
        })
        .await;
        let company = company_with(&app, &[ECHO]).await;
        let (mut session, mut first, mut text) = (u64::MAX, u64::MAX, u64::MAX);
        let mut widgets = Vec::new();
        for _ in 0..4 {
            let mut w = Widget::new(&app, &company);
            session = session.min(statements_of(&app, w.session()).await);
            first = first.min(statements_of(&app, w.trigger("bench", "click")).await);
            text = text.min(statements_of(&app, w.say("hello")).await);
            widgets.push(w);
        }
        let counts = format!("{backend:?}: session {session}, first turn {first}, text {text}");
        // A session: the pool's check of the connection, begin, the company by key, the
        // new visitor, their page view, commit (the published playbooks are kept; a
        // visitor created now has no conversation to read).
        assert!(session <= 6, "{counts}");
        // A turn takes no savepoint when it is alone; on PostgreSQL its variables are one
        // statement (the first turn sets the visitor's several variables), on SQLite one
        // statement each, as are the analytics roll-up rows there.
        let (first_most, text_most) = match backend {
            Backend::Postgres => (15, 13),
            Backend::Sqlite => (26, 23),
        };
        assert!(first <= first_most, "{counts}");
        assert!(text <= text_most, "{counts}");

        if backend == Backend::Sqlite {
            // Three text turns in one batch cost less than three alone: the batch's read,
            // analytics and commit are shared, and no turn takes a savepoint.
            let group = app.state.chat.group.clone();
            let before = group.stats();
            let (release, blocker) = hold_the_writer(&app).await;
            let mut widgets = widgets.into_iter().map(std::sync::Arc::new);
            let lone = widgets.next().unwrap();
            let lone = tokio::spawn(async move { lone.say("alone").await });
            eventually("the writer took the lone turn", || async {
                let s = group.stats();
                (s.batches == before.batches + 1 && s.waiting == 0).then_some(())
            })
            .await;
            let sent: Vec<_> = widgets
                .map(|w| tokio::spawn(async move { w.say("together").await }))
                .collect();
            eventually("three turns waiting", || async {
                (group.stats().waiting == 3).then_some(())
            })
            .await;
            let start = app.state.db.statements();
            release.send(()).unwrap();
            blocker.await.unwrap().unwrap();
            lone.await.unwrap();
            for s in futures_util::future::join_all(sent).await {
                s.unwrap();
            }
            let batch = app.state.db.statements() - start - text;
            let after = group.stats();
            assert_eq!(after.batches, before.batches + 2, "{after:?}");
            assert_eq!(after.redone, before.redone, "no turn failed: {after:?}");
            assert!(batch < 2 * text, "{counts}, a batch of three {batch}");
        }
    }
}
