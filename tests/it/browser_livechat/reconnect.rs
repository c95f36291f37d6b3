//! The inbox and the widget after their event streams got an error answer. A rep and a
//! visitor are talking when the server stops at once; while it is down a stand-in answers
//! 503 on its port (as a load balancer with no node up does); then the server starts again
//! on the same port and database. The inbox says it is reconnecting, comes back by itself,
//! and both sides see the messages sent after the recovery without a reload. Screenshots of
//! the reconnecting inbox at 1280 and 360 px, dark and light, go to the temp directory.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fantoccini::Client;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::{
    click, open_chat, open_inbox, qualify, rep_and_visitor, rep_says, set_online, shot, text,
    visible, wait_text, wait_transcript,
};
use crate::browser::{demo_company, js, messages, say, shown, wait_message};
use crate::common::{TestApp, TestDb};
use crate::crm_support::install_app;
use crate::wait::{eventually, eventually_for};

/// Ada, the sandbox company's admin, as the rep.
const ADA: i64 = 1001;

/// Long enough for a stream's backoff to come round after the outage.
const RECOVERY: Duration = Duration::from_secs(45);

/// A stand-in on the server's port while the server is down: every request gets a 503,
/// and the paths it answered are noted.
struct Unavailable {
    answered: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl Unavailable {
    async fn start(port: u16) -> Unavailable {
        let listener = eventually("the server's port to be free", || async {
            TcpListener::bind(("127.0.0.1", port)).await.ok()
        })
        .await;
        let answered = Arc::new(Mutex::new(Vec::new()));
        let noted = answered.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let noted = noted.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head);
                    let path = head.split_whitespace().nth(1).unwrap_or_default();
                    noted.lock().unwrap().push(path.to_owned());
                    let _ = socket
                        .write_all(
                            b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n\
                              content-length: 12\r\nconnection: close\r\n\r\nunavailable\n",
                        )
                        .await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Unavailable { answered, task }
    }

    /// Has a request for `path` (query aside) been answered 503?
    fn answered(&self, path: &str) -> bool {
        self.answered
            .lock()
            .unwrap()
            .iter()
            .any(|p| p.split('?').next() == Some(path))
    }

    /// Free the port.
    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_and_the_widget_reconnect_after_an_error_answer() {
    let app = Arc::new(TestApp::spawn(TestDb::sqlite()).await);
    demo_company(&app);
    install_app(&app, ADA).await;
    let server = app.clone();
    rep_and_visitor(&app, move |rep, visitor, url| {
        outage(rep, visitor, url, server)
    })
    .await;
}

/// Switch the theme in the CRM's shell and wait for the inbox to follow.
async fn theme(rep: &Client, want: &str) {
    rep.enter_parent_frame().await.unwrap();
    click(rep, "#theme-toggle").await;
    shown(rep, "#app-frame").await.enter_frame().await.unwrap();
    eventually(&format!("the {want} theme"), || async {
        (js(rep, "return document.documentElement.dataset.theme").await == want).then_some(())
    })
    .await;
}

async fn outage(rep: Client, visitor: Client, url: String, app: Arc<TestApp>) {
    // A rep and a visitor talking.
    open_inbox(&rep, &url, ADA, "dark").await;
    set_online(&rep, true).await;
    qualify(&visitor, &url, "back@example.com").await;
    wait_message(&visitor, "Connecting you with someone from sales").await;
    open_chat(&rep, "back@example.com").await;
    click(&rep, "#assign-me").await;
    wait_text(&rep, "#chat-status", "With you").await;
    wait_message(&visitor, "Ada Admin joined the chat").await;
    assert!(
        !visible(&rep, "#connection").await,
        "connected: nothing said"
    );
    // Marks that a reload would wipe.
    js(&rep, "window.__samePage = true; return null").await;
    js(&visitor, "window.__samePage = true; return null").await;

    // The server stops; while it is down its address answers 503.
    app.kill().await;
    let stand_in = Unavailable::start(app.port()).await;
    wait_text(&rep, "#connection", "Reconnecting…").await;
    assert!(visible(&rep, "#connection").await);
    shot(&rep, "reconnecting-1280-dark").await;
    theme(&rep, "light").await;
    shot(&rep, "reconnecting-1280-light").await;
    rep.set_window_size(360, 800).await.unwrap();
    shot(&rep, "reconnecting-360-light").await;
    theme(&rep, "dark").await;
    shot(&rep, "reconnecting-360-dark").await;
    let overflow = js(
        &rep,
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
    )
    .await;
    assert_eq!(
        overflow,
        json!(0),
        "nothing wider than the window while reconnecting"
    );
    rep.set_window_size(1280, 900).await.unwrap();
    // Both streams were refused with an error answer, not only cut.
    eventually_for("both event streams answered 503", RECOVERY, || async {
        (stand_in.answered("/api/inbox/events") && stand_in.answered("/api/widget/events"))
            .then_some(())
    })
    .await;
    stand_in.stop().await;

    // The server is back: the inbox reconnects by itself.
    let _again = app.again().await;
    eventually_for("the inbox to reconnect", RECOVERY, || async {
        (!visible(&rep, "#connection").await).then_some(())
    })
    .await;

    // Messages sent after the recovery reach both sides without a reload.
    say(&visitor, "Back again, still there?").await;
    wait_transcript(&rep, "Back again, still there?").await;
    rep_says(&rep, "Yes, right here").await;
    eventually_for("the rep's reply in the widget", RECOVERY, || async {
        messages(&visitor)
            .await
            .iter()
            .any(|m| m.contains("Yes, right here"))
            .then_some(())
    })
    .await;
    for (who, browser) in [("inbox", &rep), ("widget", &visitor)] {
        assert_eq!(
            js(browser, "return window.__samePage === true").await,
            true,
            "the {who} was not reloaded"
        );
    }
    eventually("the rep online again", || async {
        (text(&rep, "#online-label").await == "Online").then_some(())
    })
    .await;
}
