//! `GET /widget.js`: the embeddable chat widget, one request for script and styles.
//!
//! `widget.js` and `widget.css` are compiled into the binary. At the first request they
//! are assembled once: the CSS goes into the script as a string literal, and comment lines
//! and indentation are dropped (a safe line-level trim, not a minifier: the sources keep no
//! multi-line strings), and a gzip copy is made at the best level (a fifth smaller than
//! what the `Compress` middleware's fast level makes on the fly). Clients that accept gzip
//! get that copy; the others the plain script, which the middleware may still compress.
//! The response carries a strong ETag so browsers revalidate cheaply.

use std::io::Write;
use std::sync::LazyLock;

use actix_web::http::header::{
    self, AcceptEncoding, ContentEncoding, ETag, Encoding, EntityTag, Header,
};
use actix_web::{HttpRequest, HttpResponse, get};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

const SCRIPT: &str = include_str!("widget.js");
const STYLES: &str = include_str!("widget.css");
/// Where the styles go in the script: a string literal the served file replaces.
const CSS_MARKER: &str = "'__CONCIERGE_CSS__'";
/// How long a browser may use its copy before revalidating with the ETag.
const MAX_AGE_SECONDS: u32 = 600;

/// The script as served, gzipped (when compression worked), with its ETag.
struct Served {
    body: String,
    gzip: Option<Vec<u8>>,
    etag: EntityTag,
}

static SERVED: LazyLock<Served> = LazyLock::new(|| {
    let body = assemble(SCRIPT, STYLES);
    let digest = Sha256::digest(body.as_bytes());
    let tag: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    Served {
        gzip: gzip(body.as_bytes()).ok(),
        body,
        etag: EntityTag::new_strong(tag),
    }
});

fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes)?;
    encoder.finish()
}

/// Does the request accept gzip (preferring it to no encoding)?
fn wants_gzip(req: &HttpRequest) -> bool {
    let supported = [Encoding::gzip(), Encoding::identity()];
    AcceptEncoding::parse(req)
        .ok()
        .and_then(|accept| accept.negotiate(supported.iter()))
        .is_some_and(|chosen| chosen == Encoding::gzip())
}

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
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::VARY, "Accept-Encoding"));
    if unchanged {
        return response.finish();
    }
    response.content_type("text/javascript; charset=utf-8");
    match &served.gzip {
        Some(gzipped) if wants_gzip(&req) => response
            .insert_header(ContentEncoding::Gzip)
            .body(gzipped.as_slice()),
        _ => response.body(served.body.as_str()),
    }
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
