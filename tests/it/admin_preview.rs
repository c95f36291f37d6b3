//! The editor's preview on both databases: the saved draft (not the published version)
//! runs with "nobody online" or "a rep online" and a known or unknown visitor; CRM writes,
//! e-mails and redirects come back as "would …" lines, and nothing is stored — no
//! conversation, outbox row or analytics event.

use concierge::db::schema::{analytics_events, conversations, outbox};
use diesel::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};

use crate::admin_api::{Body, Setup, setup};
use crate::common::TestDb;
use crate::widget_support::QUALIFY;

fn draft() -> String {
    QUALIFY.replace(
        "text: \"Hello **there**!\"",
        "text: \"Hello **there**! known={{ visitor.known }}\"",
    )
}

async fn preview(s: &Setup, id: &str, body: Value) -> (u16, Value) {
    s.call(
        &s.admin,
        Method::POST,
        &format!("/api/admin/playbooks/{id}/preview"),
        Body::Json(body),
    )
    .await
}

/// The texts of a reply's messages, `preview:` before what would happen.
fn lines(reply: &Value) -> Vec<String> {
    reply["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| match m["author"].as_str().unwrap() {
            "bot" => m["text"].as_str().unwrap().to_owned(),
            other => format!("{other}: {}", m["text"].as_str().unwrap()),
        })
        .collect()
}

/// Send `input` after `reply`, with the state it gave.
async fn next(s: &Setup, id: &str, reply: &Value, input: Value, online: bool) -> Value {
    let (status, body) = preview(
        s,
        id,
        json!({ "input": input, "state": reply["state"], "reps_online": online }),
    )
    .await;
    assert_eq!(status, 200, "{body:#}");
    body
}

fn stored_rows(s: &Setup) -> (i64, i64, i64) {
    let mut conn = s.app.state.db.conn().unwrap();
    let conversations = conversations::table
        .filter(conversations::company_id.eq(&s.company))
        .count()
        .get_result::<i64>(&mut conn)
        .unwrap();
    let outbox = outbox::table.count().get_result::<i64>(&mut conn).unwrap();
    let events = analytics_events::table
        .filter(analytics_events::company_id.eq(&s.company))
        .count()
        .get_result::<i64>(&mut conn)
        .unwrap();
    (conversations, outbox, events)
}

#[tokio::test]
async fn the_draft_runs_without_writing_anything() {
    for db in TestDb::all() {
        let s = setup(db).await;
        let id = s.create(&s.admin, &draft()).await;
        let before = stored_rows(&s);

        // Nobody online, unknown visitor: the whole flow, its writes described.
        let (status, started) = preview(
            &s,
            &id,
            json!({ "input": { "kind": "start" }, "reps_online": false, "known": false }),
        )
        .await;
        assert_eq!(status, 200, "{started:#}");
        assert_eq!(
            lines(&started),
            ["Hello **there**! known=false", "How big is your team?"]
        );
        assert_eq!(started["messages"][1]["buttons"], json!(["1-10", "50+"]));
        assert_eq!(started["waiting_for"], "visitor");
        let chosen = next(
            &s,
            &id,
            &started,
            json!({ "kind": "choice", "index": 1 }),
            false,
        )
        .await;
        assert_eq!(lines(&chosen), ["Your e-mail?"]);
        assert_eq!(chosen["messages"][0]["input"], "email");
        let done = next(
            &s,
            &id,
            &chosen,
            json!({ "kind": "text", "text": "ann@acme.test" }),
            false,
        )
        .await;
        assert_eq!(
            lines(&done),
            [
                "Nobody is online right now — we'll call you back.",
                "preview: would create lead 'ann@acme.test — chatbot' for <ann@acme.test> in the CRM",
                "preview: would e-mail sales@acme.test: New lead: ann@acme.test",
                "preview: would send the visitor to https://acme.test/docs",
                "preview: the flow ends here",
            ]
        );
        assert_eq!(done["waiting_for"], "nothing");
        assert_eq!(
            stored_rows(&s),
            before,
            "no conversation, outbox row or event"
        );

        // A rep online and a known visitor: the hand-off is described and the admin
        // decides whether a rep takes the chat.
        let (_, started) = preview(
            &s,
            &id,
            json!({ "input": { "kind": "start" }, "reps_online": true, "known": true }),
        )
        .await;
        assert_eq!(lines(&started)[0], "Hello **there**! known=true");
        let chosen = next(
            &s,
            &id,
            &started,
            json!({ "kind": "choice", "index": 0 }),
            true,
        )
        .await;
        let waiting = next(
            &s,
            &id,
            &chosen,
            json!({ "kind": "text", "text": "bob@acme.test" }),
            true,
        )
        .await;
        assert_eq!(
            lines(&waiting),
            [
                "Connecting you…",
                "preview: would put the chat in Unassigned and notify the online reps",
                "preview: would wait 60 s for a rep to take the chat",
            ]
        );
        assert_eq!(waiting["waiting_for"], "rep");
        let missed = next(&s, &id, &waiting, json!({ "kind": "wait_expired" }), true).await;
        assert_eq!(
            lines(&missed)[0],
            "Nobody is online right now — we'll call you back."
        );
        assert_eq!(stored_rows(&s), before);
    }
}

#[tokio::test]
async fn the_preview_runs_the_draft_and_refuses_one_with_problems() {
    let s = setup(TestDb::sqlite()).await;
    let id = s.create(&s.admin, &draft()).await;
    let (status, _) = s
        .call(
            &s.admin,
            Method::POST,
            &format!("/api/admin/playbooks/{id}/publish"),
            Body::Json(json!({ "note": "v1" })),
        )
        .await;
    assert_eq!(status, 201);
    let changed = draft().replace("Hello **there**!", "Welcome back!");
    let draft_path = format!("/api/admin/playbooks/{id}/draft");
    let put = |text: String| s.call(&s.admin, Method::PUT, &draft_path, Body::Yaml(text));
    assert_eq!(put(changed).await.0, 200);
    let start = json!({ "input": { "kind": "start" } });
    let (status, started) = preview(&s, &id, start.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(lines(&started)[0], "Welcome back! known=false", "the draft");

    // An answer without a started preview, or with a state that is not one, is 400.
    let (status, body) = preview(&s, &id, json!({ "input": { "kind": "wait_expired" } })).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("preview_not_started"))
    );
    let (status, _) = preview(
        &s,
        &id,
        json!({ "input": { "kind": "text", "text": "x" }, "state": { "phase": 7 } }),
    )
    .await;
    assert_eq!(status, 400);

    // A draft with problems is not previewed.
    assert_eq!(
        put(draft().replace("next: size", "next: nowhere")).await.0,
        200
    );
    let (status, body) = preview(&s, &id, start.clone()).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (422, json!("invalid_playbook"))
    );

    // Another company's admin gets 404, a rep 403.
    let path = format!("/api/admin/playbooks/{id}/preview");
    let (status, _) = s
        .call(
            &s.other_admin,
            Method::POST,
            &path,
            Body::Json(start.clone()),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = s.call(&s.rep, Method::POST, &path, Body::Json(start)).await;
    assert_eq!(status, 403);
}
