//! The CRM's webhooks about deals and leads, end to end with the sandbox CRM: the install
//! creates the webhooks (with the company's own Basic credentials), a visitor's chat
//! creates a deal or a lead through the outbox, the sandbox's data page wins and loses the
//! deal, archives, restores, converts or deletes the lead, the report shows the conversion
//! and the value won, each lead's fate is recorded against its conversation, and the
//! uninstall removes the webhooks. The receiver refuses notices without the company's
//! credentials.

use concierge::db::{companies, outcomes, playbooks, webhooks};
use concierge::playbook::check::check_document;
use concierge::playbook::load::Format;
use concierge::web::auth::session;
use serde_json::{Value, json};

use crate::common::{TestApp, TestDb};
use crate::crm_support::{browser, install_app};
use crate::wait::eventually;
use crate::widget_support::Widget;

/// A click playbook `SLUG-chat` that asks for an e-mail and captures a `create` (lead or
/// deal) titled "EMAIL via chat" worth `amount` euros.
fn capture_chat(create: &str, amount: f64) -> String {
    format!(
        r##"
slug: {create}-chat
name: Chat to a {create}
trigger: {{ on: click, selector: "#{create}" }}
start: email
cards:
  - id: email
    type: question
    text: "Your e-mail?"
    input: email
    save: person.email
    on_fail: bye
    next: capture
  - id: capture
    type: capture
    create: {create}
    title: "{{{{ person.email }}}} via chat"
    value: {{ amount: {amount}, currency: EUR }}
    next: bye
  - id: bye
    type: end
    text: "Thanks!"
"##
    )
}

/// Publish `yaml` (a click playbook asking for an e-mail) in the company and chat through
/// it with `email`; the playbook's id.
async fn chat(app: &TestApp, company_id: &str, yaml: &str, email: &str) -> String {
    let doc = check_document(yaml, Format::Yaml).unwrap();
    let slug = doc.slug.clone();
    let (company, playbook) = {
        let mut conn = app.state.db.conn().unwrap();
        let published = playbooks::save_and_publish(&mut conn, company_id, &doc).unwrap();
        let company = companies::by_id(&mut conn, company_id).unwrap().unwrap();
        (company, published.playbook_id)
    };
    let mut widget = Widget::new(app, &company);
    widget.session().await;
    widget.trigger(&slug, "click").await;
    widget.say(email).await;
    playbook
}

async fn report(app: &TestApp, company: &str, playbook: &str) -> Value {
    let data = session::start(company, 1001, 0, chrono::Utc::now().timestamp());
    let c = session::cookie(&app.state.crm.session_key, &data);
    let resp = reqwest::Client::new()
        .get(app.at(&format!("/api/admin/reports/playbooks/{playbook}?range=7d")))
        .header("cookie", format!("{}={}", c.name(), c.value()))
        .header("x-csrf-token", &data.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// Wait until the report's totals satisfy `pred`; those totals.
async fn totals_when(
    app: &TestApp,
    company: &str,
    playbook: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    eventually(what, || async {
        let r = report(app, company, playbook).await;
        let t = r["report"]["totals"].clone();
        pred(&t).then_some(t)
    })
    .await
}

async fn set_status(app: &TestApp, deal: i64, status: &str) {
    let resp = browser()
        .post(app.at(&format!("/sandbox/deals/{deal}/status")))
        .form(&[("status", status)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "{:?}", resp.text().await);
}

async fn notify(app: &TestApp, auth: Option<(&str, &str)>, body: &Value) -> (u16, Value) {
    let mut req = browser().post(app.at("/webhooks/crm")).json(body);
    if let Some((user, password)) = auth {
        req = req.basic_auth(user, Some(password));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deal_won_in_the_sandbox_shows_in_the_report() {
    for test_db in TestDb::all() {
        let app = TestApp::spawn(test_db).await;
        let company_id = install_app(&app, 1001).await;
        let sandbox = app.state.sandbox.clone().unwrap();

        // The install created one webhook for deals and one for leads, with this company's
        // credentials.
        let hooks = sandbox.snapshot().webhooks;
        let events: Vec<(&str, &str)> = hooks
            .iter()
            .map(|h| (h.event_action.as_str(), h.event_object.as_str()))
            .collect();
        assert_eq!(events, vec![("*", "deal"), ("*", "lead")], "{hooks:?}");
        for hook in &hooks {
            assert_eq!(hook.subscription_url, app.at("/webhooks/crm"));
            assert_eq!(hook.version, "2.0");
            assert_eq!(hook.http_auth_user.as_deref(), Some(company_id.as_str()));
            assert_eq!(hook.http_auth_password, hooks[0].http_auth_password);
        }
        let password = hooks[0].http_auth_password.clone().unwrap();
        assert!(password.len() >= 40);

        let playbook = chat(
            &app,
            &company_id,
            &capture_chat("deal", 1250.5),
            "ann@example.com",
        )
        .await;

        let deal = eventually("the chat's deal in the sandbox", || async {
            sandbox
                .snapshot()
                .deals
                .iter()
                .find(|d| d.title == "ann@example.com via chat")
                .map(|d| d.id)
        })
        .await;
        let t = totals_when(
            &app,
            &company_id,
            &playbook,
            "the capture to be confirmed",
            |t| t["converted"] == 1,
        )
        .await;
        assert_eq!(t["deals_won"], 0, "{t:#}");

        set_status(&app, deal, "won").await;
        let t = totals_when(
            &app,
            &company_id,
            &playbook,
            "the deal won in the report",
            |t| t["deals_won"] == 1,
        )
        .await;
        assert_eq!(
            t["value_won"],
            json!([{ "currency": "EUR", "cents": 125_050 }]),
            "{t:#}"
        );
        assert_eq!(t["deals_lost"], 0);

        set_status(&app, deal, "lost").await;
        let t = totals_when(
            &app,
            &company_id,
            &playbook,
            "the deal lost in the report",
            |t| t["deals_lost"] == 1,
        )
        .await;
        assert_eq!(t["deals_won"], 0, "{t:#}");

        // The receiver: the company's credentials only, its own CRM company only.
        let won = json!({
            "meta": {"action": "change", "entity": "deal", "entity_id": deal.to_string(),
                     "company_id": "1000", "version": "2.0"},
            "data": {"id": deal, "status": "won", "value": 10, "currency": "EUR"},
            "previous": {"status": "lost"}
        });
        assert_eq!(notify(&app, None, &won).await.0, 401);
        assert_eq!(
            notify(&app, Some((&company_id, "wrong")), &won).await.0,
            401
        );
        assert_eq!(notify(&app, Some(("nobody", &password)), &won).await.0, 401);
        let mut elsewhere = won.clone();
        elsewhere["meta"]["company_id"] = json!("999");
        assert_eq!(
            notify(&app, Some((&company_id, &password)), &elsewhere)
                .await
                .0,
            403
        );
        let person = json!({"meta": {"action": "change", "entity": "person"}, "data": {"id": 1}});
        assert_eq!(
            notify(&app, Some((&company_id, &password)), &person).await,
            (200, json!({"recorded": false}))
        );
        let stranger = json!({
            "meta": {"action": "change", "entity": "deal", "entity_id": "987654"},
            "data": {"id": 987_654, "status": "won", "value": 5}
        });
        assert_eq!(
            notify(&app, Some((&company_id, &password)), &stranger).await,
            (200, json!({"recorded": false}))
        );
        let r = report(&app, &company_id, &playbook).await;
        assert_eq!(r["report"]["totals"]["deals_won"], 0);

        // The uninstall removes the webhook and forgets its password.
        let resp = browser()
            .post(app.at("/sandbox/uninstall"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303);
        assert!(sandbox.snapshot().webhooks.is_empty());
        let mut conn = app.state.db.conn().unwrap();
        assert!(
            webhooks::registered(&mut conn, &company_id)
                .unwrap()
                .is_empty()
        );
        assert_eq!(webhooks::password(&mut conn, &company_id).unwrap(), None);
        drop(conn);
        assert_eq!(
            notify(&app, Some((&company_id, &password)), &won).await.0,
            401
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_converted_to_a_deal_and_won_counts_for_its_conversation() {
    for test_db in TestDb::all() {
        let app = TestApp::spawn(test_db).await;
        let company_id = install_app(&app, 1001).await;
        let sandbox = app.state.sandbox.clone().unwrap();
        let playbook = chat(
            &app,
            &company_id,
            &capture_chat("lead", 300.0),
            "bo@example.com",
        )
        .await;
        // The lead, with the transcript as its note.
        let lead = eventually("the chat's lead and its note in the sandbox", || async {
            let store = sandbox.snapshot();
            store
                .leads
                .iter()
                .find(|l| l.title == "bo@example.com via chat")
                .map(|l| l.id.clone())
                .filter(|id| store.notes.iter().any(|n| n.lead_id.as_ref() == Some(id)))
        })
        .await;
        totals_when(&app, &company_id, &playbook, "the lead confirmed", |t| {
            t["converted"] == 1
        })
        .await;

        let resp = browser()
            .post(app.at(&format!("/sandbox/leads/{lead}/convert")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303);
        let store = sandbox.snapshot();
        assert!(store.leads.iter().all(|l| l.id != lead));
        let deal = store
            .deals
            .iter()
            .find(|d| d.source_lead_id.as_deref() == Some(lead.as_str()))
            .expect("the deal made from the lead");
        assert_eq!((deal.value, deal.currency.as_str()), (300.0, "EUR"));
        assert!(store.notes.iter().any(|n| n.deal_id == Some(deal.id)));

        // Neither notice names the other: the receiver asked the CRM where the deal came
        // from (the deal's `source_lead_id`, when the deal's notice came first) or what the
        // deleted lead became (its person's deals, when the lead's came first), and recorded
        // the open deal against the chat.
        let deal_id = deal.id;
        let (conversation, recorded_lead) = eventually("the new deal recorded", || async {
            let mut conn = app.state.db.conn().unwrap();
            outcomes_of(&mut conn, &company_id, deal_id)
        })
        .await;
        assert_eq!(recorded_lead.as_deref(), Some(lead.as_str()));
        let look_ups = || -> Vec<_> {
            sandbox
                .journal()
                .into_iter()
                .filter(|x| {
                    x.method == "GET"
                        && (x.path == format!("/api/v2/deals/{deal_id}")
                            || x.path == "/api/v2/deals")
                })
                .collect()
        };
        let asked = look_ups();
        // One look-up; two only when both notices were handled at the same moment.
        assert!((1..=2).contains(&asked.len()), "{asked:?}");
        assert!(
            asked
                .iter()
                .all(|x| x.query.contains("include_fields=source_lead_id")),
            "{asked:?}"
        );
        let mut conn = app.state.db.conn().unwrap();
        assert_eq!(
            outcomes::conversation_of(&mut conn, &company_id, deal_id, None).unwrap(),
            Some(conversation)
        );
        drop(conn);

        set_status(&app, deal.id, "won").await;
        let t = totals_when(
            &app,
            &company_id,
            &playbook,
            "the converted deal won",
            |t| t["deals_won"] == 1,
        )
        .await;
        assert_eq!(
            t["value_won"],
            json!([{ "currency": "EUR", "cents": 30_000 }]),
            "{t:#}"
        );
        // Known by its id since: the won notice needed no further look-up.
        assert_eq!(look_ups().len(), asked.len());
    }
}

async fn lead_move(app: &TestApp, lead: &str, action: &str, form: &[(&str, &str)]) {
    let resp = browser()
        .post(app.at(&format!("/sandbox/leads/{lead}/{action}")))
        .form(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "{:?}", resp.text().await);
}

/// The recorded fate of a lead: its conversation, status and the deal it became.
fn lead_of(
    conn: &mut concierge::db::DbConn,
    company_id: &str,
    lead_id: &str,
) -> Option<(String, String, Option<i64>)> {
    use concierge::db::schema::crm_lead_outcomes as l;
    use diesel::prelude::*;
    l::table
        .filter(l::company_id.eq(company_id))
        .filter(l::lead_id.eq(lead_id))
        .select((l::conversation_id, l::status, l::deal_id))
        .first(conn)
        .optional()
        .unwrap()
}

/// Wait until the lead's recorded status is `status`; its record.
async fn fate_when(
    app: &TestApp,
    company_id: &str,
    lead: &str,
    status: &str,
) -> (String, String, Option<i64>) {
    eventually(&format!("the lead {status}"), || async {
        let mut conn = app.state.db.conn().unwrap();
        lead_of(&mut conn, company_id, lead).filter(|r| r.1 == status)
    })
    .await
}

/// The sandbox's lead titled `title`, once made and its capture row has stored the CRM's
/// answer (the transcript note follows it).
async fn lead_titled(app: &TestApp, title: &str) -> Option<String> {
    let store = app.state.sandbox.as_ref()?.snapshot();
    let id = store.leads.iter().find(|l| l.title == title)?.id.clone();
    store
        .notes
        .iter()
        .any(|n| n.lead_id.as_ref() == Some(&id))
        .then_some(id)
}

/// The conversation of the chat that made this lead (its capture row).
async fn conversation_of_capture(app: &TestApp, company_id: &str, lead: &str) -> String {
    eventually("the capture row naming the lead", || async {
        let mut conn = app.state.db.conn().unwrap();
        outcomes::conversation_of_lead(&mut conn, company_id, lead).unwrap()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leads_archive_restore_conversion_and_deletion_are_recorded_for_its_conversation() {
    for test_db in TestDb::all() {
        let app = TestApp::spawn(test_db).await;
        let company_id = install_app(&app, 1001).await;
        let sandbox = app.state.sandbox.clone().unwrap();
        let yaml = capture_chat("lead", 120.0);
        let playbook = chat(&app, &company_id, &yaml, "cy@example.com").await;
        let lead = |title: &'static str| lead_titled(&app, title);
        let first = eventually("the first chat's lead", || lead("cy@example.com via chat")).await;
        let first_chat = conversation_of_capture(&app, &company_id, &first).await;
        // Archived on the data page: a lead `change` notice, recorded for its chat.
        lead_move(&app, &first, "archive", &[("archived", "true")]).await;
        let page = browser()
            .get(app.at("/sandbox/data"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("lead-unarchive"),
            "the data page offers Unarchive"
        );
        let got = fate_when(&app, &company_id, &first, "archived").await;
        assert_eq!(got, (first_chat.clone(), "archived".into(), None));
        let t = report(&app, &company_id, &playbook).await["report"]["totals"].clone();
        assert_eq!(
            (&t["leads_archived"], &t["leads_converted"]),
            (&json!(1), &json!(0)),
            "{t:#}"
        );
        // Back in the inbox.
        lead_move(&app, &first, "archive", &[("archived", "false")]).await;
        fate_when(&app, &company_id, &first, "open").await;
        // Converted: Pipedrive deletes the lead and makes a deal; either notice may come
        // first, and the lead ends converted to that deal.
        lead_move(&app, &first, "convert", &[]).await;
        let deal = sandbox
            .snapshot()
            .deals
            .iter()
            .find(|d| d.source_lead_id.as_deref() == Some(first.as_str()))
            .map(|d| d.id)
            .expect("the deal made from the lead");
        let got = fate_when(&app, &company_id, &first, "converted").await;
        assert_eq!(got, (first_chat.clone(), "converted".into(), Some(deal)));
        // Its deletion by the conversion, told again, changes nothing.
        let hooks = sandbox.snapshot().webhooks;
        let password = hooks[0].http_auth_password.clone().unwrap();
        let deleted = json!({
            "meta": {"action": "delete", "entity": "lead", "entity_id": first,
                     "company_id": "1000", "version": "2.0"},
            "data": null, "previous": null
        });
        assert_eq!(
            notify(&app, Some((&company_id, &password)), &deleted).await,
            (200, json!({"recorded": true}))
        );
        let mut conn = app.state.db.conn().unwrap();
        assert_eq!(
            lead_of(&mut conn, &company_id, &first),
            Some((first_chat.clone(), "converted".into(), Some(deal)))
        );
        drop(conn);
        // Without the company's credentials, nothing is recorded.
        assert_eq!(notify(&app, None, &deleted).await.0, 401);
        assert_eq!(
            notify(&app, Some((&company_id, "wrong")), &deleted).await.0,
            401
        );

        // A second chat's lead, deleted on the data page.
        widget_chat_again(&app, &company_id, &yaml, "di@example.com").await;
        let second = eventually("the second chat's lead", || lead("di@example.com via chat")).await;
        let second_chat = conversation_of_capture(&app, &company_id, &second).await;
        assert_ne!(second_chat, first_chat);
        lead_move(&app, &second, "delete", &[]).await;
        assert!(sandbox.snapshot().leads.iter().all(|l| l.id != second));
        let got = fate_when(&app, &company_id, &second, "deleted").await;
        assert_eq!(got, (second_chat, "deleted".into(), None));
        // The report: one lead converted, one deleted, none archived any more.
        let t = report(&app, &company_id, &playbook).await["report"]["totals"].clone();
        assert_eq!(
            (
                &t["leads_converted"],
                &t["leads_deleted"],
                &t["leads_archived"]
            ),
            (&json!(1), &json!(1), &json!(0)),
            "{t:#}"
        );

        // A lead none of our chats made is accepted and left alone.
        let stranger = json!({
            "meta": {"action": "change", "entity": "lead",
                     "entity_id": "11111111-2222-4333-8444-555555555555"},
            "data": {"id": "11111111-2222-4333-8444-555555555555", "is_archived": true}
        });
        assert_eq!(
            notify(&app, Some((&company_id, &password)), &stranger).await,
            (200, json!({"recorded": false}))
        );
    }
}

/// Pipedrive deletes a lead it converts, and the deal's notice may never come (lost after
/// the CRM's retries, or no deal webhook at all): the lead's deletion alone asks the CRM for
/// a deal of the lead's person made from it (one look-up) and records the lead converted,
/// with the deal and its value against the chat. The deal's notice coming late after all is
/// the deal's news and leaves the lead converted; the lead's deletion told again asks
/// nothing. A lead deleted for good (no deal made of it) stays deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_converted_whose_deal_notice_never_comes_ends_converted() {
    for test_db in TestDb::all() {
        let app = TestApp::spawn(test_db).await;
        let company_id = install_app(&app, 1001).await;
        let sandbox = app.state.sandbox.clone().unwrap();
        // The CRM tells nothing of deals: only the lead webhook is left.
        let deal_hook = sandbox
            .snapshot()
            .webhooks
            .iter()
            .find(|w| w.event_object == "deal")
            .map(|w| w.id)
            .expect("the deal webhook");
        let connected = app.state.crm.access.connect(&company_id).await.unwrap();
        connected.client.delete_webhook(deal_hook).await.unwrap();
        let password = sandbox.snapshot().webhooks[0]
            .http_auth_password
            .clone()
            .unwrap();
        let yaml = capture_chat("lead", 250.0);
        let playbook = chat(&app, &company_id, &yaml, "ed@example.com").await;
        let lead = eventually("the chat's lead", || {
            lead_titled(&app, "ed@example.com via chat")
        })
        .await;
        let chat_id = conversation_of_capture(&app, &company_id, &lead).await;

        lead_move(&app, &lead, "convert", &[]).await;
        let deal = sandbox
            .snapshot()
            .deals
            .iter()
            .find(|d| d.source_lead_id.as_deref() == Some(lead.as_str()))
            .map(|d| d.id)
            .expect("the deal made from the lead");
        let got = fate_when(&app, &company_id, &lead, "converted").await;
        assert_eq!(got, (chat_id.clone(), "converted".into(), Some(deal)));
        let look_ups = || {
            sandbox
                .journal()
                .into_iter()
                .filter(|x| x.path == "/api/v2/deals" && x.query.contains("source_lead_id"))
                .collect::<Vec<_>>()
        };
        let asked = look_ups();
        assert_eq!(asked.len(), 1, "{asked:?}");
        assert!(asked[0].query.contains("person_id="), "{asked:?}");
        let mut conn = app.state.db.conn().unwrap();
        assert_eq!(
            outcomes_of(&mut conn, &company_id, deal),
            Some((chat_id.clone(), Some(lead.clone())))
        );
        drop(conn);
        let t = report(&app, &company_id, &playbook).await["report"]["totals"].clone();
        assert_eq!(
            (&t["leads_converted"], &t["leads_deleted"]),
            (&json!(1), &json!(0)),
            "{t:#}"
        );

        // The deal's notice after all, won: the deal's news; the lead stays converted.
        let won = json!({
            "meta": {"action": "change", "entity": "deal", "entity_id": deal.to_string(),
                     "company_id": "1000", "version": "2.0"},
            "data": {"id": deal, "status": "won", "value": 250.0, "currency": "EUR"},
            "previous": {"status": "open"}
        });
        assert_eq!(
            notify(&app, Some((&company_id, &password)), &won).await,
            (200, json!({"recorded": true}))
        );
        let t = totals_when(&app, &company_id, &playbook, "the deal won", |t| {
            t["deals_won"] == 1
        })
        .await;
        assert_eq!(
            t["value_won"],
            json!([{ "currency": "EUR", "cents": 25_000 }]),
            "{t:#}"
        );
        // The lead's deletion told again: known converted, nothing asked.
        let deleted = json!({
            "meta": {"action": "delete", "entity": "lead", "entity_id": lead,
                     "company_id": "1000", "version": "2.0"},
            "data": null, "previous": null
        });
        assert_eq!(
            notify(&app, Some((&company_id, &password)), &deleted).await,
            (200, json!({"recorded": true}))
        );
        assert_eq!(look_ups().len(), 1);
        let mut conn = app.state.db.conn().unwrap();
        assert_eq!(
            lead_of(&mut conn, &company_id, &lead),
            Some((chat_id, "converted".into(), Some(deal)))
        );
        drop(conn);

        // A lead deleted for good: the CRM has no deal made of it.
        widget_chat_again(&app, &company_id, &yaml, "fi@example.com").await;
        let second = eventually("the second chat's lead", || {
            lead_titled(&app, "fi@example.com via chat")
        })
        .await;
        let second_chat = conversation_of_capture(&app, &company_id, &second).await;
        lead_move(&app, &second, "delete", &[]).await;
        let got = fate_when(&app, &company_id, &second, "deleted").await;
        assert_eq!(got, (second_chat, "deleted".into(), None));
        assert_eq!(look_ups().len(), 2);
    }
}

/// Chat through the already published playbook `yaml` once more, as a new visitor.
async fn widget_chat_again(app: &TestApp, company_id: &str, yaml: &str, email: &str) {
    let slug = check_document(yaml, Format::Yaml).unwrap().slug;
    let company = {
        let mut conn = app.state.db.conn().unwrap();
        companies::by_id(&mut conn, company_id).unwrap().unwrap()
    };
    let mut widget = Widget::new(app, &company);
    widget.session().await;
    widget.trigger(&slug, "click").await;
    widget.say(email).await;
}

/// The recorded outcome of a deal: its conversation and the lead it came from.
fn outcomes_of(
    conn: &mut concierge::db::DbConn,
    company_id: &str,
    deal_id: i64,
) -> Option<(String, Option<String>)> {
    use concierge::db::schema::crm_outcomes as o;
    use diesel::prelude::*;
    o::table
        .filter(o::company_id.eq(company_id))
        .filter(o::deal_id.eq(deal_id))
        .select((o::conversation_id, o::lead_id))
        .first(conn)
        .optional()
        .unwrap()
}
