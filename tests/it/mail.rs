//! E-mail delivery against a real SMTP server process (`tests/it/smtp_server.py`, on
//! Python's aiosmtpd): the notify card's mail with both parts and visitor text escaped,
//! 451 retried and delivered once, 550 failed and shown in the sync log with a retry
//! button that works, a server down for a while, a worker starting with mail due (and a
//! lease left by a crashed one), and the default `.eml` folder.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use concierge::config::Config;
use concierge::crm::CrmUser;
use concierge::crm::outbox::backoff::Backoff;
use concierge::crm::secrets::{TokenCipher, token_owner};
use concierge::db::outbox::{self, OutboxRow};
use concierge::db::{self, companies, crm_users, installs, schema};
use concierge::mail::{MailWorker, MailWorkerConfig, Mailer, Transport};
use diesel::prelude::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::browser::xss_payloads;
use crate::common::{TestApp, TestDb};
use crate::wait::eventually;
use crate::widget_support::{Widget, company_with, texts};

const JWT_SECRET: &str = "mail-test-jwt-secret";

/// The SMTP server of one test, stopped when dropped.
struct Smtp {
    child: Child,
    port: u16,
    out: tempfile::TempDir,
}

impl Smtp {
    /// On a free port.
    fn start(args: &[&str]) -> Smtp {
        Smtp::start_on(free_port(), args)
    }

    /// On `port`, answering as `args` say (see the script).
    fn start_on(port: u16, args: &[&str]) -> Smtp {
        use std::io::BufRead;
        let out = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new("python3")
            .arg(script())
            .args(["--port", &port.to_string(), "--out"])
            .arg(out.path())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs (scripts/test installs aiosmtpd)");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the SMTP server's first line");
        assert_eq!(
            line.trim(),
            "READY",
            "the SMTP server did not start (is aiosmtpd installed?)"
        );
        Smtp { child, port, out }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message accepted so far, in order.
    fn messages(&self) -> Vec<Value> {
        read_messages(self.out.path())
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn script() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/it/smtp_server.py"
    ))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn read_messages(dir: &Path) -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    files
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

/// An `.eml` file parsed by the same code as the server's messages.
fn parse_eml(path: &Path) -> Value {
    let out = Command::new("python3")
        .arg(script())
        .arg("--parse")
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().replace("\r\n", "\n")
}

fn with_smtp(url: String) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        c.mail.smtp_url = Some(SecretString::from(url));
        c.mail.from = "Acme Concierge <bot@acme.test>".into();
        c.outbox.poll_ms = 50;
    }
}

fn row(app: &TestApp, id: &str) -> OutboxRow {
    let mut conn = app.state.db.conn().unwrap();
    schema::outbox::table
        .find(id)
        .select(OutboxRow::as_select())
        .first(&mut conn)
        .unwrap()
}

/// Queue a notify mail for the first company, as a notify card does.
fn queue(app: &TestApp, to: &str, subject: &str) -> OutboxRow {
    let company = {
        let mut conn = app.state.db.conn().unwrap();
        companies::first(&mut conn).unwrap().unwrap()
    };
    queue_for(app, &company.id, to, subject)
}

fn queue_for(app: &TestApp, company_id: &str, to: &str, subject: &str) -> OutboxRow {
    let mut conn = app.state.db.conn().unwrap();
    outbox::enqueue(
        &mut conn,
        company_id,
        None,
        outbox::Kind::Email,
        &json!({ "to": [to], "subject": subject, "body": "Hello team", "card": "tell" }),
        db::now_ms(),
    )
    .unwrap()
}

async fn until_status(app: &TestApp, id: &str, status: &str) -> OutboxRow {
    eventually(&format!("row {id} {status}"), || {
        let r = row(app, id);
        async move { (r.status == status).then_some(r) }
    })
    .await
}

const CONTACT: &str = r#"
slug: contact
name: Contact
trigger: { on: keyword, keywords: [hello] }
start: name
cards:
  - id: name
    type: question
    text: "Your **name**, please?"
    input: text
    save: person.name
    next: need
  - id: need
    type: question
    text: "How can we help?"
    input: long_text
    save: vars.need
    next: tell
  - id: tell
    type: notify
    to: [sales@acme.test, ops@acme.test]
    subject: "Message from {{ person.name }}"
    body: "{{ person.name }} wrote:\n{{ vars.need }}"
    next: bye
  - id: bye
    type: end
    text: "Thanks!"
"#;

/// The tags the mail templates and the rich-text subset may produce: anything else in the
/// HTML part came from someone's text.
const MAIL_TAGS: &[&str] = &[
    "!doctype", "html", "head", "meta", "title", "body", "div", "p", "h1", "h2", "table", "tr",
    "th", "td", "br", "a", "strong", "em", "img", "ul", "li",
];

/// Every tag of `html` is one of ours, with no event handler and no script URL.
fn assert_inert(html: &str) {
    let lower = html.to_lowercase();
    let mut rest = lower.as_str();
    while let Some(open) = rest.find('<') {
        let tag_text = &rest[open..];
        let end = tag_text.find('>').unwrap_or(tag_text.len());
        let tag = &tag_text[..end];
        let name: String = tag[1..]
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '!')
            .collect();
        assert!(
            MAIL_TAGS.contains(&name.as_str()),
            "a <{name}> tag in the mail: {tag}"
        );
        for word in tag.split(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
            assert!(
                !(word.starts_with("on") && word.contains('=')),
                "an event handler in the mail: {tag}"
            );
        }
        for bad in ["javascript:", "vbscript:", "data:"] {
            assert!(!tag.contains(bad), "{bad} in a tag of the mail: {tag}");
        }
        rest = &tag_text[end..];
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notify_card_mail_reaches_the_server_with_both_parts_and_visitor_text_escaped() {
    let payloads = xss_payloads();
    let typed = payloads.join("\n");
    for t in TestDb::all() {
        let smtp = Smtp::start(&[]);
        let backend = t.backend;
        let app = TestApp::spawn_with(t, with_smtp(smtp.url())).await;
        let company = company_with(&app, &[CONTACT]).await;
        let mut widget = Widget::new(&app, &company);
        widget.session().await;
        widget.say("hello").await;
        widget.say("Ada <b>Lovelace</b> & \"friends\"").await;
        widget.say(&typed).await;
        let got = eventually("the notify mail", || {
            let m = smtp.messages();
            async move { m.into_iter().next() }
        })
        .await;
        let (html, plain) = (text(&got, "html"), text(&got, "text"));
        assert_eq!(got["content_type"], "multipart/alternative", "{backend:?}");
        assert_eq!(got["mail_from"], "bot@acme.test");
        assert_eq!(got["rcpt_tos"], json!(["sales@acme.test", "ops@acme.test"]));
        assert_eq!(
            got["subject"], "Message from Ada <b>Lovelace</b> & \"friends\"",
            "the subject shows the name as typed"
        );
        // The text part: everything exactly as typed.
        assert!(plain.contains(&format!(
            "Ada <b>Lovelace</b> & \"friends\" wrote:\n{typed}"
        )));
        for p in &payloads {
            assert!(plain.contains(p.as_str()), "text part lacks {p:?}");
        }
        assert!(
            plain.contains("Your **name**, please?\n  Ada <b>Lovelace</b>"),
            "{plain}"
        );
        // The HTML part: the answers table, the question's rich text, visitor text inert.
        assert!(
            html.contains("Ada &lt;b&gt;Lovelace&lt;/b&gt; &amp; &quot;friends&quot;"),
            "{html}"
        );
        assert!(
            html.contains("Your <strong>name</strong>, please?"),
            "{html}"
        );
        assert!(html.contains("&lt;script&gt;window.__xss=1&lt;/script&gt;"));
        assert_inert(&html);
        // Links: the conversation in the inbox, at the public URL.
        let conversation: String = {
            let mut conn = app.state.db.conn().unwrap();
            schema::conversations::table
                .filter(schema::conversations::company_id.eq(&company.id))
                .select(schema::conversations::id)
                .first(&mut conn)
                .unwrap()
        };
        let inbox = format!("{}/inbox#{conversation}", app.url);
        assert!(html.contains(&format!("href=\"{inbox}\"")), "{html}");
        assert!(plain.contains(&inbox));
        // A stable Message-ID made from the row.
        let rows: Vec<OutboxRow> = {
            let mut conn = app.state.db.conn().unwrap();
            schema::outbox::table
                .filter(schema::outbox::kind.eq("email"))
                .select(OutboxRow::as_select())
                .load(&mut conn)
                .unwrap()
        };
        assert_eq!(rows.len(), 1);
        let done = until_status(&app, &rows[0].id, "done").await;
        assert_eq!(got["message_id"], format!("<{}@127.0.0.1>", done.id));
        assert_eq!(smtp.messages().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_451_is_retried_and_the_mail_delivered_once() {
    for t in TestDb::all() {
        let smtp = Smtp::start(&["--data-replies", "451"]);
        let app = TestApp::spawn_with(t, with_smtp(smtp.url())).await;
        let queued = queue(&app, "sales@acme.test", "Try twice");
        let done = until_status(&app, &queued.id, "done").await;
        assert_eq!(done.attempts, 2, "one refusal, then delivered");
        assert_eq!(done.last_error, None);
        let got = smtp.messages();
        assert_eq!(got.len(), 1, "delivered once");
        assert_eq!(got[0]["subject"], "Try twice");
        assert_eq!(got[0]["message_id"], format!("<{}@127.0.0.1>", queued.id));
        // Nothing more arrives later: a mail queued after it goes through, and the first
        // is still there once.
        let after = queue(&app, "sales@acme.test", "After");
        until_status(&app, &after.id, "done").await;
        let subjects: Vec<Value> = smtp
            .messages()
            .iter()
            .map(|m| m["subject"].clone())
            .collect();
        assert_eq!(subjects, ["Try twice", "After"]);
    }
}

/// Mail config with a sign-in to the settings: the Pipedrive app's secrets.
fn signed_in_config(url: String) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        with_smtp(url)(c);
        c.pipedrive.client_id = Some("test-app".into());
        c.pipedrive.client_secret = Some(SecretString::from("test-client-secret"));
        c.pipedrive.jwt_secret = Some(SecretString::from(JWT_SECRET));
    }
}

/// A company installed by an admin: its id, the admin's CRM id and the CRM company id.
fn installed(app: &TestApp) -> (String, i64, i64) {
    let mut conn = app.state.db.conn().unwrap();
    let company = companies::create(&mut conn, "Mailco", Some(77)).unwrap();
    let admin = 7701;
    crm_users::sync(
        &mut conn,
        &company.id,
        &[CrmUser {
            id: admin,
            name: "Mailco Admin".into(),
            email: "admin@mailco.test".into(),
            is_admin: true,
            active: true,
            icon_url: None,
        }],
        db::now_ms(),
    )
    .unwrap();
    let cipher = TokenCipher::new(&app.state.config.secret_key);
    let owner = token_owner(&company.id, admin);
    let grant = installs::SealedGrant {
        access_token: cipher.seal("access", &owner),
        refresh_token: cipher.seal("refresh", &owner),
        expires_at: db::now_ms() + 3_600_000,
        scope: "leads:full".into(),
        api_domain: "https://mailco.crm.test".into(),
    };
    installs::save(&mut conn, &company.id, admin, &grant, db::now_ms()).unwrap();
    (company.id, admin, 77)
}

async fn settings_page(app: &TestApp, user: i64, company: i64) -> (String, String) {
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"userId": user, "companyId": company, "exp": chrono::Utc::now().timestamp() + 300}),
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    let resp = reqwest::get(app.at(&format!(
        "/settings?userId={user}&companyId={company}&token={token}"
    )))
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    (cookie, resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_550_fails_the_mail_into_the_sync_log_whose_retry_sends_it() {
    for t in TestDb::all() {
        let refusing = Smtp::start(&["--reject", "nobody@"]);
        let port = refusing.port;
        let app = TestApp::spawn_with(t, signed_in_config(refusing.url())).await;
        let (company, admin, crm_company) = installed(&app);
        let queued = queue_for(&app, &company, "nobody@mailco.test", "For nobody");
        let failed = until_status(&app, &queued.id, "failed").await;
        let error = failed.last_error.clone().unwrap_or_default();
        assert!(error.contains("550"), "{error}");
        assert!(
            error.contains("no such user here"),
            "the server's own words: {error}"
        );
        assert!(refusing.messages().is_empty());
        // The sync log shows the row, the server's words and a retry button.
        let (cookie, page) = settings_page(&app, admin, crm_company).await;
        assert!(
            page.contains("E-mail “For nobody” to nobody@mailco.test"),
            "{page}"
        );
        assert!(page.contains("no such user here"));
        let action = format!("/settings/sync-log/{}/retry", queued.id);
        assert!(page.contains(&action), "a retry button");
        // The address was fixed on the server's side: retry delivers it.
        drop(refusing);
        let smtp = Smtp::start_on(port, &[]);
        let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
        let csrf = page[at..].split('"').next().unwrap().to_owned();
        let resp = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(app.at(&action))
            .header("cookie", &cookie)
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303);
        let done = until_status(&app, &queued.id, "done").await;
        assert_eq!(done.attempts, 1);
        let got = smtp.messages();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0]["rcpt_tos"], json!(["nobody@mailco.test"]));
        let (_, page) = settings_page(&app, admin, crm_company).await;
        assert!(page.contains("every e-mail was sent"), "{page}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_waits_while_the_server_is_down_and_goes_when_it_is_back() {
    for t in TestDb::all() {
        let port = free_port();
        let app = TestApp::spawn_with(t, with_smtp(format!("smtp://127.0.0.1:{port}"))).await;
        let queued = queue(&app, "sales@acme.test", "Patience");
        let waiting = eventually("a failed attempt", || {
            let r = row(&app, &queued.id);
            async move { (r.attempts >= 1).then_some(r) }
        })
        .await;
        assert_eq!(waiting.status, "pending", "never dropped");
        let error = waiting.last_error.unwrap_or_default();
        assert!(error.contains("cannot reach the mail server"), "{error}");
        let smtp = Smtp::start_on(port, &[]);
        until_status(&app, &queued.id, "done").await;
        assert_eq!(smtp.messages().len(), 1);
    }
}

/// A mail worker of its own on the app's database, as another node runs one.
fn worker(app: &TestApp, url: String) -> concierge::mail::MailWorkerHandle {
    let mailer = Mailer {
        transport: Transport::from_config(
            &concierge::config::MailConfig {
                smtp_url: Some(SecretString::from(url)),
                from: "bot@acme.test".into(),
            },
            Path::new("unused"),
        )
        .unwrap(),
        from: "bot@acme.test".parse().unwrap(),
        public_url: "http://app.test".into(),
    };
    let config = MailWorkerConfig {
        poll_interval: Duration::from_millis(20),
        concurrency: 4,
        backoff: Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(500),
        },
        ..MailWorkerConfig::default()
    };
    MailWorker::new(app.state.db.clone(), std::sync::Arc::new(mailer), config).spawn()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_on_one_database_send_each_mail_once() {
    for t in TestDb::all() {
        let smtp = Smtp::start(&[]);
        let app = TestApp::spawn_with(t, |c| c.outbox.concurrency = 0).await;
        let workers: Vec<_> = (0..3).map(|_| worker(&app, smtp.url())).collect();
        let ids: Vec<String> = (0..60)
            .map(|i| queue(&app, "sales@acme.test", &format!("Mail {i}")).id)
            .collect();
        for id in &ids {
            until_status(&app, id, "done").await;
        }
        for w in workers {
            w.stop().await;
        }
        let got = smtp.messages();
        let mut seen: Vec<String> = got
            .iter()
            .map(|m| m["message_id"].as_str().unwrap().to_owned())
            .collect();
        seen.sort();
        let mut want: Vec<String> = ids.iter().map(|id| format!("<{id}@app.test>")).collect();
        want.sort();
        assert_eq!(seen, want, "each mail once");
    }
}

/// A worker of a node that (re)starts with mail due: rows queued while no worker ran, and
/// a row a crashed worker had claimed (its lease runs out first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starting_worker_sends_the_mail_that_is_due_once() {
    for t in TestDb::all() {
        let smtp = Smtp::start(&[]);
        let app = TestApp::spawn_with(t, |c| c.outbox.concurrency = 0).await;
        let due = queue(&app, "sales@acme.test", "Queued while down");
        let claimed = queue(&app, "sales@acme.test", "Claimed by a crashed worker");
        let lease_end = db::now_ms() + 1_500;
        {
            let mut conn = app.state.db.conn().unwrap();
            diesel::update(schema::outbox::table.find(&claimed.id))
                .set(schema::outbox::locked_until.eq(Some(lease_end)))
                .execute(&mut *conn)
                .unwrap();
        }
        let running = worker(&app, smtp.url());
        until_status(&app, &due.id, "done").await;
        let sent = until_status(&app, &claimed.id, "done").await;
        assert!(
            sent.updated_at >= lease_end,
            "the crashed worker's lease was respected"
        );
        let got = smtp.messages();
        assert_eq!(got.len(), 2, "each once");
        // The server's 250 came but the worker died before recording it: the row is sent
        // again, as the same message (same Message-ID, same bytes).
        {
            let mut conn = app.state.db.conn().unwrap();
            diesel::update(schema::outbox::table.find(&due.id))
                .set((
                    schema::outbox::status.eq("pending"),
                    schema::outbox::next_attempt_at.eq(db::now_ms()),
                ))
                .execute(&mut *conn)
                .unwrap();
        }
        until_status(&app, &due.id, "done").await;
        let got = smtp.messages();
        assert_eq!(got.len(), 3);
        let copies: Vec<&Value> = got
            .iter()
            .filter(|m| m["message_id"] == format!("<{}@app.test>", due.id))
            .collect();
        assert_eq!(copies.len(), 2);
        assert_eq!(
            copies[0]["raw"], copies[1]["raw"],
            "a recognisable duplicate"
        );
        running.stop().await;
    }
}

#[tokio::test]
async fn by_default_mail_is_written_to_the_data_folder() {
    for t in TestDb::all() {
        let app = TestApp::spawn_with(t, |c| c.outbox.poll_ms = 50).await;
        let queued = queue(&app, "sales@acme.test", "To the folder");
        let done = until_status(&app, &queued.id, "done").await;
        let file = app
            .state
            .config
            .data_dir
            .join("mail")
            .join(format!("{}.eml", done.id));
        let got = parse_eml(&file);
        assert_eq!(got["subject"], "To the folder");
        assert_eq!(got["to"], "sales@acme.test");
        assert_eq!(got["from"], "Concierge <concierge@localhost>");
        assert_eq!(got["message_id"], format!("<{}@127.0.0.1>", done.id));
        assert!(text(&got, "text").contains("Hello team"));
        assert!(text(&got, "html").contains("Hello team"));
        let files = std::fs::read_dir(file.parent().unwrap()).unwrap().count();
        assert_eq!(files, 1, "no temporary file left");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_missed_chat_alert_and_the_transcript_show_what_the_visitor_wrote() {
    let payloads = xss_payloads();
    for t in TestDb::all() {
        let smtp = Smtp::start(&[]);
        let app = TestApp::spawn_with(t, with_smtp(smtp.url())).await;
        let company = company_with(&app, &[CONTACT]).await;
        {
            let mut conn = app.state.db.conn().unwrap();
            let mut settings = company.settings();
            settings.notification_emails = vec!["team@acme.test".into()];
            companies::update_settings(&mut conn, &company.id, &settings).unwrap();
        }
        let mut widget = Widget::new(&app, &company);
        widget.session().await;
        widget.say("hello").await;
        widget.say("Grace <i>Hopper</i>").await;
        widget.say(&payloads[..10].join("\n")).await;
        let (company_id, conversation) = (company.id.clone(), {
            let mut conn = app.state.db.conn().unwrap();
            schema::conversations::table
                .filter(schema::conversations::company_id.eq(&company.id))
                .select(schema::conversations::id)
                .first::<String>(&mut conn)
                .unwrap()
        });
        let conv = conversation.clone();
        let (alert, copy) = app
            .state
            .db
            .run(move |conn| {
                let now = db::now_ms();
                let alert = concierge::mail::queue_missed_chat(conn, &company_id, &conv, now)?;
                let copy = concierge::mail::queue_transcript(
                    conn,
                    &company_id,
                    &conv,
                    "grace@visitor.test",
                    now,
                )?;
                // Another company's conversation queues nothing.
                assert!(
                    concierge::mail::queue_missed_chat(conn, "someone-else", &conv, now)?.is_none()
                );
                Ok::<_, db::DbError>((alert.unwrap(), copy.unwrap()))
            })
            .await
            .unwrap();
        until_status(&app, &alert.id, "done").await;
        until_status(&app, &copy.id, "done").await;
        let got = smtp.messages();
        let find = |id: &str| {
            got.iter()
                .find(|m| m["message_id"] == format!("<{id}@127.0.0.1>"))
                .cloned()
                .unwrap_or_else(|| panic!("no mail of row {id}"))
        };
        let alert = find(&alert.id);
        assert_eq!(alert["rcpt_tos"], json!(["team@acme.test"]));
        assert_eq!(alert["subject"], "Missed chat: Grace <i>Hopper</i>");
        let (html, plain) = (text(&alert, "html"), text(&alert, "text"));
        assert!(plain.contains("Name: Grace <i>Hopper</i>"), "{plain}");
        for p in &payloads[..10] {
            assert!(plain.contains(p.as_str()), "alert text lacks {p:?}");
        }
        assert!(html.contains("Grace &lt;i&gt;Hopper&lt;/i&gt;"), "{html}");
        assert!(html.contains(&format!("{}/inbox#{conversation}", app.url)));
        assert_inert(&html);
        let copy = find(&copy.id);
        assert_eq!(copy["rcpt_tos"], json!(["grace@visitor.test"]));
        assert_eq!(copy["subject"], "Your conversation with Acme");
        let (html, plain) = (text(&copy, "html"), text(&copy, "text"));
        assert!(plain.contains("How can we help?"), "{plain}");
        assert!(plain.contains("Grace <i>Hopper</i>"));
        assert!(
            html.contains("Your <strong>name</strong>, please?"),
            "bot text as rich text: {html}"
        );
        assert_inert(&html);
    }
}

const HUMAN: &str = r#"
slug: human
name: Human
trigger: { on: keyword, keywords: [human] }
start: rep
cards:
  - id: rep
    type: live_chat
    online_message: "Connecting you…"
    wait_seconds: 60
    offline_message: "Nobody is here right now."
    offline_next: email
  - id: email
    type: question
    text: "Your e-mail, so we can write back?"
    input: email
    save: person.email
    next: bye
  - id: bye
    type: end
    text: "We'll write to you."
"#;

/// Ends at once, no live chat.
const THANKS: &str = r#"
slug: thanks
name: Thanks
trigger: { on: keyword, keywords: [thanks] }
start: bye
cards:
  - id: bye
    type: end
    text: "You're welcome."
"#;

/// The missed-chat alerts queued for the company.
fn alerts_queued(app: &TestApp, company_id: &str) -> usize {
    let mut conn = app.state.db.conn().unwrap();
    schema::outbox::table
        .filter(schema::outbox::company_id.eq(company_id))
        .filter(schema::outbox::kind.eq("email"))
        .select(schema::outbox::payload)
        .load::<String>(&mut conn)
        .unwrap()
        .iter()
        .filter(|p| p.contains("\"template\":\"missed_chat\""))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_chat_alerts_the_team_once_its_offline_branch_is_over() {
    for t in TestDb::all() {
        let smtp = Smtp::start(&[]);
        let app = TestApp::spawn_with(t, with_smtp(smtp.url())).await;
        let company = company_with(&app, &[HUMAN, THANKS]).await;
        {
            let mut conn = app.state.db.conn().unwrap();
            let mut settings = company.settings();
            settings.notification_emails = vec!["team@acme.test".into(), "boss@acme.test".into()];
            companies::update_settings(&mut conn, &company.id, &settings).unwrap();
        }
        let mut widget = Widget::new(&app, &company);
        widget.session().await;
        // Nobody is online: the offline branch asks for an address; no alert yet.
        widget.say("I need a human <now>").await;
        assert_eq!(alerts_queued(&app, &company.id), 0);
        widget.say("grace@visitor.test").await;
        assert_eq!(alerts_queued(&app, &company.id), 1);
        let alert = eventually("the missed-chat alert", || {
            let m = smtp.messages();
            async move { m.into_iter().next() }
        })
        .await;
        assert_eq!(
            alert["rcpt_tos"],
            json!(["team@acme.test", "boss@acme.test"])
        );
        assert_eq!(alert["subject"], "Missed chat: grace@visitor.test");
        let plain = text(&alert, "text");
        assert!(plain.contains("E-mail: grace@visitor.test"), "{plain}");
        assert!(plain.contains("I need a human <now>"), "{plain}");
        assert!(text(&alert, "html").contains("I need a human &lt;now&gt;"));
        // Another flow of the conversation ends without a miss: no second alert.
        let reply = widget.say("thanks").await;
        assert_eq!(texts(&reply["messages"]), ["thanks", "You're welcome."]);
        assert_eq!(alerts_queued(&app, &company.id), 1);
        // A second miss gets its own alert.
        widget.say("human").await;
        widget.say("grace@visitor.test").await;
        assert_eq!(alerts_queued(&app, &company.id), 2);
    }
}

/// What the README promises after its first command: the demo's lead qualification mails
/// its team into `DATA_DIR/mail/`.
#[tokio::test]
async fn the_demo_lead_qualification_mails_the_team_into_the_data_folder() {
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| c.outbox.poll_ms = 50).await;
    let company = {
        let mut conn = app.state.db.conn().unwrap();
        companies::first(&mut conn).unwrap().unwrap()
    };
    let mut widget = Widget::new(&app, &company);
    widget.session().await;
    let started = widget.trigger("lead-qualification", "time_on_page").await;
    let ask = started["messages"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["buttons"].is_array()))
        .unwrap_or_else(|| panic!("the team size question: {started}"));
    widget.choose(ask["id"].as_str().unwrap(), 0).await;
    widget.say("ada@example.com").await;
    let folder = app.state.config.data_dir.join("mail");
    let file = eventually("a mail in DATA_DIR/mail", || {
        let found = std::fs::read_dir(&folder).ok().and_then(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|e| e == "eml"))
        });
        async move { found }
    })
    .await;
    let got = parse_eml(&file);
    assert_eq!(got["to"], "sales@example.com");
    assert_eq!(got["subject"], "New lead: ada@example.com");
    assert!(text(&got, "text").contains("Team size small"), "{got}");
}

#[tokio::test]
async fn an_invalid_address_fails_the_mail_without_sending_it() {
    let smtp = Smtp::start(&[]);
    let app = TestApp::spawn_with(TestDb::sqlite(), with_smtp(smtp.url())).await;
    let queued = queue(&app, "sales at acme", "Nowhere");
    let failed = until_status(&app, &queued.id, "failed").await;
    assert_eq!(
        failed.last_error.as_deref(),
        Some("invalid address `sales at acme`")
    );
    assert_eq!(failed.attempts, 1);
    assert!(smtp.messages().is_empty());
}
