//! The real-time channel (Server-Sent Events) against the real server.

use crate::common::{TestApp, TestDb};
use crate::widget_support::*;
use concierge::chat::realtime::LiveEvent;

#[tokio::test]
async fn the_event_stream_carries_replies_and_resumes_by_last_event_id() {
    for db in TestDb::all() {
        let app = TestApp::spawn(db).await;
        let company = company_with(&app, &[QUALIFY]).await;
        let mut w = Widget::new(&app, &company);
        w.session().await;
        // No open conversation yet: nothing to listen to.
        assert_eq!(w.events(None).await.status(), 404);

        let started = w.trigger("qualify", "click").await;
        let question = started["messages"][1]["id"].as_str().unwrap().to_owned();

        // Resuming after seq 1 replays seq 2 from the database, then goes live.
        let mut sse = SseReader::new(w.events(Some(1)).await);
        let replayed = sse.next().await;
        assert_eq!(replayed.event, "message");
        assert_eq!(replayed.id, Some(2));
        assert_eq!(replayed.data["text"], "How big is your team?");

        // A turn posted elsewhere (another tab) arrives on the stream, in order.
        w.choose(&question, 0).await;
        let own = sse.next().await;
        assert_eq!(
            (own.id, own.data["author"].as_str()),
            (Some(3), Some("visitor"))
        );
        let reply = sse.next().await;
        assert_eq!(reply.id, Some(4));
        assert_eq!(reply.data["text"], "Your e-mail?");
        assert_eq!(reply.data["input"], "email");

        // Other event kinds go out with their names and no id.
        let conv = started["conversation"]["id"].as_str().unwrap().to_owned();
        app.state.chat.hub.publish(
            &company.id,
            &conv,
            LiveEvent::Typing {
                author: "rep".into(),
                name: Some("Rita".into()),
                typing: true,
            },
        );
        let typing = sse.next().await;
        assert_eq!(typing.event, "typing");
        assert_eq!(typing.id, None);
        assert_eq!(typing.data["name"], "Rita");

        // The end of the flow: the redirect as a message and as its own event.
        w.say("ann@acme.test").await;
        let redirect = sse.until(|e| e.event == "redirect").await;
        assert_eq!(redirect.data["url"], "https://acme.test/docs");

        // A fresh connection without Last-Event-ID gets the whole history.
        let mut fresh = SseReader::new(w.events(None).await);
        let first = fresh.next().await;
        assert_eq!(first.id, Some(1));
    }
}

#[tokio::test]
async fn a_stream_sees_only_its_own_conversation() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let company = company_with(&app, &[QUALIFY]).await;
    let mut ann = Widget::new(&app, &company);
    ann.session().await;
    let mut bob = Widget::new(&app, &company);
    bob.session().await;
    ann.trigger("qualify", "click").await;
    bob.trigger("qualify", "click").await;
    let mut ann_events = SseReader::new(ann.events(Some(2)).await);
    bob.say("bob's secret").await;
    ann.say("ann's line").await;
    let e = ann_events.next().await;
    assert_eq!(
        e.data["text"], "ann's line",
        "Bob's message never reaches Ann"
    );
}
