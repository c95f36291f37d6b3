//! The http card's call: the request the engine rendered, sent with the card's timeout,
//! its JSON answer handed back to the engine (which maps it into variables).
//!
//! Guarded against server-side request forgery (see `ssrf`): an address literal is checked
//! before the call; a host name is resolved by [`GuardedResolver`], which drops every
//! refused address, so the connection is made to an address that was checked — a second
//! DNS answer (rebinding) cannot slip past. Redirects are followed (at most 5) only to
//! addresses that pass the same checks. No proxy is used, so the checks see the real peer.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::ssrf::{self, AllowList, Refusal};
use crate::playbook::effect::HttpRequest;
use crate::playbook::model::{HttpMethod, MAX_HTTP_TIMEOUT};
use crate::playbook::state::HttpOutcome;

/// Largest answer read; a longer one fails the call.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
const MAX_REDIRECTS: usize = 5;

/// Makes http cards' calls. Cheap to clone.
#[derive(Clone, Debug)]
pub struct HttpCaller {
    client: reqwest::Client,
    allow: Arc<AllowList>,
}

impl HttpCaller {
    pub fn new(allow: AllowList) -> Result<HttpCaller, reqwest::Error> {
        let allow = Arc::new(allow);
        let for_redirects = allow.clone();
        let client = reqwest::Client::builder()
            .user_agent(concat!("concierge/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .dns_resolver(GuardedResolver {
                allow: allow.clone(),
            })
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    return attempt.error("too many redirects");
                }
                match check_url(attempt.url(), &for_redirects) {
                    Ok(()) => attempt.follow(),
                    Err(refusal) => attempt.error(refusal),
                }
            }))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(HttpCaller { client, allow })
    }

    /// Make the call; every failure is an outcome, never an error.
    pub async fn call(&self, request: &HttpRequest) -> HttpOutcome {
        match self.try_call(request).await {
            Ok(outcome) => outcome,
            Err(reason) => {
                tracing::info!(card = %request.card, url = %request.url, %reason, "http card call failed");
                HttpOutcome::Failed { reason }
            }
        }
    }

    async fn try_call(&self, request: &HttpRequest) -> Result<HttpOutcome, String> {
        let url = reqwest::Url::parse(&request.url)
            .map_err(|e| format!("`{}` is not a URL: {e}", request.url))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "`{}`: only http and https are allowed",
                url.scheme()
            ));
        }
        check_url(&url, &self.allow).map_err(|e| format!("refused: {e}"))?;
        let seconds = request.timeout_seconds.clamp(1, MAX_HTTP_TIMEOUT);
        let mut builder = self
            .client
            .request(method(request.method), url)
            .timeout(Duration::from_secs(u64::from(seconds)));
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = &request.body {
            let has_type = request
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
            if !has_type {
                let kind = if serde_json::from_str::<serde_json::Value>(body).is_ok() {
                    "application/json"
                } else {
                    "text/plain; charset=utf-8"
                };
                builder = builder.header("content-type", kind);
            }
            builder = builder.body(body.clone());
        }
        let response = builder.send().await.map_err(describe)?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("the API answered {status}"));
        }
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(format!("the answer is over {MAX_RESPONSE_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpOutcome::Ok {
            status: status.as_u16(),
            body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        })
    }
}

fn method(m: HttpMethod) -> reqwest::Method {
    match m {
        HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Post => reqwest::Method::POST,
        HttpMethod::Put => reqwest::Method::PUT,
        HttpMethod::Patch => reqwest::Method::PATCH,
        HttpMethod::Delete => reqwest::Method::DELETE,
    }
}

/// A failure as one line, with the refusal when the guard refused the address.
fn describe(e: reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(&e);
    while let Some(s) = source {
        if let Some(refusal) = s.downcast_ref::<Refusal>() {
            return format!("refused: {refusal}");
        }
        source = s.source();
    }
    if e.is_timeout() {
        "the API did not answer in time".into()
    } else if e.is_connect() {
        "cannot connect to the API".into()
    } else {
        e.to_string()
    }
}

/// Check a URL's host before connecting: address literals here, names in the resolver.
fn check_url(url: &reqwest::Url, allow: &AllowList) -> Result<(), Refusal> {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ssrf::check_ip(&ip.to_string(), IpAddr::V4(ip), allow),
        Some(url::Host::Ipv6(ip)) => ssrf::check_ip(&ip.to_string(), IpAddr::V6(ip), allow),
        Some(url::Host::Domain(name)) => ssrf::check_host(name, allow),
        None => Ok(()),
    }
}

/// Resolves names with the system resolver and keeps only the addresses a card may call.
#[derive(Debug)]
struct GuardedResolver {
    allow: Arc<AllowList>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            ssrf::check_host(&host, &allow)?;
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match ssrf::check_ip(&host, a.ip(), &allow) {
                    Ok(()) => true,
                    Err(r) => {
                        refused = Some(r);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), refused) {
                (true, Some(r)) => Err(r.into()),
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}
