//! The rich-text subset of bot, rep and playbook messages as safe HTML, for places outside
//! the widget (the CRM note). The subset is the widget's (`rich()` in `widget.js`, which
//! builds the same with DOM calls): `**bold**`, `*italic*`, `[label](url)`, `![alt](url)`,
//! lines starting with `- ` as a list, and line breaks. A backslash before one of
//! `` \ * [ ] ( ) ! - `` makes that character plain text: [`escape_value`] uses it so that a
//! variable's value (what a visitor typed) inserted into a message stays text.
//!
//! [`to_html`] and [`plain_html`] are the only functions that turn message text into HTML.
//! Every piece of text is escaped; the only markup is the fixed set of tags above; the
//! only attribute copied from the source is a URL that parsed as an absolute http, https,
//! mailto or tel address (images: http or https) and was written back by the URL parser.
//! Anything else — raw HTML, `javascript:` links, relative links — stays visible text.
//! The markup subset is ours (a widget-sized subset with its own rules, not Markdown), so
//! it is parsed here rather than by a Markdown crate.

use std::fmt::Write;

/// Characters a backslash turns into plain text.
const ESCAPABLE: &[char] = &['\\', '*', '[', ']', '(', ')', '!', '-'];
const LINK_SCHEMES: [&str; 4] = ["http", "https", "mailto", "tel"];
const IMAGE_SCHEMES: [&str; 2] = ["http", "https"];

/// Rich-text source as safe HTML.
pub fn to_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_list = false;
    let mut prev_text = false;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(item) = list_item(line) {
            if !in_list {
                out.push_str("<ul>");
                in_list = true;
            }
            out.push_str("<li>");
            inline(&mut out, item);
            out.push_str("</li>");
            prev_text = false;
            continue;
        }
        if in_list {
            out.push_str("</ul>");
            in_list = false;
        }
        if prev_text {
            out.push_str("<br>");
        }
        inline(&mut out, line);
        prev_text = true;
    }
    if in_list {
        out.push_str("</ul>");
    }
    out
}

/// Text shown exactly as typed (what a visitor wrote): escaped, line breaks kept.
pub fn plain_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push_str("<br>");
        }
        escape_into(&mut out, line.strip_suffix('\r').unwrap_or(line));
    }
    out
}

/// Add `value` to rich-text source so that it reads as the same text and forms no markup,
/// alone or with the text around it: every `\\`, `*`, `[` and `]` escaped, and a `-`
/// starting a line or a `!` ending the value (before an author's `[`).
pub fn escape_value(out: &mut String, value: &str) {
    let mut line_start = true;
    let last = value.len().saturating_sub(1);
    for (i, c) in value.char_indices() {
        let escape = match c {
            '\\' | '*' | '[' | ']' => true,
            '-' => line_start,
            '!' => i == last,
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
        if c == '\n' {
            line_start = true;
        } else if !c.is_whitespace() {
            line_start = false;
        }
    }
}

/// `- item` (after optional blanks): the item.
fn list_item(line: &str) -> Option<&str> {
    line.trim_start().strip_prefix("- ")
}

/// One line's inline markup. At each position the first construct that matches wins, in
/// the widget's order: image, link, bold, italic.
fn inline(out: &mut String, s: &str) {
    let mut plain_from = 0;
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        if let Some(c) = escaped(rest).filter(|c| ESCAPABLE.contains(c)) {
            escape_into(out, &s[plain_from..i]);
            escape_into(out, c.encode_utf8(&mut [0; 4]));
            i += 1 + c.len_utf8();
            plain_from = i;
            continue;
        }
        let found = image(rest)
            .or_else(|| link(rest))
            .or_else(|| emphasis(rest, "**", "strong"))
            .or_else(|| italic(rest));
        match found {
            Some((len, piece)) => {
                escape_into(out, &s[plain_from..i]);
                piece.write(out);
                i += len;
                plain_from = i;
            }
            None => i += rest.chars().next().map_or(1, char::len_utf8),
        }
    }
    escape_into(out, &s[plain_from..]);
}

/// A matched construct.
enum Piece<'a> {
    Image { alt: &'a str, url: Option<String> },
    Link { label: &'a str, url: Option<String> },
    Wrap { tag: &'static str, inner: &'a str },
}

impl Piece<'_> {
    fn write(&self, out: &mut String) {
        match self {
            Piece::Image {
                alt,
                url: Some(url),
            } => {
                out.push_str("<img src=\"");
                escape_into(out, url);
                out.push_str("\" alt=\"");
                escape_into(out, &unescape(alt));
                out.push_str("\">");
            }
            Piece::Image { alt, url: None } => escape_into(out, &unescape(alt)),
            Piece::Link {
                label,
                url: Some(url),
            } => {
                out.push_str("<a href=\"");
                escape_into(out, url);
                out.push_str("\" target=\"_blank\" rel=\"noopener noreferrer\">");
                inline(out, label);
                out.push_str("</a>");
            }
            Piece::Link { label, url: None } => inline(out, label),
            Piece::Wrap { tag, inner } => {
                let _ = write!(out, "<{tag}>");
                inline(out, inner);
                let _ = write!(out, "</{tag}>");
            }
        }
    }
}

/// `![alt](url)`: alt without `]`, url without `)` or blanks.
fn image(s: &str) -> Option<(usize, Piece<'_>)> {
    let rest = s.strip_prefix("![")?;
    let (alt, url, len) = bracket_paren(rest, true)?;
    Some((
        2 + len,
        Piece::Image {
            alt,
            url: checked_url(&unescape(url), &IMAGE_SCHEMES),
        },
    ))
}

/// `[label](url)`: a non-empty label without `]`.
fn link(s: &str) -> Option<(usize, Piece<'_>)> {
    let rest = s.strip_prefix('[')?;
    let (label, url, len) = bracket_paren(rest, false)?;
    Some((
        1 + len,
        Piece::Link {
            label,
            url: checked_url(&unescape(url), &LINK_SCHEMES),
        },
    ))
}

/// After the opening `[`: `TEXT](URL)` → (text, url, bytes consumed).
fn bracket_paren(rest: &str, empty_ok: bool) -> Option<(&str, &str, usize)> {
    let close = find_unescaped(rest, 0, |t| t.starts_with(']'))?;
    let text = &rest[..close];
    if text.is_empty() && !empty_ok {
        return None;
    }
    let after = rest[close + 1..].strip_prefix('(')?;
    let end = find_unescaped(after, 0, |t| {
        t.starts_with(|c: char| c == ')' || c.is_whitespace())
    })?;
    if end == 0 || !after[end..].starts_with(')') {
        return None;
    }
    Some((text, &after[..end], close + 2 + end + 1))
}

/// `**inner**` with the first closing marker after at least one character.
fn emphasis<'a>(s: &'a str, marker: &str, tag: &'static str) -> Option<(usize, Piece<'a>)> {
    let rest = s.strip_prefix(marker)?;
    let first = match escaped(rest) {
        Some(c) => 1 + c.len_utf8(),
        None => rest.chars().next()?.len_utf8(),
    };
    let close = find_unescaped(rest, first, |t| t.starts_with(marker))?;
    Some((
        2 * marker.len() + close,
        Piece::Wrap {
            tag,
            inner: &rest[..close],
        },
    ))
}

/// `*inner*`: inner starts with neither `*` nor a blank and holds no `*`.
fn italic(s: &str) -> Option<(usize, Piece<'_>)> {
    let rest = s.strip_prefix('*')?;
    let first = rest.chars().next()?;
    if first == '*' || first.is_whitespace() {
        return None;
    }
    let close = find_unescaped(rest, 0, |t| t.starts_with('*'))?;
    Some((
        close + 2,
        Piece::Wrap {
            tag: "em",
            inner: &rest[..close],
        },
    ))
}

/// The character a backslash at the start of `s` escapes (any character: a backslash
/// always pairs with the next one, as in the widget's pattern).
fn escaped(s: &str) -> Option<char> {
    s.strip_prefix('\\')?.chars().next()
}

/// The first position from `from` where `at` holds, skipping backslash pairs.
fn find_unescaped(s: &str, from: usize, at: impl Fn(&str) -> bool) -> Option<usize> {
    let mut i = from;
    while i < s.len() {
        let rest = &s[i..];
        if let Some(c) = escaped(rest) {
            i += 1 + c.len_utf8();
        } else if at(rest) {
            return Some(i);
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    None
}

/// Text with its escapes resolved: `\\X` is `X` when `X` is escapable.
fn unescape(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('\\') {
        return s.into();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match chars.peek() {
            Some(&next) if c == '\\' && ESCAPABLE.contains(&next) => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out.into()
}

/// The URL as the parser writes it back, when it is absolute with an allowed scheme.
fn checked_url(raw: &str, schemes: &[&str]) -> Option<String> {
    let url = url::Url::parse(raw).ok()?;
    schemes
        .contains(&url.scheme())
        .then(|| url.as_str().to_owned())
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subset_becomes_markup() {
        assert_eq!(
            to_html("Hi **there**, *you*!\nSee [our plans](https://acme.test/p?a=1&b=2)"),
            "Hi <strong>there</strong>, <em>you</em>!<br>See <a href=\"https://acme.test/p?a=1&amp;b=2\" \
             target=\"_blank\" rel=\"noopener noreferrer\">our plans</a>"
        );
        assert_eq!(
            to_html("Choose:\n- **one**\n- two\nDone"),
            "Choose:<ul><li><strong>one</strong></li><li>two</li></ul>Done"
        );
        assert_eq!(
            to_html("![logo](https://acme.test/l.png)"),
            "<img src=\"https://acme.test/l.png\" alt=\"logo\">"
        );
    }

    #[test]
    fn anything_else_stays_text() {
        assert_eq!(
            to_html("<script>alert(1)</script> & \"q\""),
            "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(to_html("[x](javascript:alert(1))"), "x)");
        assert_eq!(to_html("[click](javascript:alert)"), "click");
        assert_eq!(to_html("[rel](/pricing)"), "rel");
        assert_eq!(to_html("![a](data:image/png;base64,AA)"), "a");
        assert_eq!(
            to_html("[a](https://x.test/\"onmouseover=\"alert(1))"),
            "<a href=\"https://x.test/%22onmouseover=%22alert(1\" target=\"_blank\" \
             rel=\"noopener noreferrer\">a</a>)"
        );
        assert_eq!(to_html("2 * 3 * 4 and ** x"), "2 * 3 * 4 and ** x");
        assert_eq!(to_html("é **ü**"), "é <strong>ü</strong>");
    }

    #[test]
    fn escaped_values_stay_text() {
        let values = [
            "[Verify your account](https://evil.example/login)",
            "![x](https://evil.example/pixel.png)",
            "**loud** *soft* \\ back",
            "- one\n  - two",
            "x](https://evil.example) [y",
            "wow!",
        ];
        for value in values {
            let mut src = String::from("Hi ");
            escape_value(&mut src, value);
            let mut expected = String::from("Hi ");
            escape_into(&mut expected, value);
            let expected = expected.replace('\n', "<br>");
            assert_eq!(to_html(&src), expected, "{value}");
        }
        // Inside the author's own markup, the value is the label, not the link.
        let mut src = String::from("**Hi ");
        escape_value(&mut src, "*x* ");
        src.push_str("** [");
        escape_value(&mut src, "a](https://evil.example) [b");
        src.push_str("](https://acme.test)");
        escape_value(&mut src, "!");
        src.push_str("[logo](https://acme.test/l.png)");
        assert_eq!(
            to_html(&src),
            "<strong>Hi *x* </strong> <a href=\"https://acme.test/\" target=\"_blank\" \
             rel=\"noopener noreferrer\">a](https://evil.example) [b</a>!<a href=\"https://acme.test/l.png\" \
             target=\"_blank\" rel=\"noopener noreferrer\">logo</a>"
        );
        assert_eq!(to_html("C:\\Users \\q"), "C:\\Users \\q");
    }

    #[test]
    fn plain_text_is_escaped_with_line_breaks() {
        assert_eq!(
            plain_html("**not bold** <b>\r\nnext"),
            "**not bold** &lt;b&gt;<br>next"
        );
    }

    proptest::proptest! {
        /// Whatever the source, the output holds no tag but the subset's and no attribute
        /// but href, src, alt, target and rel.
        #[test]
        fn only_the_subset_comes_out(src in "[a-z<>\"'&*\\[\\]()!:/. \n-]{0,60}") {
            let html = to_html(&src);
            let mut rest = html.as_str();
            while let Some(open) = rest.find('<') {
                let close = rest[open..].find('>').map(|c| open + c).expect("closed tag");
                let tag = &rest[open + 1..close];
                let name = tag.trim_start_matches('/').split(' ').next().unwrap_or("");
                proptest::prop_assert!(
                    ["strong", "em", "a", "img", "ul", "li", "br"].contains(&name),
                    "{tag} in {html}"
                );
                rest = &rest[close + 1..];
            }
        }
    }
}
