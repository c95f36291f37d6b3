//! The CRM note of a capture: the transcript and the collected answers as HTML. Everything
//! a visitor, a rep or a playbook wrote is escaped here, in this one function, so the
//! note is inert in the CRM whatever was typed.

use crate::db::transcripts::Line;

/// The text that identifies the note of outbox row `row_id`, for the look-up after an
/// ambiguous create.
pub fn marker(row_id: &str) -> String {
    format!("concierge-ref:{row_id}")
}

/// The note's HTML.
pub fn content(row_id: &str, lines: &[Line], answers: &[(String, String)]) -> String {
    let mut html = String::new();
    if !answers.is_empty() {
        html.push_str("<p><b>Answers</b></p><ul>");
        for (name, value) in answers {
            html.push_str("<li><b>");
            html.push_str(&escape(name));
            html.push_str(":</b> ");
            html.push_str(&escape(value));
            html.push_str("</li>");
        }
        html.push_str("</ul>");
    }
    if !lines.is_empty() {
        html.push_str("<p><b>Chat transcript</b></p>");
        for line in lines {
            html.push_str("<p><b>");
            html.push_str(who(&line.author));
            html.push_str(":</b> ");
            html.push_str(&escape(&line.body));
            html.push_str("</p>");
        }
    }
    html.push_str("<p><small>");
    html.push_str(&escape(&marker(row_id)));
    html.push_str("</small></p>");
    html
}

fn who(author: &str) -> &'static str {
    match author {
        "visitor" => "Visitor",
        "bot" => "Bot",
        "rep" => "Rep",
        _ => "System",
    }
}

/// HTML-escape text, keeping line breaks as `<br>`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("<br>"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(author: &str, body: &str) -> Line {
        Line {
            author: author.into(),
            body: body.into(),
            created_at: 0,
        }
    }

    #[test]
    fn escapes_what_people_typed_and_carries_the_marker() {
        let html = content(
            "row-1",
            &[
                line("visitor", "<script>alert(1)</script>"),
                line("bot", "Hi \"there\"\nsecond line"),
            ],
            &[("company".into(), "<img src=x onerror=alert(1)>".into())],
        );
        assert!(!html.contains("<script"));
        assert!(!html.contains("<img"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("Hi &quot;there&quot;<br>second line"));
        assert!(html.contains(&marker("row-1")));
    }
}
