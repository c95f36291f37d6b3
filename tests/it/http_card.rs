//! The http card against a real local API: JSON mapped into variables, typing shown while
//! it runs, and internal addresses refused unless allow-listed (R10).

use std::time::Duration;

use crate::common::{TestApp, TestDb};
use crate::widget_support::*;
use actix_web::{App, HttpResponse, HttpServer, web};
use concierge::chat::http_card::HttpCaller;
use concierge::chat::ssrf::AllowList;
use concierge::playbook::effect::HttpRequest;
use concierge::playbook::model::HttpMethod;
use concierge::playbook::state::HttpOutcome;

/// A small order API on a free port: `/orders/{id}`, `/redirect`, `/slow`, `/text`.
async fn order_api() -> (String, actix_web::dev::ServerHandle) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new()
            .route(
                "/orders/{id}",
                web::get().to(|id: web::Path<String>| async move {
                    HttpResponse::Ok().json(serde_json::json!({
                        "id": id.into_inner(), "status": "shipped"
                    }))
                }),
            )
            .route(
                "/redirect",
                web::get().to(move || async move {
                    HttpResponse::Found()
                        .insert_header(("Location", format!("http://127.0.0.1:{port}/orders/1")))
                        .finish()
                }),
            )
            .route(
                "/slow",
                web::get().to(|| async {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    HttpResponse::Ok().json(serde_json::json!({}))
                }),
            )
            .route(
                "/text",
                web::get().to(|| async { HttpResponse::Ok().body("plain") }),
            )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}"), handle)
}

fn request(url: &str, timeout_seconds: u32) -> HttpRequest {
    HttpRequest {
        card: "lookup".into(),
        method: HttpMethod::Get,
        url: url.into(),
        headers: vec![("Accept".into(), "application/json".into())],
        body: None,
        timeout_seconds,
    }
}

fn refused(outcome: &HttpOutcome) -> bool {
    matches!(outcome, HttpOutcome::Failed { reason } if reason.starts_with("refused"))
}

#[tokio::test]
async fn an_allow_listed_api_answers_into_variables_while_the_bot_types() {
    let (api, _server) = order_api().await;
    for db in TestDb::all() {
        let app = TestApp::spawn_with(db, |c| {
            c.http_allow = AllowList::parse("127.0.0.1").unwrap();
        })
        .await;
        let playbook = ORDER.replace("API_BASE", &api);
        let company = company_with(&app, &[&playbook]).await;
        let mut w = Widget::new(&app, &company);
        w.session().await;
        w.trigger("order", "click").await;
        let mut sse = SseReader::new(w.events(Some(1)).await);
        let sent = w.say("A17").await;
        assert_eq!(texts(&sent["messages"]), ["A17"], "the answer comes later");
        assert_eq!(sse.next().await.data["text"], "A17");
        let typing = sse.next().await;
        assert_eq!(
            (typing.event.as_str(), &typing.data["typing"]),
            ("typing", &true.into())
        );
        let stopped = sse.next().await;
        assert_eq!(stopped.data["typing"], false);
        let answer = sse.next().await;
        assert_eq!(answer.data["text"], "Your order is shipped.");
        w.wait_for_text("Your order is shipped.").await;
    }
}

#[tokio::test]
async fn internal_addresses_are_refused_when_not_allow_listed() {
    let (api, _server) = order_api().await;
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let playbook = ORDER.replace("API_BASE", &api);
    let company = company_with(&app, &[&playbook]).await;
    let mut w = Widget::new(&app, &company);
    w.session().await;
    w.trigger("order", "click").await;
    w.say("A17").await;
    // The card's failure branch, not the order status.
    let all = w
        .wait_for_text("Sorry, I cannot look that up right now.")
        .await;
    assert!(all.iter().all(|m| m["text"] != "Your order is shipped."));
}

#[tokio::test]
async fn the_guard_refuses_loopback_private_link_local_and_metadata() {
    let (api, _server) = order_api().await;
    let port = api.rsplit(':').next().unwrap().to_owned();
    let caller = HttpCaller::new(AllowList::default()).unwrap();
    for url in [
        format!("http://127.0.0.1:{port}/orders/1"),
        format!("http://localhost:{port}/orders/1"),
        format!("http://[::1]:{port}/orders/1"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://10.0.0.1/".to_string(),
        "http://192.168.1.1/".to_string(),
        "http://172.16.0.1/".to_string(),
        "http://0.0.0.0/".to_string(),
        "http://[fd00:ec2::254]/".to_string(),
        "http://metadata.google.internal/computeMetadata/v1/".to_string(),
        "http://[::ffff:127.0.0.1]/".to_string(),
    ] {
        let outcome = caller.call(&request(&url, 5)).await;
        assert!(refused(&outcome), "{url}: {outcome:?}");
    }
    let ftp = caller.call(&request("ftp://example.com/x", 5)).await;
    assert!(matches!(ftp, HttpOutcome::Failed { .. }));
}

#[tokio::test]
async fn the_allow_list_opens_exactly_what_it_names() {
    let (api, _server) = order_api().await;
    let port = api.rsplit(':').next().unwrap().to_owned();
    // By range: the address literal is fine.
    let by_range = HttpCaller::new(AllowList::parse("127.0.0.0/8").unwrap()).unwrap();
    let ok = by_range.call(&request(&format!("{api}/orders/9"), 5)).await;
    assert_eq!(
        ok,
        HttpOutcome::Ok {
            status: 200,
            body: serde_json::json!({ "id": "9", "status": "shipped" })
        }
    );
    // A non-JSON answer is a success with a null body.
    let text = by_range.call(&request(&format!("{api}/text"), 5)).await;
    assert_eq!(
        text,
        HttpOutcome::Ok {
            status: 200,
            body: serde_json::Value::Null
        }
    );
    // A slow API fails after the card's timeout.
    let started = std::time::Instant::now();
    let slow = by_range.call(&request(&format!("{api}/slow"), 1)).await;
    assert!(
        matches!(slow, HttpOutcome::Failed { ref reason } if reason.contains("in time")),
        "{slow:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    // A 404 is a failure.
    let missing = by_range.call(&request(&format!("{api}/nope"), 5)).await;
    assert!(matches!(missing, HttpOutcome::Failed { ref reason } if reason.contains("404")));

    // By host name: `localhost` may be called, but a redirect from it to an address
    // literal that is not allow-listed is refused.
    let by_host = HttpCaller::new(AllowList::parse("localhost").unwrap()).unwrap();
    let named = by_host
        .call(&request(&format!("http://localhost:{port}/orders/2"), 5))
        .await;
    assert!(
        matches!(named, HttpOutcome::Ok { status: 200, .. }),
        "{named:?}"
    );
    let redirected = by_host
        .call(&request(&format!("http://localhost:{port}/redirect"), 5))
        .await;
    assert!(refused(&redirected), "{redirected:?}");
    // The range-allowed caller follows the same redirect.
    let followed = by_range.call(&request(&format!("{api}/redirect"), 5)).await;
    assert!(
        matches!(followed, HttpOutcome::Ok { status: 200, .. }),
        "{followed:?}"
    );
}
