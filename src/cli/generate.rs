//! `concierge playbook generate "DESCRIPTION"`: a valid playbook draft from a description
//! in words, written as YAML to standard output (or `--output FILE`); nothing is written
//! when the model's answers stay invalid or the provider fails.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::Value;

use crate::ai::openai::OpenAiCompatible;
use crate::ai::prompt::Context;
use crate::ai::{AiSettings, GenerateError, Generator, HOW_TO_CONFIGURE, Request};
use crate::playbook::check::check_document;
use crate::playbook::load::{Format, yaml};
use crate::playbook::model::Language;

/// What the command was given.
pub struct Options {
    pub description: String,
    pub draft: Option<PathBuf>,
    pub existing: Vec<PathBuf>,
    pub language: Option<Language>,
    pub output: Option<PathBuf>,
}

pub fn generate(options: Options) -> ExitCode {
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{}", message.trim_end());
            ExitCode::FAILURE
        }
    }
}

fn run(options: Options) -> Result<(), String> {
    let settings = crate::config::Options::load(None, |name| std::env::var(name).ok())
        .map_err(|e| format!("concierge: {e}"))
        .and_then(|o| {
            AiSettings::from_options(&o)
                .map_err(|e| format!("concierge: {}: {}", e.name, e.message))
        })?
        .ok_or_else(|| format!("concierge: {HOW_TO_CONFIGURE}"))?;
    let provider = OpenAiCompatible::new(&settings)
        .map_err(|e| format!("concierge: cannot build the HTTP client: {e}"))?;
    let generator = Generator::new(Arc::new(provider), settings.repair_rounds);
    let draft = options.draft.as_deref().map(read_draft).transpose()?;
    let mut existing_slugs = Vec::new();
    for file in &options.existing {
        let text = super::validate::read(file).map_err(|m| format!("{}: {m}", file.display()))?;
        if let Some(slug) = document(&text, file)
            .ok()
            .as_ref()
            .and_then(|v| v.get("slug"))
            .and_then(Value::as_str)
        {
            existing_slugs.push(slug.to_owned());
        }
    }
    let language = options
        .language
        .or_else(|| {
            let code = draft.as_ref()?.get("language")?.clone();
            serde_json::from_value(code).ok()
        })
        .unwrap_or_default();
    let request = Request {
        description: options.description,
        context: Context {
            existing_slugs,
            language,
            team_emails: Vec::new(),
            draft,
        },
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("concierge: cannot start the runtime: {e}"))?;
    let draft = runtime
        .block_on(generator.generate(&request))
        .map_err(|e| failure(&e))?;
    if let Some(diff) = &draft.diff {
        eprint!("{diff}");
    }
    eprintln!(
        "{}: valid, {} path(s), from {} after {} answer(s)",
        draft.playbook.slug,
        draft.paths.paths.len(),
        draft.model,
        draft.rounds
    );
    match &options.output {
        Some(path) => std::fs::write(path, &draft.yaml)
            .map_err(|e| format!("{}: cannot write the file: {e}", path.display())),
        None => std::io::stdout()
            .lock()
            .write_all(draft.yaml.as_bytes())
            .map_err(|e| format!("concierge: cannot write the playbook: {e}")),
    }
}

fn failure(error: &GenerateError) -> String {
    match error {
        GenerateError::Invalid { problems, .. } => {
            let mut out = format!("concierge: no playbook written: {error}:\n");
            for p in problems {
                out.push_str(&format!("answer: {}: {}\n", p.subject(), p.message));
            }
            out
        }
        other => format!("concierge: no playbook written: {other}"),
    }
}

/// A draft file as a JSON document, valid or not (a draft to change may have problems).
fn read_draft(path: &Path) -> Result<Value, String> {
    let text = super::validate::read(path).map_err(|m| format!("{}: {m}", path.display()))?;
    document(&text, path)
}

fn document(text: &str, path: &Path) -> Result<Value, String> {
    let format = Format::from_path(path);
    if let Ok(playbook) = check_document(text, format) {
        return serde_json::to_value(playbook).map_err(|e| e.to_string());
    }
    let value = match format {
        Format::Json => serde_json::from_str(text).map_err(|e| e.to_string()),
        Format::Yaml => yaml::parse(text, false)
            .map(|p| p.value)
            .map_err(|e| e.message),
    };
    value.map_err(|m| format!("{}: cannot read the playbook: {m}", path.display()))
}
