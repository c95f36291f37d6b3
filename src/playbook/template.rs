//! Card text templates: `{{ path }}` and `{{ path | fallback | "quoted text" }}`.
//!
//! Values are inserted as text, never as markup: the result is rich-text source whose
//! inserted parts the renderer treats like anything else the visitor could have typed.
//!
//! Ours rather than a template engine's (askama, minijinja, handlebars): the language is
//! deliberately tiny — paths and fallbacks, no logic, no markup — so the validator can
//! check every placeholder of a document at load time and name its card; an engine would
//! accept far more than the format allows and render HTML where rich-text source is due.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::vars::Vars;

/// A template field of a card: the text as written, and its parsed form, made once when
/// the playbook is loaded (or the field is built) so that no step parses it again. It
/// reads, compares and serialises as its text.
#[derive(Clone)]
pub struct Text {
    src: String,
    /// `None` when the text does not parse: it is then used as written.
    parsed: Option<Template>,
}

impl Text {
    pub fn new(src: impl Into<String>) -> Text {
        let src = src.into();
        let parsed = Template::parse(&src).ok();
        Text { src, parsed }
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.src
    }

    /// The parsed template; `None` when the text is not a valid template.
    pub fn template(&self) -> Option<&Template> {
        self.parsed.as_ref()
    }
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        &self.src
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.src
    }
}

impl From<String> for Text {
    fn from(src: String) -> Text {
        Text::new(src)
    }
}

impl From<&str> for Text {
    fn from(src: &str) -> Text {
        Text::new(src)
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.src
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.src == other.src
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.src == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.src == *other
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.src, f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.src)
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.src)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text, D::Error> {
        String::deserialize(deserializer).map(Text::new)
    }
}

impl JsonSchema for Text {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        String::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        String::json_schema(generator)
    }
}

/// A parsed template: literal text and placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    /// The first candidate that has a value wins.
    Slot(Vec<Candidate>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Candidate {
    Var(String),
    Quoted(String),
}

/// Why a template could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("`{{{{` without a closing `}}}}`")]
    Unclosed,
    #[error("empty placeholder `{{{{ }}}}`")]
    Empty,
    #[error("`{0}` is not a variable name or a quoted text")]
    BadCandidate(String),
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = src;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or(TemplateError::Unclosed)?;
            parts.push(Part::Slot(parse_slot(&after[..close])?));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// Every variable the template names, fallbacks included, with whether a quoted
    /// fallback guarantees a value for its slot.
    pub fn slots(&self) -> impl Iterator<Item = &[Candidate]> {
        self.parts.iter().filter_map(|p| match p {
            Part::Slot(c) => Some(c.as_slice()),
            Part::Text(_) => None,
        })
    }

    /// Fill the template from the variables. A slot with no value (or only empty ones:
    /// empty text, list or set) renders empty.
    pub fn render(&self, vars: &Vars) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Slot(candidates) => {
                    for c in candidates {
                        match c {
                            Candidate::Quoted(q) => {
                                out.push_str(q);
                                break;
                            }
                            Candidate::Var(path) => {
                                if let Some(v) = vars.template_text(path) {
                                    out.push_str(&v);
                                    break;
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

/// Render a template source directly; an unparsable template renders as written.
pub fn render(src: &str, vars: &Vars) -> String {
    match Template::parse(src) {
        Ok(t) => t.render(vars),
        Err(_) => src.to_owned(),
    }
}

fn parse_slot(inner: &str) -> Result<Vec<Candidate>, TemplateError> {
    let mut out = Vec::new();
    for piece in split_pipes(inner) {
        let piece = piece.trim();
        if piece.is_empty() {
            return Err(TemplateError::Empty);
        }
        if let Some(q) = unquote(piece) {
            out.push(Candidate::Quoted(q));
        } else if is_path(piece) {
            out.push(Candidate::Var(piece.to_owned()));
        } else {
            return Err(TemplateError::BadCandidate(piece.to_owned()));
        }
    }
    if out.is_empty() {
        return Err(TemplateError::Empty);
    }
    Ok(out)
}

/// Split on `|` outside quotes.
fn split_pipes(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quote: Option<char> = None;
    let mut start = 0;
    for (i, ch) in s.char_indices() {
        match (quote, ch) {
            (None, '"' | '\'') => quote = Some(ch),
            (Some(q), c) if c == q => quote = None,
            (None, '|') => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn unquote(s: &str) -> Option<String> {
    let first = s.chars().next()?;
    if (first == '"' || first == '\'') && s.len() >= 2 && s.ends_with(first) {
        Some(s[1..s.len() - 1].replace("\\\"", "\""))
    } else {
        None
    }
}

fn is_path(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|seg| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Text(t) => f.write_str(t)?,
                Part::Slot(c) => {
                    f.write_str("{{ ")?;
                    for (i, cand) in c.iter().enumerate() {
                        if i > 0 {
                            f.write_str(" | ")?;
                        }
                        match cand {
                            Candidate::Var(v) => f.write_str(v)?,
                            Candidate::Quoted(q) => write!(f, "\"{q}\"")?,
                        }
                    }
                    f.write_str(" }}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_value_then_fallbacks() {
        let mut vars = Vars::default();
        let t = Template::parse("Hi {{ person.name | org.name | \"there\" }}!").unwrap();
        assert_eq!(t.render(&vars), "Hi there!");
        vars.set("org.name", json!("Acme"));
        assert_eq!(t.render(&vars), "Hi Acme!");
        vars.set("person.name", json!("Ada"));
        assert_eq!(t.render(&vars), "Hi Ada!");
    }

    #[test]
    fn pipe_inside_quotes_is_text() {
        let t = Template::parse("{{ vars.x | \"a|b\" }}").unwrap();
        assert_eq!(t.render(&Vars::default()), "a|b");
    }

    #[test]
    fn score_and_tags_render() {
        let mut vars = Vars::default();
        vars.add_score(25);
        vars.add_tag("enterprise");
        vars.add_tag("b2b");
        assert_eq!(render("{{score}} {{ tags }}", &vars), "25 b2b, enterprise");
    }

    #[test]
    fn empty_text_lists_and_sets_use_the_fallback() {
        let mut vars = Vars::default();
        assert_eq!(render("{{ tags | \"none\" }}", &vars), "none");
        vars.set("vars.topics", json!([]));
        vars.set("vars.note", json!(""));
        assert_eq!(render("{{ vars.topics | \"none\" }}", &vars), "none");
        assert_eq!(render("{{ vars.note | vars.topics | \"-\" }}", &vars), "-");
        vars.add_tag("b2b");
        assert_eq!(render("{{ tags | \"none\" }}", &vars), "b2b");
    }

    #[test]
    fn errors() {
        assert_eq!(Template::parse("{{ x"), Err(TemplateError::Unclosed));
        assert_eq!(Template::parse("{{ }}"), Err(TemplateError::Empty));
        assert!(matches!(
            Template::parse("{{ a b }}"),
            Err(TemplateError::BadCandidate(_))
        ));
    }

    #[test]
    fn markup_in_values_stays_text_in_the_source() {
        let mut vars = Vars::default();
        vars.set("person.name", json!("<script>x</script>"));
        assert_eq!(render("{{person.name}}", &vars), "<script>x</script>");
    }
}
