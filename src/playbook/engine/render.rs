//! Filling card templates for the places they end up: chat text, URLs, HTTP headers and
//! JSON bodies. Each place escapes the inserted values its own way, so what a visitor
//! typed stays a value and never changes the shape of a URL, a header or a JSON document.

use super::super::effect::HttpRequest;
use super::super::model::{HttpCard, MAX_HTTP_TIMEOUT};
use super::super::template::{self, Candidate, Part, Template};
use super::super::vars::Vars;

/// Chat text, subjects, titles: values inserted as they are (the widget shows them as text).
pub(super) fn text(src: &str, vars: &Vars) -> String {
    template::render(src, vars)
}

/// A URL: inserted values are percent-encoded, except a placeholder that opens the URL
/// (the whole base address taken from a variable).
pub(super) fn url(src: &str, vars: &Vars) -> String {
    render_escaped(src, vars, |out, value| {
        if out.is_empty() {
            out.push_str(value);
        } else {
            percent_encode(value, out);
        }
    })
}

/// An HTTP header value: line breaks in inserted values are dropped.
fn header(src: &str, vars: &Vars) -> String {
    render_escaped(src, vars, |out, value| {
        out.extend(value.chars().filter(|c| *c != '\r' && *c != '\n'));
    })
}

/// A request body. When the template is a JSON document, values are inserted escaped as
/// JSON string content (so they belong inside quotes in the template).
fn body(src: &str, vars: &Vars) -> String {
    let looks_like_json = matches!(src.trim_start().chars().next(), Some('{' | '['));
    if !looks_like_json {
        return text(src, vars);
    }
    render_escaped(src, vars, |out, value| {
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
        body: c.body.as_deref().map(|b| body(b, vars)),
        timeout_seconds: c.timeout_seconds().clamp(1, MAX_HTTP_TIMEOUT),
    }
}

/// Render with `insert(out, value)` adding each variable's value; quoted fallbacks and
/// literal text are the playbook author's own and go in as written. A template that does
/// not parse is used as written.
fn render_escaped(src: &str, vars: &Vars, insert: impl Fn(&mut String, &str)) -> String {
    let Ok(parsed) = Template::parse(src) else {
        return src.to_owned();
    };
    let mut out = String::with_capacity(src.len());
    for part in &parsed.parts {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Slot(candidates) => {
                for candidate in candidates {
                    match candidate {
                        Candidate::Quoted(q) => {
                            out.push_str(q);
                            break;
                        }
                        Candidate::Var(path) => {
                            if let Some(value) = vars.get_text(path) {
                                insert(&mut out, &value);
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

    #[test]
    fn url_values_are_percent_encoded() {
        assert_eq!(
            url("https://shop.example.com/orders/{{ vars.order }}", &vars()),
            "https://shop.example.com/orders/12%2F..%2Fadmin%3Fx%3D1%20%C3%A9"
        );
        assert_eq!(
            url("{{ vars.base }}/v1?q={{ vars.none | \"a b\" }}", &vars()),
            "https://api.example.com/v1?q=a b"
        );
    }

    #[test]
    fn header_values_lose_line_breaks() {
        assert_eq!(
            header("Bearer {{ person.name }}", &vars()),
            "Bearer Ada \"The\" CountessX-Evil: 1"
        );
    }

    #[test]
    fn json_bodies_escape_values() {
        let rendered = body(r#"{"name": "{{ person.name }}"}"#, &vars());
        let parsed: serde_json::Value = serde_json::from_str(&rendered).unwrap();
        assert_eq!(parsed["name"], json!("Ada \"The\" Countess\r\nX-Evil: 1"));
        assert_eq!(
            body("name={{ vars.base }}", &vars()),
            "name=https://api.example.com"
        );
    }
}
