//! Filling card templates for the places they end up: chat text, URLs, HTTP headers and
//! JSON bodies. Each place escapes the inserted values its own way, so what a visitor
//! typed stays a value and never changes the shape of a URL, a header or a JSON document.

use super::super::effect::HttpRequest;
use super::super::model::{HttpCard, MAX_HTTP_TIMEOUT};
use serde_json::Value;

use super::super::rich;
#[cfg(any(doc, test))]
use super::super::template::Template;
use super::super::template::{Candidate, Part, Text};
use super::super::vars::{Vars, value_text};

/// Subjects, titles, placeholders, e-mail bodies: plain text, values inserted as they
/// are.
pub(super) fn text(t: &Text, vars: &Vars) -> String {
    render_parsed(t, vars, |out, value| out.push_str(value))
}

/// A set card's text value (a template kept inside the JSON value, so not parsed at
/// load): plain text, values inserted as they are.
pub(super) fn text_source(src: &str, vars: &Vars) -> String {
    render_escaped(src, vars, |out, value| out.push_str(value))
}

/// A chat message (rich text): the author's markup stays markup, inserted values have
/// their rich-text syntax escaped so that they show as typed and never become a link or
/// an image.
pub(super) fn chat(t: &Text, vars: &Vars) -> String {
    render_parsed(t, vars, rich::escape_value)
}

/// A URL: inserted values are percent-encoded, except a placeholder that opens the URL
/// (the whole base address taken from a variable).
pub(super) fn url(t: &Text, vars: &Vars) -> String {
    render_parsed(t, vars, |out, value| {
        if out.is_empty() {
            out.push_str(value);
        } else {
            percent_encode(value, out);
        }
    })
}

/// An HTTP header value: line breaks in inserted values are dropped.
fn header(t: &Text, vars: &Vars) -> String {
    render_parsed(t, vars, |out, value| {
        out.extend(value.chars().filter(|c| *c != '\r' && *c != '\n'));
    })
}

/// A request body. When the template is a JSON document, values are inserted escaped as
/// JSON string content (so they belong inside quotes in the template).
fn body(t: &Text, vars: &Vars) -> String {
    let looks_like_json = matches!(t.trim_start().chars().next(), Some('{' | '['));
    if !looks_like_json {
        return text(t, vars);
    }
    render_parsed(t, vars, |out, value| {
        let quoted = serde_json::Value::String(value.to_owned()).to_string();
        out.push_str(&quoted[1..quoted.len() - 1]);
    })
}

/// The request an http card makes.
pub(super) fn http_request(card_id: &str, c: &HttpCard, vars: &Vars) -> HttpRequest {
    HttpRequest {
        card: card_id.to_owned(),
        method: c.method,
        url: url(&c.url, vars),
        headers: c
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), header(value, vars)))
            .collect(),
        body: c.body.as_ref().map(|b| body(b, vars)),
        timeout_seconds: c.timeout_seconds().clamp(1, MAX_HTTP_TIMEOUT),
    }
}

/// Render a card's template from the form parsed when the playbook was loaded, with
/// `insert(out, value)` adding each variable's value; literal text and quoted fallbacks
/// are the playbook author's own and go in as written. A text that is no valid template
/// is used as written.
fn render_parsed(t: &Text, vars: &Vars, insert: impl Fn(&mut String, &str)) -> String {
    let Some(template) = t.template() else {
        return t.as_str().to_owned();
    };
    if let [Part::Text(literal)] = template.parts.as_slice() {
        return literal.clone();
    }
    let mut out = String::with_capacity(t.len() + 16);
    for part in &template.parts {
        match part {
            Part::Text(literal) => out.push_str(literal),
            Part::Slot(candidates) => {
                for candidate in candidates {
                    match candidate {
                        Candidate::Quoted(quoted) => {
                            out.push_str(quoted);
                            break;
                        }
                        Candidate::Var(path) => {
                            if insert_var(vars, path, &mut out, &insert) {
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

/// Render a template source (the grammar of [`Template`]) directly, for the templates
/// that are not parsed at load (a set card's text values); as [`render_parsed`]. A
/// template that does not parse is used as written.
fn render_escaped(src: &str, vars: &Vars, insert: impl Fn(&mut String, &str)) -> String {
    let mut out = String::with_capacity(src.len() + 16);
    match render_into(src, vars, &mut out, &insert) {
        Some(()) => out,
        None => src.to_owned(),
    }
}

/// `None` when `src` is not a valid template.
fn render_into(
    src: &str,
    vars: &Vars,
    out: &mut String,
    insert: &impl Fn(&mut String, &str),
) -> Option<()> {
    let mut rest = src;
    while let Some(open) = find_double(rest, b'{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = find_double(after, b'}')?;
        render_slot(&after[..close], vars, out, insert)?;
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Some(())
}

/// One `{{ a | b | "c" }}`: the first candidate with a value. Every candidate must be a
/// variable path or a quoted text, even those after the one used.
fn render_slot(
    inner: &str,
    vars: &Vars,
    out: &mut String,
    insert: &impl Fn(&mut String, &str),
) -> Option<()> {
    let mut done = false;
    let mut start = 0;
    for end in pipes(inner).chain(std::iter::once(inner.len())) {
        let piece = trim(&inner[start..end]);
        start = end + 1;
        if piece.is_empty() {
            return None;
        }
        if let Some(quoted) = unquote(piece) {
            if !done {
                if quoted.as_bytes().windows(2).any(|w| w == b"\\\"") {
                    out.push_str(&quoted.replace("\\\"", "\""));
                } else {
                    out.push_str(quoted);
                }
                done = true;
            }
        } else if is_path(piece) {
            if !done {
                done = insert_var(vars, piece, out, insert);
            }
        } else {
            return None;
        }
    }
    Some(())
}

/// Positions of the `|` outside quotes. (Quotes and `|` are ASCII, so a byte scan is
/// exact on UTF-8.)
fn pipes(inner: &str) -> impl Iterator<Item = usize> + '_ {
    let mut quote = 0u8;
    inner.bytes().enumerate().filter_map(move |(i, b)| {
        if quote != 0 {
            if b == quote {
                quote = 0;
            }
            None
        } else if b == b'"' || b == b'\'' {
            quote = b;
            None
        } else {
            (b == b'|').then_some(i)
        }
    })
}

/// Insert the variable's text; false when it has no value or an empty one (text, list, set).
fn insert_var(
    vars: &Vars,
    path: &str,
    out: &mut String,
    insert: &impl Fn(&mut String, &str),
) -> bool {
    match path {
        "score" => {
            // Written on the stack: no allocation for the number's text.
            let mut digits = [0u8; 24];
            let mut cursor = std::io::Cursor::new(&mut digits[..]);
            let _ = std::io::Write::write_fmt(&mut cursor, format_args!("{}", vars.score));
            let len = usize::try_from(cursor.position()).unwrap_or(0);
            insert(out, std::str::from_utf8(&digits[..len]).unwrap_or_default());
        }
        "tags" => match vars.template_text(path) {
            Some(text) => insert(out, &text),
            None => return false,
        },
        _ => match vars.values.get(path) {
            None | Some(Value::Null) => return false,
            Some(Value::String(s)) if s.is_empty() => return false,
            Some(Value::String(s)) => insert(out, s),
            Some(other) => match value_text(other) {
                text if text.is_empty() => return false,
                text => insert(out, &text),
            },
        },
    }
    true
}

fn unquote(s: &str) -> Option<&str> {
    let first = s.chars().next()?;
    ((first == '"' || first == '\'') && s.len() >= 2 && s.ends_with(first))
        .then(|| &s[1..s.len() - 1])
}

/// Where `{{` (or `}}`) first occurs; a byte scan, cheaper than a substring search here.
fn find_double(s: &str, byte: u8) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut from = 0;
    while let Some(i) = bytes[from..].iter().position(|b| *b == byte) {
        let at = from + i;
        if bytes.get(at + 1) == Some(&byte) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Dot-separated segments of `[A-Za-z0-9_-]`, none empty.
fn is_path(s: &str) -> bool {
    let mut after_dot = true;
    for b in s.bytes() {
        if b == b'.' {
            if after_dot {
                return false;
            }
            after_dot = true;
        } else if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            after_dot = false;
        } else {
            return false;
        }
    }
    !after_dot
}

/// `str::trim`, skipping the Unicode tables when what is left is plain ASCII at both ends.
fn trim(s: &str) -> &str {
    let t = s.trim_ascii();
    let plain = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_graphic());
    if t.is_empty() || plain(t.as_bytes().first()) && plain(t.as_bytes().last()) {
        t
    } else {
        s.trim()
    }
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
fn percent_encode(value: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Vars {
        let mut v = Vars::default();
        v.set("vars.order", json!("12/../admin?x=1 é"));
        v.set("vars.base", json!("https://api.example.com"));
        v.set("person.name", json!("Ada \"The\" Countess\r\nX-Evil: 1"));
        v
    }

    /// Template-ish sources: placeholders with valid and invalid candidates, stray braces.
    fn template_source() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        const CANDIDATES: [&str; 16] = [
            "\u{a0}a\u{2003}",
            "\u{2003}",
            " a ",
            "a.b",
            "b",
            "score",
            "tags",
            "\"x\"",
            "'y'",
            "\"q\\\"q\"",
            "\"a|b\"",
            "a b",
            "",
            "!",
            "'open",
            "vars.none",
        ];
        const TEXT: [&str; 6] = ["Hi ", "{{", "}}", "|", "-", "{"];
        let slot = prop::collection::vec(prop::sample::select(&CANDIDATES[..]), 1..4)
            .prop_map(|c| format!("{{{{{}}}}}", c.join("|")));
        let piece = prop_oneof![
            slot,
            prop::sample::select(&TEXT[..]).prop_map(str::to_owned)
        ];
        prop_oneof![
            prop::collection::vec(piece, 0..6).prop_map(|p| p.concat()),
            "[a-z. |'\"\\\\{}]{0,40}",
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Both renderers, of the parsed form and of the source, follow the template
        /// grammar exactly.
        #[test]
        fn renders_like_the_parsed_template(src in template_source()) {
            let mut vars = vars();
            vars.set("a", json!("A"));
            vars.set("a.b", json!(3));
            vars.set("b", json!([]));
            vars.set("vars.none", json!(""));
            vars.add_tag("t");
            let expected = match Template::parse(&src) {
                Ok(t) => t.render(&vars),
                Err(_) => src.clone(),
            };
            proptest::prop_assert_eq!(text(&Text::new(src.clone()), &vars), expected.clone());
            proptest::prop_assert_eq!(text_source(&src, &vars), expected);
        }
    }

    #[test]
    fn chat_values_are_text_and_the_authors_markup_stays() {
        let mut vars = vars();
        vars.set(
            "person.name",
            json!("[Verify your account](https://evil.example/login)"),
        );
        vars.set("vars.pic", json!("![x](https://evil.example/p.png)"));
        let src = Text::new("Hi **{{ person.name }}** {{ vars.pic }} [help](https://acme.test)");
        let html = rich::to_html(&chat(&src, &vars));
        assert_eq!(
            html,
            "Hi <strong>[Verify your account](https://evil.example/login)</strong> \
             ![x](https://evil.example/p.png) <a href=\"https://acme.test/\" target=\"_blank\" \
             rel=\"noopener noreferrer\">help</a>"
        );
        // Inserted as they are, the same values would be a live link and an outside image.
        let raw = rich::to_html(&text(&src, &vars));
        assert!(raw.contains("href=\"https://evil.example/login\""), "{raw}");
        assert!(
            raw.contains("<img src=\"https://evil.example/p.png\""),
            "{raw}"
        );
    }

    #[test]
    fn url_values_are_percent_encoded() {
        assert_eq!(
            url(
                &Text::from("https://shop.example.com/orders/{{ vars.order }}"),
                &vars()
            ),
            "https://shop.example.com/orders/12%2F..%2Fadmin%3Fx%3D1%20%C3%A9"
        );
        assert_eq!(
            url(
                &Text::from("{{ vars.base }}/v1?q={{ vars.none | \"a b\" }}"),
                &vars()
            ),
            "https://api.example.com/v1?q=a b"
        );
    }

    #[test]
    fn header_values_lose_line_breaks() {
        assert_eq!(
            header(&Text::from("Bearer {{ person.name }}"), &vars()),
            "Bearer Ada \"The\" CountessX-Evil: 1"
        );
    }

    #[test]
    fn json_bodies_escape_values() {
        let rendered = body(&Text::from(r#"{"name": "{{ person.name }}"}"#), &vars());
        let parsed: serde_json::Value = serde_json::from_str(&rendered).unwrap();
        assert_eq!(parsed["name"], json!("Ada \"The\" Countess\r\nX-Evil: 1"));
        assert_eq!(
            body(&Text::from("name={{ vars.base }}"), &vars()),
            "name=https://api.example.com"
        );
    }
}
