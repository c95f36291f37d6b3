//! Automatic assignment in real browsers: a rep online in the sandbox CRM's inbox is
//! offered a waiting chat, still sees the offer after reloading the inbox, declines it
//! (it stays in Unassigned: nobody else is online) and accepts the next one, whose visitor
//! then sees the rep join.

use fantoccini::Client;
use serde_json::json;

use crate::browser::{demo_company, js, wait_message};
use crate::browser_livechat::{
    REP, click, count, open_inbox, qualify, rep_and_visitor, set_online, text, visible, wait_text,
};
use crate::common::{TestApp, TestDb};
use crate::crm_support::install_app;
use crate::wait::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offered_chat_shows_in_the_inbox_also_after_a_reload_and_is_declined_or_accepted() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let company = demo_company(&app);
    install_app(&app, 1001).await;
    crate::live_offers::auto_assign(&app, &company).await;
    rep_and_visitor(&app, offers).await;
}

/// Wait until the offer bar is shown and names `who`.
async fn offered(rep: &Client, who: &str) {
    eventually(&format!("the offer of {who}'s chat"), || async {
        (visible(rep, "#offer").await
            && text(rep, "#offer-text")
                .await
                .contains(&format!("with {who}")))
        .then_some(())
    })
    .await;
}

async fn offers(rep: Client, visitor: Client, url: String) {
    open_inbox(&rep, &url, REP, "light").await;
    set_online(&rep, true).await;

    // A visitor waits: the only rep online is offered the chat.
    qualify(&visitor, &url, "offered@example.com").await;
    wait_message(&visitor, "Connecting you with someone from sales").await;
    offered(&rep, "offered@example.com").await;
    let left = text(&rep, "#offer-text").await;
    assert!(left.contains("is offered to you ("), "{left}");

    // Reloading the inbox keeps the offer in view.
    open_inbox(&rep, &url, REP, "light").await;
    offered(&rep, "offered@example.com").await;

    // Declined: the offer goes away and the chat waits in Unassigned (nobody else is
    // online to offer it to).
    click(&rep, "#offer-decline").await;
    eventually("the offer bar to go", || async {
        (!visible(&rep, "#offer").await).then_some(())
    })
    .await;
    wait_text(&rep, "[data-count=\"unassigned\"]", "1").await;
    open_inbox(&rep, &url, REP, "light").await;
    assert!(
        !visible(&rep, "#offer").await,
        "a declined offer is not shown again after a reload"
    );

    // The next visitor's chat is offered too; accepted, it is the rep's.
    qualify(&visitor, &url, "accepted@example.com").await;
    offered(&rep, "accepted@example.com").await;
    click(&rep, "#offer-accept").await;
    wait_text(&rep, "#chat-status", "With you").await;
    wait_text(&rep, "#chat-title", "accepted@example.com").await;
    eventually("the chat to move to My chats", || async {
        (count(&rep, "mine").await == "1" && count(&rep, "unassigned").await == "1").then_some(())
    })
    .await;
    assert!(!visible(&rep, "#offer").await);
    wait_message(&visitor, "Ben Rep joined the chat").await;
    let header = js(
        &visitor,
        "return document.querySelector('#concierge .cnc-name').textContent",
    )
    .await;
    assert_eq!(header, json!("Ben Rep"));
}
