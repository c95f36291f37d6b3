//! Making an http card's call for real, for the terminal run.

use std::time::Duration;

use crate::playbook::effect::HttpRequest;
use crate::playbook::state::HttpOutcome;

/// Make the call and report it the way the engine expects.
pub(super) async fn call(client: &reqwest::Client, request: &HttpRequest) -> HttpOutcome {
    let method = match reqwest::Method::from_bytes(request.method.as_str().as_bytes()) {
        Ok(m) => m,
        Err(e) => return failed(e),
    };
    let mut builder = client
        .request(method, &request.url)
        .timeout(Duration::from_secs(u64::from(request.timeout_seconds)));
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    if let Some(body) = &request.body {
        if serde_json::from_str::<serde_json::Value>(body).is_ok() {
            builder = builder.header(reqwest::header::CONTENT_TYPE, "application/json");
        }
        builder = builder.body(body.clone());
    }
    let response = match builder.send().await {
        Ok(r) => r,
        Err(e) => return failed(e),
    };
    let status = response.status();
    if !status.is_success() {
        return HttpOutcome::Failed {
            reason: format!("HTTP {status}"),
        };
    }
    match response.bytes().await {
        Ok(bytes) => HttpOutcome::Ok {
            status: status.as_u16(),
            body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        },
        Err(e) => failed(e),
    }
}

fn failed(error: impl std::fmt::Display) -> HttpOutcome {
    HttpOutcome::Failed {
        reason: error.to_string(),
    }
}
