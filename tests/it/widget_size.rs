//! The widget a website loads (P4): its size, that it talks to no other host, that it never
//! feeds text to the HTML parser, and how it is cached.

use std::io::Read;

use crate::common::{TestApp, TestDb};
use reqwest::header;

/// P4: script and styles together, gzipped, at most 10 KB. Measured on the bytes the server
/// sends to a client that accepts gzip (the app's own best-level gzip copy).
const GZIP_LIMIT: usize = 10 * 1024;

async fn get(app: &TestApp, path: &str, encoding: &str) -> reqwest::Response {
    // This reqwest has no decompression feature: bodies arrive as sent.
    reqwest::Client::new()
        .get(app.at(path))
        .header(header::ACCEPT_ENCODING, encoding)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn the_served_widget_gzips_to_at_most_10_kb() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let plain = get(&app, "/widget.js", "identity").await;
    assert_eq!(plain.status(), 200);
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    let plain = plain.text().await.expect("body");

    let gz = get(&app, "/widget.js", "gzip").await;
    assert_eq!(gz.status(), 200);
    assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
    let gz = gz.bytes().await.expect("body");
    println!(
        "widget.js: {} bytes, {} bytes as served with Content-Encoding: gzip",
        plain.len(),
        gz.len()
    );
    assert!(
        gz.len() <= GZIP_LIMIT,
        "the widget is {} bytes gzipped, over the {GZIP_LIMIT}-byte budget",
        gz.len()
    );
    // The measured bytes are the whole script, not a truncated or different body.
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut unzipped)
        .expect("valid gzip");
    assert_eq!(unzipped, plain);
}

#[tokio::test]
async fn the_widget_is_javascript_with_its_styles_and_revalidates_by_etag() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let resp = get(&app, "/widget.js", "identity").await;
    let headers = resp.headers().clone();
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(
        headers[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    let etag = headers[header::ETAG].to_str().unwrap().to_owned();
    let body = resp.text().await.unwrap();
    // One request: the styles travel inside the script.
    assert!(body.contains(".cnc-launcher{") || body.contains(".cnc-launcher {"));
    assert!(body.starts_with("(function () {"), "an IIFE");

    let again = reqwest::Client::new()
        .get(app.at("/widget.js"))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()[header::ETAG].to_str().unwrap(), etag);
    assert!(again.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_widget_names_no_other_host_and_never_parses_html() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let js = get(&app, "/widget.js", "identity")
        .await
        .text()
        .await
        .unwrap();

    // No absolute or protocol-relative URL at all, so no host but the script's own can be
    // named; no CSS url() or @import either.
    for needle in ["://", "'//", "\"//", "url(", "@import"] {
        assert!(!js.contains(needle), "the widget contains {needle:?}");
    }
    // Every request is made against API, which is derived from the script's own src.
    assert!(js.contains("var API = new URL('api/widget/', me.src).href;"));
    for call in ["fetch(", "new EventSource("] {
        let uses: Vec<&str> = js.match_indices(call).map(|(i, _)| &js[i..]).collect();
        assert!(!uses.is_empty(), "{call} is used");
        for rest in uses {
            assert!(
                rest[call.len()..].starts_with("API + "),
                "{call} must target API: {}",
                &rest[..rest.len().min(60)]
            );
        }
    }
    for other in [
        "XMLHttpRequest",
        "sendBeacon",
        "WebSocket",
        "importScripts",
        "import(",
        "new Image",
        ".src =",
    ] {
        assert!(!js.contains(other), "the widget uses {other}");
    }
    // Text never goes through the HTML parser.
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "createContextualFragment",
        "DOMParser",
        "srcdoc",
        "eval(",
        "Function(",
        "setTimeout('",
    ] {
        assert!(!js.contains(sink), "the widget uses {sink}");
    }
}
