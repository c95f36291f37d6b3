//! The mails themselves: askama templates in `templates/mail/`, each an HTML and a plain
//! text part, built into one `multipart/alternative` message.
//!
//! What a visitor typed reaches the HTML part only through [`rich::plain_html`] (escaped,
//! line breaks kept) and everything else the templates print is escaped by askama, except
//! bot and rep text, which goes through [`rich::to_html`] (the audited rich-text subset, as
//! in the CRM note). The text part shows everything exactly as written.
//!
//! A row's mail is the same bytes at every attempt: its `Message-ID` is made from the row
//! id and its `Date` is the time the row was queued, so a copy sent twice (see
//! `ARCHITECTURE.md`) is recognisable as the same message.

use askama::Template;
use chrono::{TimeZone, Utc};
use lettre::Message;
use lettre::message::{Mailbox, MultiPart, SinglePart};

use super::jobs::{Contact, Line, MailJob};
use crate::playbook::rich;

/// What a mail links to, found when it is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links {
    /// `PUBLIC_URL/inbox#CONVERSATION`.
    pub inbox: Option<String>,
    /// The lead, deal or person a capture of the conversation created, in the CRM.
    pub crm: Vec<(&'static str, String)>,
}

/// A rendered mail, not yet addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}

struct AnswerView {
    question: String,
    question_html: String,
    answer: String,
    answer_html: String,
}

struct LineView {
    who: &'static str,
    at: String,
    text: String,
    html: String,
}

#[derive(Template)]
#[template(path = "mail/notify.html")]
struct NotifyHtml<'a> {
    subject: &'a str,
    body_html: String,
    answers: &'a [AnswerView],
    inbox_url: Option<&'a str>,
    crm_links: &'a [(&'static str, String)],
}

#[derive(Template)]
#[template(path = "mail/notify.txt")]
struct NotifyText<'a> {
    body: &'a str,
    answers: &'a [AnswerView],
    inbox_url: Option<&'a str>,
    crm_links: &'a [(&'static str, String)],
}

#[derive(Template)]
#[template(path = "mail/missed_chat.html")]
struct MissedHtml<'a> {
    subject: &'a str,
    contact: &'a [(&'static str, String)],
    lines: &'a [LineView],
    inbox_url: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "mail/missed_chat.txt")]
struct MissedText<'a> {
    contact: &'a [(&'static str, String)],
    lines: &'a [LineView],
    inbox_url: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "mail/transcript.html")]
struct TranscriptHtml<'a> {
    subject: &'a str,
    company_name: &'a str,
    lines: &'a [LineView],
}

#[derive(Template)]
#[template(path = "mail/transcript.txt")]
struct TranscriptText<'a> {
    company_name: &'a str,
    lines: &'a [LineView],
}

/// Both parts of `job`'s mail.
pub fn render(job: &MailJob, links: &Links) -> Result<Rendered, askama::Error> {
    let inbox_url = links.inbox.as_deref();
    match job {
        MailJob::Notify(email) => {
            let answers: Vec<AnswerView> = email
                .answers
                .iter()
                .map(|(question, answer)| AnswerView {
                    question: question.clone(),
                    question_html: rich::to_html(question),
                    answer: answer.clone(),
                    answer_html: rich::plain_html(answer),
                })
                .collect();
            let subject = one_line(&email.subject);
            Ok(Rendered {
                html: NotifyHtml {
                    subject: &subject,
                    body_html: rich::plain_html(&email.body),
                    answers: &answers,
                    inbox_url,
                    crm_links: &links.crm,
                }
                .render()?,
                text: NotifyText {
                    body: &email.body,
                    answers: &answers,
                    inbox_url,
                    crm_links: &links.crm,
                }
                .render()?,
                subject,
            })
        }
        MailJob::MissedChat(missed) => {
            let mut contact = contact_rows(&missed.contact);
            if let Some(page) = &missed.page {
                contact.push(("Page", page.clone()));
            }
            let lines = line_views(&missed.lines);
            let who = missed
                .contact
                .name
                .as_deref()
                .or(missed.contact.email.as_deref())
                .unwrap_or("a website visitor");
            let subject = one_line(&format!("Missed chat: {who}"));
            Ok(Rendered {
                html: MissedHtml {
                    subject: &subject,
                    contact: &contact,
                    lines: &lines,
                    inbox_url,
                }
                .render()?,
                text: MissedText {
                    contact: &contact,
                    lines: &lines,
                    inbox_url,
                }
                .render()?,
                subject,
            })
        }
        MailJob::Transcript(t) => {
            let lines = line_views(&t.lines);
            let subject = one_line(&format!("Your conversation with {}", t.company_name));
            Ok(Rendered {
                html: TranscriptHtml {
                    subject: &subject,
                    company_name: &t.company_name,
                    lines: &lines,
                }
                .render()?,
                text: TranscriptText {
                    company_name: &t.company_name,
                    lines: &lines,
                }
                .render()?,
                subject,
            })
        }
    }
}

/// Why a mail cannot be built. Never better on a retry.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("invalid address `{0}`")]
    Address(String),
    #[error("no recipient")]
    NoRecipient,
    #[error("the mail cannot be built: {0}")]
    Message(#[from] lettre::error::Error),
}

/// The message of row `row_id`, queued at `queued_at` (Unix ms).
pub fn build(
    rendered: Rendered,
    to: &[String],
    from: &Mailbox,
    row_id: &str,
    queued_at: i64,
    domain: &str,
) -> Result<Message, BuildError> {
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(rendered.subject)
        .message_id(Some(message_id(row_id, domain)))
        .date(
            Utc.timestamp_millis_opt(queued_at)
                .single()
                .unwrap_or_else(Utc::now)
                .into(),
        );
    let mut any = false;
    for address in to.iter().map(|a| a.trim()).filter(|a| !a.is_empty()) {
        let mailbox: Mailbox = address
            .parse()
            .map_err(|_| BuildError::Address(address.to_owned()))?;
        builder = builder.to(mailbox);
        any = true;
    }
    if !any {
        return Err(BuildError::NoRecipient);
    }
    // A boundary of our own (lettre's is random), so every attempt sends the same bytes:
    // a digest of the content, which therefore cannot contain it.
    let boundary = boundary(row_id, &rendered.text, &rendered.html);
    Ok(builder.multipart(
        MultiPart::alternative()
            .boundary(boundary)
            .singlepart(SinglePart::plain(rendered.text))
            .singlepart(SinglePart::html(rendered.html)),
    )?)
}

/// The `Message-ID` of row `row_id`'s mail: `<ROW_ID@DOMAIN>`.
pub fn message_id(row_id: &str, domain: &str) -> String {
    format!("<{row_id}@{domain}>")
}

fn boundary(row_id: &str, text: &str, html: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for part in [row_id, text, html] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    let hex: String = hash.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("=_{hex}")
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn contact_rows(c: &Contact) -> Vec<(&'static str, String)> {
    [
        ("Name", &c.name),
        ("E-mail", &c.email),
        ("Phone", &c.phone),
        ("Company", &c.company),
    ]
    .into_iter()
    .filter_map(|(label, value)| value.clone().map(|v| (label, v)))
    .collect()
}

fn line_views(lines: &[Line]) -> Vec<LineView> {
    lines
        .iter()
        .map(|l| LineView {
            who: match l.author.as_str() {
                "visitor" => "Visitor",
                "rep" => "Rep",
                "bot" => "Bot",
                _ => "Note",
            },
            at: Utc
                .timestamp_millis_opt(l.at)
                .single()
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default(),
            text: l.body.clone(),
            html: match l.author.as_str() {
                "visitor" => rich::plain_html(&l.body),
                _ => rich::to_html(&l.body),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::effect::Email;

    fn notify(body: &str, answer: &str) -> MailJob {
        MailJob::Notify(Email {
            to: vec!["sales@acme.test".into()],
            subject: "New lead".into(),
            body: body.into(),
            card: "tell".into(),
            answers: vec![("What is your **budget**?".into(), answer.into())],
        })
    }

    #[test]
    fn visitor_text_is_escaped_in_html_and_as_typed_in_text() {
        let payload = "<script>alert(1)</script> & \"x\"";
        let links = Links {
            inbox: Some("http://app.test/inbox#c1".into()),
            crm: vec![("lead", "https://acme.crm.test/leads/inbox/u1".into())],
        };
        let r = render(&notify(&format!("From {payload}"), payload), &links).unwrap();
        assert!(!r.html.contains("<script>"), "{}", r.html);
        assert!(r.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(r.html.contains("<strong>budget</strong>"), "{}", r.html);
        assert!(r.html.contains("href=\"http://app.test/inbox#c1\""));
        assert!(r.html.contains("Open the lead in the CRM"));
        assert!(r.text.contains(&format!("From {payload}")), "{}", r.text);
        assert!(r.text.contains(&format!("  {payload}")), "{}", r.text);
        assert!(
            r.text
                .contains("The lead in the CRM: https://acme.crm.test/leads/inbox/u1")
        );
    }

    #[test]
    fn rendered_mails() {
        use crate::mail::jobs::{Contact, Line, MissedChat, Transcript};
        let links = Links {
            inbox: Some("https://chat.acme.test/inbox#c-1".into()),
            crm: vec![("lead", "https://acme.crm.test/leads/inbox/u-1".into())],
        };
        let notify = render(&notify("Ada asked for a call.\nScore 30", "50+"), &links).unwrap();
        insta::assert_snapshot!("notify_html", notify.html);
        insta::assert_snapshot!("notify_text", notify.text);
        let lines = vec![
            Line {
                author: "bot".into(),
                body: "Hi! How can we **help**?".into(),
                at: 1_767_225_600_000,
            },
            Line {
                author: "visitor".into(),
                body: "A human <please>".into(),
                at: 1_767_225_660_000,
            },
        ];
        let missed = MailJob::MissedChat(MissedChat {
            to: vec!["team@acme.test".into()],
            contact: Contact {
                name: Some("Ada".into()),
                email: Some("ada@example.test".into()),
                phone: Some("+44 20 7946 0958".into()),
                company: None,
            },
            lines: lines.clone(),
            page: Some("https://acme.test/pricing".into()),
        });
        let missed = render(&missed, &links).unwrap();
        assert_eq!(missed.subject, "Missed chat: Ada");
        insta::assert_snapshot!("missed_chat_text", missed.text);
        insta::assert_snapshot!("missed_chat_html", missed.html);
        let copy = MailJob::Transcript(Transcript {
            to: "ada@example.test".into(),
            company_name: "Acme".into(),
            lines,
        });
        let copy = render(&copy, &Links::default()).unwrap();
        insta::assert_snapshot!("transcript_text", copy.text);
    }

    #[test]
    fn the_message_has_a_stable_id_and_both_parts() {
        let r = render(&notify("Body", "42"), &Links::default()).unwrap();
        let from: Mailbox = "Concierge <bot@acme.test>".parse().unwrap();
        let build = || {
            build(
                r.clone(),
                &["sales@acme.test".into()],
                &from,
                "0193-row",
                1_700_000_000_000,
                "app.test",
            )
            .unwrap()
            .formatted()
        };
        let (a, b) = (build(), build());
        let text = String::from_utf8_lossy(&a);
        assert!(text.contains("Message-ID: <0193-row@app.test>"), "{text}");
        assert!(text.contains("multipart/alternative"));
        assert!(text.contains("text/plain") && text.contains("text/html"));
        assert_eq!(a, b, "every attempt sends the same bytes");
        let err =
            super::build(r, &["not an address".into()], &from, "x", 0, "app.test").unwrap_err();
        assert_eq!(err.to_string(), "invalid address `not an address`");
    }
}
