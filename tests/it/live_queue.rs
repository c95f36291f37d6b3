//! What waiting visitors and the reps' streams are sent as chats change, on both
//! databases: a visitor hears their place again only when it changed (or when they open
//! their stream anew), and a rep's stream sends new folder counts only for a chat that
//! moved between folders.

use concierge::crm::sandbox;
use serde_json::json;

use crate::common::TestDb;
use crate::live_chat::{BEN, Rep, setup, until_event, visitor_waits, visitor_waits_watching};
use crate::widget_support::SseReader;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_visitor_hears_their_place_again_only_when_it_changed() {
    for db in TestDb::all() {
        let (app, company) = setup(db).await;
        let ben = Rep::sign_in(&app, sandbox::COMPANY_ID, BEN).await;
        ben.online().await;
        let (first, _, mut first_events) =
            visitor_waits_watching(&app, &company, "first@acme.test").await;
        let place = until_event(&mut first_events, "queue", |_| true).await;
        assert_eq!(place["position"], 1);

        // A second chat waits behind the first: the first's place is the same.
        let (_second, _, mut second_events) =
            visitor_waits_watching(&app, &company, "second@acme.test").await;
        assert_eq!(
            until_event(&mut second_events, "queue", |_| true).await["position"],
            2
        );
        first.say("Still there?").await;
        // Each node tells the watchers it has (on PostgreSQL too: every node works the
        // places out for its own). The bot's earlier messages may still come first (the
        // place is worked out apart from them); no second `queue` event comes before the
        // visitor's message.
        loop {
            let next = first_events.next().await;
            assert_ne!(
                next.event, "queue",
                "no second `queue` event for an unchanged place: {next:?}"
            );
            if next.event == "message" && next.data["text"] == "Still there?" {
                break;
            }
        }

        // A new stream of the first visitor (a reload) is told the place at once.
        let mut again = SseReader::new(first.events(None).await);
        let place = until_event(&mut again, "queue", |_| true).await;
        assert_eq!(place, json!({"position": 1, "expected_wait_seconds": null}));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rep_gets_new_counts_only_when_a_chat_moves_between_folders() {
    for db in TestDb::all() {
        let (app, company) = setup(db).await;
        let ben = Rep::sign_in(&app, sandbox::COMPANY_ID, BEN).await;
        ben.online().await;
        let mut inbox = ben.events().await;
        let (visitor, id) = visitor_waits(&app, &company, "ann@acme.test").await;
        until_event(&mut inbox, "conversation", |d| d["id"] == id.as_str()).await;
        assert_eq!(inbox.next().await.data["unassigned"], 1, "counts");

        // A message keeps the chat in Unassigned: its summary, and no counts.
        visitor.say("Anyone there?").await;
        until_event(&mut inbox, "conversation", |d| {
            d["id"] == id.as_str() && d["preview"] == "Anyone there?"
        })
        .await;
        ben.online().await;
        let next = inbox.next().await;
        assert_eq!(
            next.event, "presence",
            "no counts after the summary: {next:?}"
        );

        // Ben takes it: it moved to his chats, and the counts say so.
        let (status, _) = ben.post(&format!("conversations/{id}/assign"), None).await;
        assert_eq!(status, 200);
        until_event(&mut inbox, "conversation", |d| {
            d["id"] == id.as_str() && d["status"] == "assigned"
        })
        .await;
        let counts = inbox.next().await;
        assert_eq!(counts.event, "counts", "{counts:?}");
        assert_eq!(
            (
                counts.data["unassigned"].as_i64(),
                counts.data["mine"].as_i64()
            ),
            (Some(0), Some(1))
        );
    }
}
