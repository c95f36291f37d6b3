//! `GET /widget.js`: the embeddable chat widget, one request for script and styles.
//!
//! `widget.js` and `widget.css` are compiled into the binary. At the first request they
//! are assembled once: the CSS goes into the script as a string literal, and comment lines
//! and indentation are dropped (a safe line-level trim, not a minifier: the sources keep no
//! multi-line strings). Compression is left to the app's `Compress` middleware; the
//! response carries a strong ETag so browsers revalidate cheaply.

use std::sync::LazyLock;

use actix_web::http::header::{self, ETag, EntityTag};
use actix_web::{HttpRequest, HttpResponse, get};
use sha2::{Digest, Sha256};

const SCRIPT: &str = include_str!("widget.js");
const STYLES: &str = include_str!("widget.css");
/// Where the styles go in the script: a string literal the served file replaces.
const CSS_MARKER: &str = "'__CONCIERGE_CSS__'";
/// How long a browser may use its copy before revalidating with the ETag.
const MAX_AGE_SECONDS: u32 = 600;

/// The script as served, with its ETag.
struct Served {
    body: String,
    etag: EntityTag,
}

static SERVED: LazyLock<Served> = LazyLock::new(|| {
    let body = assemble(SCRIPT, STYLES);
    let digest = Sha256::digest(body.as_bytes());
    let tag: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    Served {
        body,
        etag: EntityTag::new_strong(tag),
    }
});

/// The widget script as the app serves it (also what the size test measures).
pub fn script() -> &'static str {
    &SERVED.body
}

#[get("/widget.js")]
pub async fn widget_js(req: HttpRequest) -> HttpResponse {
    let served = &*SERVED;
    let cache = header::CacheControl(vec![
        header::CacheDirective::Public,
        header::CacheDirective::MaxAge(MAX_AGE_SECONDS),
    ]);
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == "*" || t.trim() == served.etag.to_string())
        });
    let mut response = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header(cache)
        .insert_header(ETag(served.etag.clone()))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if unchanged {
        return response.finish();
    }
    response
        .content_type("text/javascript; charset=utf-8")
        .body(served.body.as_str())
}

/// The served script: `script` with comment lines and indentation dropped and `css`
/// (compacted) in place of [`CSS_MARKER`].
fn assemble(script: &str, css: &str) -> String {
    let css = serde_json::Value::String(compact_css(css)).to_string();
    let js: Vec<&str> = script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .collect();
    js.join("\n").replacen(CSS_MARKER, &css, 1)
}

/// `css` without comments, indentation and line breaks.
fn compact_css(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let mut rest = css;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start + 2..]
            .find("*/")
            .map_or("", |end| &rest[start + 2 + end + 2..]);
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_are_inlined_once_and_comment_lines_dropped() {
        let served = assemble(
            "// about\n(function () {\n  // note\n  var css = '__CONCIERGE_CSS__';\n  var url = 'a//b';\n})();\n",
            "/* c */\n.a {\n  color: red; /* x */\n}\n",
        );
        assert_eq!(
            served,
            "(function () {\nvar css = \".a { color: red; }\";\nvar url = 'a//b';\n})();"
        );
    }

    #[test]
    fn the_real_widget_carries_its_styles() {
        assert_eq!(SCRIPT.matches(CSS_MARKER).count(), 1);
        let served = script();
        assert!(!served.contains("__CONCIERGE_CSS__"));
        assert!(served.contains(".cnc-launcher"));
        assert!(!served.contains("/*"), "CSS comments are dropped");
    }
}
