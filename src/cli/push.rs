//! `concierge playbook push FILE --url URL`: check the file here, then send it to a
//! running Concierge through the admin API (`CONCIERGE_API_KEY`) and publish it — the
//! playbook's draft when the company has one with this slug, a new playbook otherwise.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::playbook::check::check_document;
use crate::playbook::load::Format;

/// What the command was given.
pub struct Options<'a> {
    pub file: &'a Path,
    pub url: &'a str,
    pub note: Option<String>,
    pub enable: bool,
}

pub fn push(options: Options<'_>) -> ExitCode {
    match run(&options) {
        Ok(message) => {
            let mut out = std::io::stdout().lock();
            match writeln!(out, "{message}") {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("concierge: cannot write the answer: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(message) => {
            eprintln!("{}", message.trim_end());
            ExitCode::FAILURE
        }
    }
}

fn run(options: &Options<'_>) -> Result<String, String> {
    let name = options.file.display().to_string();
    let text = super::validate::read(options.file).map_err(|m| format!("{name}: {m}"))?;
    let format = Format::from_path(options.file);
    let playbook = check_document(&text, format).map_err(|report| report.render(&name))?;
    let key = std::env::var("CONCIERGE_API_KEY")
        .ok()
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| {
            "concierge: set CONCIERGE_API_KEY to an API key made in the settings page \
             (Settings → API keys)"
                .to_owned()
        })?;
    let base = options.url.trim_end_matches('/').to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("concierge: cannot start: {e}"))?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("concierge: cannot build the HTTP client: {e}"))?;
    let api = Api {
        client,
        base,
        key: key.trim().to_owned(),
        file: name.clone(),
    };
    let note = options
        .note
        .clone()
        .unwrap_or_else(|| format!("pushed from {name}"));
    runtime.block_on(async {
        let content_type = match format {
            Format::Json => "application/json",
            Format::Yaml => "application/yaml",
        };
        let list = api.send(api.get("/api/admin/playbooks")).await?;
        let existing = list["playbooks"].as_array().and_then(|items| {
            items
                .iter()
                .find(|p| p["slug"] == json!(playbook.slug))
                .and_then(|p| p["id"].as_str())
                .map(str::to_owned)
        });
        let id = match existing {
            Some(id) => {
                let saved = api
                    .send(
                        api.request(
                            reqwest::Method::PUT,
                            &format!("/api/admin/playbooks/{id}/draft"),
                        )
                        .header("Content-Type", content_type)
                        .body(text.clone()),
                    )
                    .await?;
                let problems = saved["problems"].as_array().cloned().unwrap_or_default();
                if !problems.is_empty() {
                    return Err(api.problems(&problems));
                }
                id
            }
            None => {
                let created = api
                    .send(
                        api.request(reqwest::Method::POST, "/api/admin/playbooks")
                            .header("Content-Type", content_type)
                            .body(text.clone()),
                    )
                    .await?;
                created["id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{}: the server did not say the new id", api.file))?
            }
        };
        let published = api
            .send(
                api.request(
                    reqwest::Method::POST,
                    &format!("/api/admin/playbooks/{id}/publish"),
                )
                .json(&json!({ "note": note })),
            )
            .await?;
        if options.enable {
            api.send(
                api.request(
                    reqwest::Method::POST,
                    &format!("/api/admin/playbooks/{id}/enabled"),
                )
                .json(&json!({ "enabled": true })),
            )
            .await?;
        }
        Ok(format!(
            "{}: published '{}' version {}{}",
            api.file,
            playbook.slug,
            published["version"],
            if options.enable { ", switched on" } else { "" }
        ))
    })
}

struct Api {
    client: reqwest::Client,
    base: String,
    key: String,
    file: String,
}

impl Api {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key)
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::GET, path)
    }

    /// Send; the JSON answer, or the server's error as the user should read it.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, String> {
        let response = request
            .send()
            .await
            .map_err(|e| format!("concierge: cannot reach {}: {e}", self.base))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let error = &body["error"];
        if let Some(problems) = error["problems"].as_array() {
            return Err(self.problems(problems));
        }
        let message = error["message"].as_str().unwrap_or("no message");
        Err(match status {
            StatusCode::UNAUTHORIZED => {
                format!("concierge: the server refused the API key: {message}")
            }
            _ => format!("concierge: the server answered {status}: {message}"),
        })
    }

    /// Problems the server found, as `FILE:LINE: card 'ID': message` lines.
    fn problems(&self, problems: &[Value]) -> String {
        let mut out = String::new();
        for p in problems {
            let subject = match p["card"].as_str() {
                Some(card) => format!("card '{card}'"),
                None => "playbook".to_owned(),
            };
            let message = p["message"].as_str().unwrap_or("");
            match p["line"].as_u64() {
                Some(line) => {
                    out.push_str(&format!("{}:{line}: {subject}: {message}\n", self.file))
                }
                None => out.push_str(&format!("{}: {subject}: {message}\n", self.file)),
            }
        }
        out
    }
}
