//! The CRM note of a capture: the collected answers, labelled with the questions that asked
//! them, and the transcript, as HTML (Pipedrive notes are HTML), built by the askama
//! template `templates/crm/note.html`. Message text reaches the HTML only through
//! [`crate::playbook::rich`]: bot, rep and playbook text as the rich-text subset, what a
//! visitor typed exactly as typed; everything else is escaped by the template. The row's
//! look-up marker is an HTML comment: invisible in the CRM, found again by the client.

use askama::Template;

use crate::db::transcripts::Line;
use crate::playbook::rich;

/// The text that identifies the note of outbox row `row_id`, for the look-up after an
/// ambiguous create (the client searches note content for it).
pub fn marker(row_id: &str) -> String {
    format!("concierge-ref:{row_id}")
}

#[derive(Template)]
#[template(path = "crm/note.html")]
struct Note {
    answers: Vec<Answer>,
    lines: Vec<NoteLine>,
    marker: String,
}

struct Answer {
    /// Safe HTML of the question's rich text.
    question: String,
    /// As given (escaped by the template).
    answer: String,
}

struct NoteLine {
    who: &'static str,
    /// Safe HTML of the message.
    html: String,
}

/// The note's HTML.
pub fn content(
    row_id: &str,
    lines: &[Line],
    answers: &[(String, String)],
) -> Result<String, askama::Error> {
    Note {
        answers: answers
            .iter()
            .map(|(question, answer)| Answer {
                question: rich::to_html(question),
                answer: answer.clone(),
            })
            .collect(),
        lines: lines
            .iter()
            .map(|line| NoteLine {
                who: who(&line.author),
                html: match line.author.as_str() {
                    "visitor" => rich::plain_html(&line.body),
                    _ => rich::to_html(&line.body),
                },
            })
            .collect(),
        // A row id is a UUID; `--` could never end the comment early.
        marker: marker(row_id).replace("--", "- -"),
    }
    .render()
}

fn who(author: &str) -> &'static str {
    match author {
        "visitor" => "Visitor",
        "bot" => "Bot",
        "rep" => "Rep",
        _ => "System",
    }
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
    fn escapes_what_people_typed_and_hides_the_marker() {
        let html = content(
            "row-1",
            &[
                line("visitor", "<script>alert(1)</script> **as typed**"),
                line("bot", "Hi \"there\"\nsecond line"),
            ],
            &[("Company?".into(), "<img src=x onerror=alert(1)>".into())],
        )
        .unwrap();
        assert!(!html.contains("<script"));
        assert!(!html.contains("<img"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; **as typed**"));
        assert!(html.contains("Hi &quot;there&quot;<br>second line"));
        assert!(html.ends_with("<!-- concierge-ref:row-1 -->"), "{html}");
        assert_eq!(html.matches(&marker("row-1")).count(), 1);
    }

    #[test]
    fn bot_text_is_rich_and_answers_carry_their_question() {
        let html = content(
            "r",
            &[line(
                "bot",
                "**Great!** See [our plans](https://acme.test/pricing)",
            )],
            &[("How big is **your** team?".into(), "50+".into())],
        )
        .unwrap();
        assert!(
            html.contains("<li>How big is <strong>your</strong> team?<br><b>50+</b></li>"),
            "{html}"
        );
        assert!(html.contains(
            "<p><b>Bot:</b> <strong>Great!</strong> See <a href=\"https://acme.test/pricing\""
        ));
        assert!(!html.contains("**"), "{html}");
        assert!(!html.contains("vars."), "{html}");
    }
}
