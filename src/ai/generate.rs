//! Generate → validate → repair. The model's answer is read and validated by
//! [`check_document`], the command line's own check; while it has problems they go back
//! to the model, by card, for at most `repair_rounds` more answers. What leaves here is a
//! valid playbook (with its YAML, its paths and, for a change, the diff) or the last
//! problems — never an invalid or partial draft.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::prompt::{self, Context};
use super::provider::{ChatRequest, Message, Provider, ProviderError, Role};
use crate::playbook::check::check_document;
use crate::playbook::emit;
use crate::playbook::load::Format;
use crate::playbook::model::{Playbook, playbook_schema};
use crate::playbook::paths::{DEFAULT_LIMIT, PathList, paths};
use crate::playbook::validate::Problem;

/// Longest description accepted, in characters.
pub const MAX_DESCRIPTION: usize = 4000;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Request {
    pub description: String,
    pub context: Context,
}

/// A valid draft.
#[derive(Debug, Clone)]
pub struct Draft {
    pub playbook: Playbook,
    /// The playbook as a YAML file (read back, it is the same playbook).
    pub yaml: String,
    pub paths: PathList,
    /// For a change to a draft: the unified diff of its YAML.
    pub diff: Option<String>,
    /// Answers asked of the model (1 = valid on the first try).
    pub rounds: u32,
    pub model: String,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The description cannot be used (empty, too long).
    #[error("{0}")]
    Description(String),
    /// The provider gave no answer.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// Every answer had problems; these are the last answer's.
    #[error("the model's playbook still had {} problem(s) after {rounds} answer(s)", problems.len())]
    Invalid { problems: Vec<Problem>, rounds: u32 },
    /// A generation for the same company is already running.
    #[error("a playbook is already being generated for this company; wait for it to finish")]
    Busy,
}

/// A provider and how many repair rounds it gets.
pub struct Generator {
    provider: Arc<dyn Provider>,
    repair_rounds: u32,
    running: Mutex<HashSet<String>>,
}

impl Generator {
    pub fn new(provider: Arc<dyn Provider>, repair_rounds: u32) -> Generator {
        Generator {
            provider,
            repair_rounds,
            running: Mutex::new(HashSet::new()),
        }
    }

    pub fn model(&self) -> &str {
        self.provider.model()
    }

    /// As [`Generator::generate`], one at a time per `key` (a company).
    pub async fn generate_for(&self, key: &str, request: &Request) -> Result<Draft, GenerateError> {
        let _guard = RunGuard::start(&self.running, key).ok_or(GenerateError::Busy)?;
        self.generate(request).await
    }

    /// A valid draft for the description, or why there is none.
    pub async fn generate(&self, request: &Request) -> Result<Draft, GenerateError> {
        let description = request.description.trim();
        if description.is_empty() {
            return Err(GenerateError::Description(
                "describe the flow in a few words first".into(),
            ));
        }
        if description.chars().count() > MAX_DESCRIPTION {
            return Err(GenerateError::Description(format!(
                "the description is longer than {MAX_DESCRIPTION} characters"
            )));
        }
        let schema = playbook_schema();
        let mut chat = ChatRequest {
            messages: vec![
                Message::new(Role::System, prompt::system(&schema)),
                Message::new(Role::User, prompt::request(description, &request.context)),
            ],
            schema: ("playbook", schema),
        };
        let mut rounds = 0;
        loop {
            rounds += 1;
            let answer = self.provider.complete(&chat).await?;
            match read_answer(&answer, &request.context) {
                Ok(playbook) => {
                    tracing::info!(model = self.model(), rounds, "generated a valid playbook");
                    return Ok(self.draft(playbook, &request.context, rounds));
                }
                Err(problems) if rounds > self.repair_rounds => {
                    tracing::info!(
                        model = self.model(),
                        rounds,
                        problems = problems.len(),
                        "the generated playbook stayed invalid"
                    );
                    return Err(GenerateError::Invalid { problems, rounds });
                }
                Err(problems) => {
                    chat.messages.push(Message::new(Role::Assistant, answer));
                    chat.messages
                        .push(Message::new(Role::User, prompt::repair(&problems)));
                }
            }
        }
    }

    fn draft(&self, playbook: Playbook, context: &Context, rounds: u32) -> Draft {
        let yaml = yaml_file(&playbook);
        let diff = context.draft.as_ref().map(|old| {
            let before = emit::value_to_yaml(old).unwrap_or_else(|_| old.to_string());
            similar::TextDiff::from_lines(&before, &yaml)
                .unified_diff()
                .context_radius(3)
                .header("draft", "generated")
                .to_string()
        });
        Draft {
            paths: paths(&playbook, DEFAULT_LIMIT),
            playbook,
            yaml,
            diff,
            rounds,
            model: self.model().to_owned(),
        }
    }
}

/// The YAML of a valid playbook, checked to read back as the same playbook; the JSON
/// document (also YAML) in the unexpected case that it does not.
fn yaml_file(playbook: &Playbook) -> String {
    match emit::to_yaml(playbook) {
        Ok(text) if check_document(&text, Format::Yaml).as_ref() == Ok(playbook) => text,
        _ => serde_json::to_string_pretty(playbook).unwrap_or_default() + "\n",
    }
}

/// The JSON object in an answer: the whole answer, or what Markdown fences or a sentence
/// around it enclose.
fn json_text(answer: &str) -> &str {
    let text = answer.trim();
    let text = match text.strip_prefix("```") {
        Some(rest) => {
            let body = rest.split_once('\n').map_or(rest, |(_, b)| b);
            body.rsplit_once("```").map_or(body, |(b, _)| b).trim()
        }
        None => text,
    };
    if text.starts_with('{') {
        return text;
    }
    match (text.find('{'), text.rfind('}')) {
        (Some(start), Some(end)) if start < end => &text[start..=end],
        _ => text,
    }
}

/// The playbook in an answer, or every problem with it: the validator's, and the
/// company's (a slug another playbook has).
fn read_answer(answer: &str, context: &Context) -> Result<Playbook, Vec<Problem>> {
    let playbook = check_document(json_text(answer), Format::Json).map_err(|report| {
        report
            .problems
            .into_iter()
            .map(|f| f.problem)
            .collect::<Vec<_>>()
    })?;
    let own_slug = context
        .draft
        .as_ref()
        .and_then(|d| d.get("slug"))
        .and_then(Value::as_str);
    if own_slug != Some(playbook.slug.as_str()) && context.existing_slugs.contains(&playbook.slug) {
        return Err(vec![Problem::playbook(
            "/slug",
            format!(
                "slug '{}' belongs to another playbook of the company; choose another",
                playbook.slug
            ),
        )]);
    }
    Ok(playbook)
}

/// A key marked running until dropped.
struct RunGuard<'a> {
    set: &'a Mutex<HashSet<String>>,
    key: String,
}

impl<'a> RunGuard<'a> {
    fn start(set: &'a Mutex<HashSet<String>>, key: &str) -> Option<RunGuard<'a>> {
        let mut running = set.lock().unwrap_or_else(|e| e.into_inner());
        running.insert(key.to_owned()).then(|| RunGuard {
            set,
            key: key.to_owned(),
        })
    }
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        let mut running = self.set.lock().unwrap_or_else(|e| e.into_inner());
        running.remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_found_inside_fences_and_sentences() {
        assert_eq!(json_text(" {\"a\":1} "), "{\"a\":1}");
        assert_eq!(json_text("```json\n{\"a\":1}\n```"), "{\"a\":1}");
        assert_eq!(json_text("Here it is:\n{\"a\":{}}\nEnjoy!"), "{\"a\":{}}");
        assert_eq!(json_text("no json"), "no json");
    }

    #[test]
    fn a_taken_slug_is_a_problem_unless_it_is_the_drafts_own() {
        let src = include_str!("../../playbooks/lead-qualification.yaml");
        let playbook = check_document(src, Format::Yaml).unwrap();
        let answer = serde_json::to_string(&playbook).unwrap();
        let mut context = Context {
            existing_slugs: vec!["lead-qualification".into()],
            ..Context::default()
        };
        let problems = read_answer(&answer, &context).unwrap_err();
        assert_eq!(problems[0].pointer, "/slug");
        context.draft = Some(prompt::draft_value(&playbook));
        assert_eq!(read_answer(&answer, &context).unwrap(), playbook);
    }
}
