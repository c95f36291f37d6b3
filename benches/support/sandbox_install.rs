//! The sandbox CRM's install, as a browser does it, for the benchmarks that deliver to it.

use std::collections::BTreeMap;

/// An HTTP client that does not follow redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// Install through `/oauth/install`, the sandbox's consent page and `/oauth/callback`.
pub async fn install(base: &str) {
    let b = browser();
    let resp = b
        .get(format!("{base}/oauth/install"))
        .send()
        .await
        .expect("install");
    let location = url::Url::parse(resp.headers()["location"].to_str().expect("location"))
        .expect("authorize URL");
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("cookie")
        .to_owned();
    let q: BTreeMap<String, String> = location.query_pairs().into_owned().collect();
    let resp = b
        .post(format!("{base}/sandbox/oauth/authorize"))
        .form(&[
            ("client_id", q["client_id"].as_str()),
            ("redirect_uri", q["redirect_uri"].as_str()),
            ("state", q["state"].as_str()),
            ("user_id", "1001"),
            ("decision", "allow"),
        ])
        .send()
        .await
        .expect("consent");
    let back = resp.headers()["location"]
        .to_str()
        .expect("callback")
        .to_owned();
    let resp = b
        .get(back)
        .header("cookie", cookie)
        .send()
        .await
        .expect("callback");
    assert_eq!(resp.status(), 200, "install failed");
}
