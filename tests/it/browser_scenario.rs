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

/// The settings page with the preview running, at 1280 and 360 px, in `theme`.
async fn screenshots(browser: &fantoccini::Client, theme: &str) {
    js(
        browser,
        "document.getElementById('pv-box').scrollIntoView(); return true",
    )
    .await;
    for width in [1280, 360] {
        browser.enter_parent_frame().await.unwrap();
        browser.set_window_size(width, 900).await.unwrap();
        // At 360 px the page fills the window, as in the CRM's floating window (the shell's
        // side bar would leave it a sliver).
        let fill = if width == 360 {
            "position:fixed;inset:0;width:100vw;height:100vh;z-index:9"
        } else {
            "width:100%;height:760px"
        };
        js(
            browser,
            &format!("document.getElementById('app-frame').style.cssText = {fill:?}; return true"),
        )
        .await;
        shown(browser, "#app-frame")
            .await
            .enter_frame()
            .await
            .unwrap();
        js(
            browser,
            "document.getElementById('pv-box').scrollIntoView(); return true",
        )
        .await;
        let shot = std::env::temp_dir().join(format!("concierge-preview-{theme}-{width}.png"));
        std::fs::write(&shot, browser.screenshot().await.unwrap()).unwrap();
        println!("screenshot: {}", shot.display());
    }
    browser.enter_parent_frame().await.unwrap();
    browser.set_window_size(1280, 900).await.unwrap();
    shown(browser, "#app-frame")
        .await
        .enter_frame()
        .await
        .unwrap();
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

        // The preview with nobody online, in the real widget: the edited question, then
        // the lead it would create, in place of a real one.
        js(&browser, "document.getElementById('pv-section').open = true; return true").await;
        set(&browser, "#pv-reps", "offline", "change").await;
        click(&browser, "#pv-start").await;
        let buttons = "[...document.querySelectorAll('#pv-widget .cnc-choices button')]";
        until(&browser, "the preview's buttons", &format!("{buttons}.some(b => b.textContent === '50+')")).await;
        js(&browser, &format!("{buttons}.find(b => b.textContent === '50+').click(); return true")).await;
        let log = "document.querySelector('#pv-widget .cnc-log').textContent";
        until(&browser, "the question in the preview", &format!("{log}.includes({QUESTION:?}) && document.querySelector('#pv-widget #cnc-input').type === 'email'")).await;
        set(&browser, "#cnc-input", "ann@acme.test", "input").await;
        click(&browser, "#pv-widget .cnc-send").await;
        until(&browser, "the offline branch's question", &format!("{log}.includes('Your phone number') && !document.getElementById('cnc-input').value")).await;
        set(&browser, "#cnc-input", "+44 20 7946 0958", "input").await;
        click(&browser, "#pv-widget .cnc-send").await;
        until(&browser, "the lead it would create", "[...document.querySelectorAll('#pv-widget .cnc-system')].some(l => l.textContent.includes('would create lead'))").await;
        // The widget's own look: the visitor's answers on its side, rich text rendered.
        let look = js(&browser, &format!("return [{log}.includes('**'), document.querySelectorAll('#pv-widget .cnc-visitor').length, !!document.querySelector('#pv-widget .cnc-head .cnc-name').textContent]")).await;
        assert_eq!(look, serde_json::json!([false, 3, true]));
        screenshots(&browser, "light").await;

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

/// R8 in the preview: a draft whose texts carry the whole payload set runs in the real
/// widget (dark theme), and every payload stays text — no element, handler or link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playbook_payloads_stay_inert_in_the_preview() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    install_app(&app, ADMIN).await;
    in_browser(&app, |browser, url| async move {
        open_settings(&browser, &url, ADMIN, "dark").await;
        until(&browser, "the template list", "document.querySelectorAll('#pb-template option').length > 1").await;
        set(&browser, "#pb-slug", "xss-preview", "input").await;
        click(&browser, "#pb-create").await;
        until(&browser, "the editor", "document.getElementById('ed-source').value.includes('slug: xss-preview')").await;
        let payloads = crate::browser::xss_payloads();
        let all = serde_json::to_string(&payloads.join("\n")).unwrap();
        let text = yaml(&browser).await;
        assert!(text.contains("text: \"Hi! How can we help?\""), "{text}");
        type_yaml(&browser, &text.replace("\"Hi! How can we help?\"", &all)).await;
        until(&browser, "no problems", "document.getElementById('ed-problems').textContent.includes('No problems')").await;

        js(&browser, "document.getElementById('pv-section').open = true; return true").await;
        click(&browser, "#pv-start").await;
        until(&browser, "the end of the preview", "[...document.querySelectorAll('#pv-widget .cnc-system')].some(l => l.textContent.includes('the flow ends here'))").await;
        crate::browser::handlers_have_run(&browser).await;
        let report = js(&browser, "var w = document.getElementById('pv-widget'); \
            var els = [...w.querySelectorAll('*')]; \
            return { \
              xss: String(window.__xss), \
              handlers: els.filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).map(e => e.tagName), \
              active: els.filter(e => /^(SCRIPT|IFRAME|OBJECT|EMBED|svg|math|FORM|BASE|META|LINK|STYLE)$/.test(e.tagName) && !e.classList.contains('cnc-form')).map(e => e.tagName), \
              hrefs: [...w.querySelectorAll('a')].map(a => a.href).filter(h => !/^(https?|mailto|tel):/.test(h)), \
              text: w.querySelector('.cnc-log').textContent }").await;
        assert_eq!(report["xss"], "undefined", "{report:#}");
        assert_eq!(report["handlers"], serde_json::json!([]), "{report:#}");
        assert_eq!(report["active"], serde_json::json!([]), "{report:#}");
        assert_eq!(report["hrefs"], serde_json::json!([]), "{report:#}");
        let shown = report["text"].as_str().unwrap();
        for p in ["<script>window.__xss=1</script>", "<svg onload=window.__xss=1>"] {
            assert!(shown.contains(p), "{p} is shown as text");
        }
        screenshots(&browser, "dark").await;
    })
    .await;
}
