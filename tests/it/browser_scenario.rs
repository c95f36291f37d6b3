//! The admin's whole path in a real browser, through the sandbox CRM's shell: a playbook
//! from a template, a question edited in the form with the YAML view following, a dangling
//! transition shown on its card and fixed, a preview of the draft with nobody online (its
//! lead shown as "would create lead …", nothing stored), publish with a note, a second
//! version, a restore of the first, the playbook switched on and moved to the top of the
//! list — and a visitor on the demo website then gets it.

use crate::browser::{choice, in_browser, js, shown, wait_message};
use crate::browser_admin::{ADMIN, click, open_settings, type_yaml, until};
use crate::browser_editor::{set, yaml};
use crate::common::{TestApp, TestDb};
use crate::crm_support::install_app;

const QUESTION: &str = "Your work e-mail, please?";
const SECOND: &str = "Only your e-mail, please.";

async fn publish(browser: &fantoccini::Client, note: &str, version: u32) {
    set(browser, "#ed-note", note, "input").await;
    click(browser, "#ed-publish").await;
    until(
        browser,
        &format!("version {version}"),
        &format!("document.getElementById('page-status').textContent.includes('Published version {version}')"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_builds_previews_publishes_and_a_visitor_gets_the_playbook() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    install_app(&app, ADMIN).await;
    in_browser(&app, |browser, url| async move {
        open_settings(&browser, &url, ADMIN, "light").await;

        // From the lead qualification template.
        until(&browser, "the template list", "[...document.querySelectorAll('#pb-template option')].some(o => o.textContent === 'Lead qualification')").await;
        js(&browser, "var s = document.getElementById('pb-template'); s.value = [...s.options].find(o => o.textContent === 'Lead qualification').value; return true").await;
        set(&browser, "#pb-slug", "e2e-lead", "input").await;
        click(&browser, "#pb-create").await;
        let card = "details.pf-card[data-card=\"email\"]";
        until(&browser, "the form", &format!("document.querySelector('#ed-form {card}') && document.getElementById('ed-source').value.includes('slug: e2e-lead')")).await;

        // The question edited in its form: the YAML view follows.
        js(&browser, &format!("document.querySelector('{card}').open = true; return true")).await;
        set(&browser, &format!("{card} textarea"), QUESTION, "input").await;
        until(&browser, "the YAML following the form", &format!("document.getElementById('ed-source').value.includes({QUESTION:?})")).await;

        // A dangling transition: the problem on the card; fixed by choosing the card.
        let text = yaml(&browser).await;
        type_yaml(&browser, &text.replace("next: route", "next: nowhere")).await;
        until(&browser, "the problem on the card's form", &format!("document.querySelector('{card} .pf-problems') && document.querySelector('{card} .pf-problems').textContent.includes('nowhere')")).await;
        set(&browser, &format!("{card} select[data-transition=\"next\"]"), "route", "change").await;
        until(&browser, "no problems", "document.getElementById('ed-problems').textContent.includes('No problems') && !document.getElementById('ed-source').value.includes('nowhere')").await;

        // The preview with nobody online: the edited question, then the lead it would
        // create, in place of a real one.
        js(&browser, "document.getElementById('pv-section').open = true; return true").await;
        set(&browser, "#pv-reps", "offline", "change").await;
        click(&browser, "#pv-start").await;
        until(&browser, "the preview's buttons", "[...document.querySelectorAll('#pv-controls button')].some(b => b.textContent === '50+')").await;
        js(&browser, "[...document.querySelectorAll('#pv-controls button')].find(b => b.textContent === '50+').click(); return true").await;
        until(&browser, "the question in the preview", &format!("document.getElementById('pv-log').textContent.includes({QUESTION:?}) && document.getElementById('pv-input')")).await;
        set(&browser, "#pv-input", "ann@acme.test", "input").await;
        js(&browser, "[...document.querySelectorAll('#pv-controls button')].find(b => b.textContent === 'Send').click(); return true").await;
        until(&browser, "the offline branch's question", "document.getElementById('pv-log').textContent.includes('Your phone number') && document.getElementById('pv-input') && !document.getElementById('pv-input').value").await;
        set(&browser, "#pv-input", "+44 20 7946 0958", "input").await;
        js(&browser, "[...document.querySelectorAll('#pv-controls button')].find(b => b.textContent === 'Send').click(); return true").await;
        until(&browser, "the lead it would create", "[...document.querySelectorAll('#pv-log li.pv-preview')].some(l => l.textContent.includes('would create lead'))").await;

        // Published with a note; a second version; the first restored and published.
        publish(&browser, "first", 1).await;
        let text = yaml(&browser).await;
        type_yaml(&browser, &text.replace(QUESTION, SECOND)).await;
        until(&browser, "no problems", "document.getElementById('ed-problems').textContent.includes('No problems')").await;
        publish(&browser, "second", 2).await;
        until(&browser, "both versions", "document.querySelectorAll('#ed-versions tbody tr').length === 2").await;
        js(&browser, "window.confirm = function () { return true; }; var rows = document.querySelectorAll('#ed-versions tbody tr'); rows[rows.length - 1].querySelector('button').click(); return true").await;
        until(&browser, "the old text back", &format!("document.getElementById('ed-source').value.includes({QUESTION:?}) && !document.getElementById('ed-source').value.includes({SECOND:?})")).await;
        publish(&browser, "back to the first", 3).await;

        // Switched on and moved to the top of the list.
        let row = "[...document.querySelectorAll('#pb-list tbody tr')].find(r => r.textContent.includes('e2e-lead'))";
        until(&browser, "the switch", &format!("{row} && !{row}.querySelector('input').disabled")).await;
        js(&browser, &format!("{row}.querySelector('input').click(); return true")).await;
        until(&browser, "switched on", "document.getElementById('page-status').textContent.includes('is on')").await;
        until(&browser, "at the top", &format!("(() => {{ var rows = [...document.querySelectorAll('#pb-list tbody tr')]; var r = {row}; if (rows.indexOf(r) > 0) {{ r.querySelector('.pb-order button').click(); }} return rows.indexOf(r) === 0 && r.querySelector('input').checked; }})()")).await;

        // A visitor on the demo pricing page gets it: the restored question.
        browser.enter_parent_frame().await.unwrap();
        browser.goto(&format!("{url}/demo/pricing")).await.unwrap();
        shown(&browser, "#concierge .cnc-launcher").await;
        wait_message(&browser, "How big is your team?").await;
        shown(&browser, "#concierge .cnc-launcher")
            .await
            .click()
            .await
            .unwrap();
        shown(&browser, "#concierge .cnc-panel").await;
        choice(&browser, "50+").await.click().await.unwrap();
        wait_message(&browser, QUESTION).await;
    })
    .await;

    let mut conn = app.state.db.conn().unwrap();
    let company = concierge::db::companies::first(&mut conn).unwrap().unwrap();
    let published = concierge::db::playbooks::published(&mut conn, &company.id).unwrap();
    let top = published.first().expect("published playbooks");
    assert_eq!(top.document.slug, "e2e-lead", "first by priority");
    assert!(top.enabled);
    assert_eq!(top.version, 3);
}
