//! The settings page in a real browser, opened through the sandbox CRM's shell as the CRM
//! does: an admin creates a playbook, breaks a transition and sees the problem on its card
//! as they type, fixes it, publishes with a note and switches it on; a playbook whose
//! texts are markup stays text; the page fits 360 px in the dark theme; a rep gets 403.

use fantoccini::{Client, Locator};

use serde_json::Value;

use crate::browser::{in_browser, js, shown};
use crate::common::{TestApp, TestDb};
use crate::crm_support::install_app;
use crate::wait::eventually;

pub(crate) const ADMIN: i64 = 1001;
const REP: i64 = 1002;
const PAYLOAD: &str = r#"<img src=x onerror="window.__xss=1">"#;

pub(crate) async fn open_settings(browser: &Client, url: &str, user: i64, theme: &str) {
    browser
        .goto(&format!(
            "{url}/sandbox/app?user={user}&surface=settings&theme={theme}"
        ))
        .await
        .unwrap();
    shown(browser, "#app-frame")
        .await
        .enter_frame()
        .await
        .unwrap();
}

/// Wait until `script` (an expression) is true in the page.
pub(crate) async fn until(browser: &Client, what: &str, script: &str) {
    let probe = format!("return !!({script})");
    eventually(what, || async {
        js(browser, &probe).await.as_bool().filter(|b| *b)
    })
    .await;
}

pub(crate) async fn text_of(browser: &Client, css: &str) -> String {
    js(
        browser,
        &format!("var e = document.querySelector({css:?}); return e ? e.textContent : ''"),
    )
    .await
    .as_str()
    .unwrap_or("")
    .to_owned()
}

/// Put `text` in the YAML editor as typing would.
pub(crate) async fn type_yaml(browser: &Client, text: &str) {
    let arg = Value::String(text.to_owned());
    browser
        .execute(
            "var a = document.getElementById('ed-source'); a.value = arguments[0]; \
             a.dispatchEvent(new Event('input'));",
            vec![arg],
        )
        .await
        .unwrap();
}

/// Press a button the way a user's click does (the DOM's own click, so a scroll in
/// progress cannot make it miss).
pub(crate) async fn click(browser: &Client, css: &str) {
    let pressed = js(
        browser,
        &format!("var b = document.querySelector({css:?}); if (!b) {{ return false; }} b.click(); return true"),
    )
    .await;
    assert_eq!(pressed, Value::Bool(true), "{css} missing");
}

#[tokio::test]
async fn an_admin_builds_checks_publishes_and_switches_on_a_playbook() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    install_app(&app, ADMIN).await;
    in_browser(&app, |browser, url| async move {
        open_settings(&browser, &url, ADMIN, "dark").await;
        until(&browser, "the template list", "document.querySelectorAll('#pb-template option').length > 1").await;
        until(&browser, "the playbook list", "document.querySelectorAll('#pb-list tbody tr').length > 1").await;

        // A new playbook from the blank template.
        browser
            .find(Locator::Css("#pb-slug"))
            .await
            .unwrap()
            .send_keys("browser-test")
            .await
            .unwrap();
        click(&browser, "#pb-create").await;
        until(&browser, "the editor", "!document.getElementById('editor').hidden && document.getElementById('ed-source').value.includes('slug: browser-test')").await;
        let source = js(&browser, "return document.getElementById('ed-source').value").await;
        let source = source.as_str().unwrap().to_owned();

        // A dangling transition: the problem shows on its card while typing.
        type_yaml(&browser, &source.replace("next: done", "next: nowhere")).await;
        until(&browser, "the problem on card 'welcome'", "document.getElementById('ed-problems').textContent.includes(\"card 'welcome'\") && document.getElementById('ed-problems').textContent.includes('nowhere')").await;
        // The flow graph marks the card and draws the transition to nowhere.
        until(&browser, "the card marked in the graph", "document.querySelector('#ed-graph g.bad[data-card=\"welcome\"]') && document.querySelector('#ed-graph line.missing')").await;
        // Publishing is refused.
        click(&browser, "#ed-publish").await;
        until(&browser, "the refusal", "document.getElementById('page-status').textContent.includes('problems')").await;

        // Fixed, with markup in the name and the message: published with a note.
        let fixed = source
            .replace("name: New playbook", &format!("name: {}", serde_json::to_string(PAYLOAD).unwrap()))
            .replace("\"Hi! How can we help?\"", &serde_json::to_string(PAYLOAD).unwrap());
        type_yaml(&browser, &fixed).await;
        until(&browser, "no problems", "document.getElementById('ed-problems').textContent.includes('No problems')").await;
        until(&browser, "a clean graph", "document.querySelectorAll('#ed-graph g').length === 2 && !document.querySelector('#ed-graph g.bad, #ed-graph line.missing')").await;
        // Clicking a card in the graph finds it in the YAML.
        let line = js(&browser, "document.querySelector('#ed-graph g[data-card=\"done\"]').dispatchEvent(new MouseEvent('click')); var a = document.getElementById('ed-source'); return a.value.slice(a.selectionStart, a.selectionEnd)").await;
        assert_eq!(line, "  - id: done");
        browser
            .find(Locator::Css("#ed-note"))
            .await
            .unwrap()
            .send_keys("first version")
            .await
            .unwrap();
        click(&browser, "#ed-publish").await;
        until(&browser, "version 1", "document.getElementById('page-status').textContent.includes('Published version 1')").await;
        until(&browser, "the version list", "document.getElementById('ed-versions').textContent.includes('first version')").await;

        // Switched on from the list.
        until(&browser, "the switch", "[...document.querySelectorAll('#pb-list tbody tr')].some(r => r.textContent.includes('browser-test') && !r.querySelector('input').disabled)").await;
        js(&browser, "[...document.querySelectorAll('#pb-list tbody tr')].find(r => r.textContent.includes('browser-test')).querySelector('input').click(); return true").await;
        until(&browser, "switched on", "document.getElementById('page-status').textContent.includes('is on')").await;
        until(&browser, "the audit log", "document.getElementById('audit-list').textContent.includes('playbook.switch_on')").await;

        // The markup stayed text everywhere.
        let list = text_of(&browser, "#pb-list").await;
        assert!(list.contains(PAYLOAD), "{list}");
        crate::browser::handlers_have_run(&browser).await;
        let xss = js(&browser, "return window.__xss === undefined && !document.querySelector('#pb-list img, #ed-versions img, #audit-list img')").await;
        assert_eq!(xss, Value::Bool(true));

        // 360 px wide (the CRM's floating window), dark theme: nothing overflows the page.
        browser.enter_parent_frame().await.unwrap();
        browser.set_window_size(360, 760).await.unwrap();
        browser
            .goto(&format!("{url}/settings?theme=dark"))
            .await
            .unwrap();
        until(&browser, "the page at 360 px", "document.querySelectorAll('#pb-list tbody tr').length > 1").await;
        let theme = js(&browser, "return document.documentElement.getAttribute('data-theme')").await;
        assert_eq!(theme, "dark");
        let wide = js(&browser, "var w = document.documentElement.clientWidth; return [w, document.documentElement.scrollWidth]").await;
        assert!(
            wide[1].as_i64().unwrap() <= wide[0].as_i64().unwrap() + 1,
            "the page scrolls sideways at 360 px: {wide} {}",
            js(&browser, "var w = document.documentElement.clientWidth; return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest('.scroll, nav.side')).slice(0, 12).map(e => e.tagName + '#' + e.id + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().right)).join(' ')").await
        );
    })
    .await;

    let mut conn = app.state.db.conn().unwrap();
    let company = concierge::db::companies::first(&mut conn).unwrap().unwrap();
    let published = concierge::db::playbooks::published(&mut conn, &company.id).unwrap();
    let pb = published
        .iter()
        .find(|p| p.document.slug == "browser-test")
        .expect("published");
    assert!(pb.enabled);
    assert_eq!(pb.version, 1);
    assert_eq!(pb.document.name, PAYLOAD);
}

#[tokio::test]
async fn a_rep_gets_the_admins_only_page() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    install_app(&app, ADMIN).await;
    in_browser(&app, |browser, url| async move {
        open_settings(&browser, &url, REP, "light").await;
        until(
            &browser,
            "the 403 page",
            "document.body && document.body.textContent.includes('Admins only')",
        )
        .await;
        let sections = js(
            &browser,
            "return document.querySelectorAll('section').length",
        )
        .await;
        assert_eq!(sections, 0);
    })
    .await;
}
