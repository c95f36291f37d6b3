//! `/metrics`: served on its own address only, in Prometheus text format, with the turns,
//! event streams, outbox, CRM calls, database pool and NOTIFY figures README describes.

use crate::common::{TestApp, TestDb};
use crate::crm_support::installed_with;
use crate::live_chat::ADA;
use crate::wait::eventually;
use crate::widget_support::Widget;

pub(crate) const FLOW: &str = r##"
slug: metered
name: Metered
trigger: { on: click, selector: "#m" }
start: email
cards:
  - id: email
    type: question
    text: "Your e-mail?"
    input: email
    save: person.email
    on_fail: bye
    next: capture
  - id: capture
    type: capture
    create: lead
    title: "Metered lead"
    next: bye
  - id: bye
    type: end
    text: "Thanks."
"##;

/// The value of the first sample line that starts with `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn scrape(url: &str) -> String {
    let resp = reqwest::get(url).await.unwrap();
    assert_eq!(resp.status(), 200);
    let kind = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/plain"), "{kind}");
    resp.text().await.unwrap()
}

#[tokio::test]
async fn metrics_are_served_on_their_own_address() {
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| {
        c.metrics_bind = Some("127.0.0.1:0".into());
        c.outbox.poll_ms = 50;
    })
    .await;
    let bind = app.state.config.metrics_bind.clone().expect("bound");
    assert!(!bind.ends_with(":0"), "the bound port is kept: {bind}");
    let url = format!("http://{bind}/metrics");
    // Not on the public address.
    let public = reqwest::get(app.at("/metrics")).await.unwrap();
    assert_eq!(public.status(), 404);

    let company = installed_with(&app, ADA, FLOW).await;
    let mut widget = Widget::new(&app, &company);
    widget.session().await;
    widget.trigger("metered", "click").await;
    let stream = widget.events(None).await;
    assert_eq!(stream.status(), 200);
    widget.say("ada@acme.test").await;

    let text = eventually("the capture's CRM calls", || {
        let url = url.clone();
        async move {
            let text = scrape(&url).await;
            (sample(&text, "concierge_crm_calls_total{outcome=\"ok\"}").unwrap_or(0.0) >= 3.0)
                .then_some(text)
        }
    })
    .await;
    assert!(sample(&text, "concierge_turns_total{outcome=\"ok\"}").unwrap() >= 2.0);
    assert!(sample(&text, "concierge_turn_duration_seconds_count").unwrap() >= 2.0);
    assert!(text.contains("concierge_turn_duration_seconds_bucket{le=\"0.05\"}"));
    assert!(sample(&text, "concierge_event_streams{kind=\"visitor\"}").unwrap() >= 1.0);
    assert!(sample(&text, "concierge_db_pool_wait_seconds_count").unwrap() >= 1.0);
    assert!(
        sample(
            &text,
            "concierge_crm_rate_limit_remaining{bucket=\"general\"}"
        )
        .is_some()
    );
    assert!(sample(&text, "concierge_outbox_backlog{kind=\"capture\"}").is_some());
    assert!(sample(&text, "concierge_outbox_oldest_due_seconds{kind=\"email\"}").is_some());
    assert!(sample(&text, "concierge_notify_reconnects_total").is_some());
    drop(stream);
}
