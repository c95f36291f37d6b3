//! Slow clients (SECURITY.md, finding 4): a request whose head or body does not arrive in
//! time is cut off, and the uninstall route answers an unauthenticated caller before
//! reading any body. Each test failed before its fix (the connections stayed open).

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{TestApp, TestDb};
use concierge::web::deadline::{BODY_DEADLINE, HEAD_TIMEOUT};

/// Slack for a loaded machine on top of each limit.
const SLACK: Duration = Duration::from_secs(4);

/// Send `sent` and nothing more; how long until the server closed the connection (`None`
/// when it was still open after `wait`), and what it answered.
async fn slow_client(app: &TestApp, sent: String, wait: Duration) -> (Option<Duration>, String) {
    let addr = app.url.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    stream.write_all(sent.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(wait, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    (
        closed.then(|| started.elapsed()),
        String::from_utf8_lossy(&answer).into_owned(),
    )
}

fn head(method: &str, path: &str, extra: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: 60000\r\n{extra}\r\n{{\"a\":\"b\"\r\n"
    )
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let wait = BODY_DEADLINE + SLACK * 2;
    let basic = crate::crm_support::basic(&app);
    let mut clients = Vec::new();
    // 20 unauthenticated uninstall notices declaring 60,000 bytes and sending 9: each is
    // answered 401 at once, without waiting for the body.
    for _ in 0..20 {
        clients.push((
            "uninstall without credentials",
            SLACK,
            Some("401"),
            head("DELETE", "/oauth/callback", ""),
        ));
    }
    // With the right credentials the body is read, within the deadline.
    clients.push((
        "uninstall with credentials",
        BODY_DEADLINE + SLACK,
        None,
        head(
            "DELETE",
            "/oauth/callback",
            &format!("Authorization: {basic}\r\n"),
        ),
    ));
    // A widget call (no authentication before the body) and an admin API call.
    for path in ["/api/widget/session", "/api/admin/answer-rules"] {
        clients.push((path, BODY_DEADLINE + SLACK, None, head("POST", path, "")));
    }
    // A head that never ends.
    clients.push((
        "unfinished head",
        HEAD_TIMEOUT + SLACK,
        None,
        "POST /api/widget/session HTTP/1.1\r\nHost: 127.0.0.1\r\n".to_owned(),
    ));
    let runs = clients.into_iter().map(|(what, bound, status, sent)| {
        let app = &app;
        async move {
            let (closed, answer) = slow_client(app, sent, wait).await;
            (what, bound, status, closed, answer)
        }
    });
    for (what, bound, status, closed, answer) in futures_util::future::join_all(runs).await {
        let closed = closed.unwrap_or_else(|| panic!("{what}: still open after {wait:?}"));
        assert!(
            closed <= bound,
            "{what}: closed after {closed:?}, over {bound:?}"
        );
        if let Some(status) = status {
            assert!(
                answer.starts_with(&format!("HTTP/1.1 {status}")),
                "{what}: {answer}"
            );
        }
    }
}
