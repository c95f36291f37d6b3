//! The settings page's playbook form in a real browser: an admin creates a playbook from a
//! template, edits a question in its card's form and sees the YAML view follow, breaks a
//! transition in the YAML and sees the problem on that card's form, fixes it by choosing a
//! card from the list, adds, moves and deletes a card, and sets the trigger and targeting,
//! testing a page address. The "Describe it" box, against the generator's fake provider,
//! shows the change and the paths, loads the draft into the editor only when accepted (and
//! saves nothing), and says a failure plainly, leaving the editor's draft as it was.

use serde_json::Value;

use std::time::Duration;

use crate::ai_generate::{DANGLING, FakeModel, Reply, VALID};
use crate::browser::{in_browser, js};
use crate::browser_admin::{ADMIN, click, open_settings, type_yaml, until};
use crate::common::{TestApp, TestDb};
use crate::crm_support::install_app;

/// Set a form control's value and fire the event the form listens to.
pub(crate) async fn set(browser: &fantoccini::Client, css: &str, value: &str, event: &str) {
    let done = browser
        .execute(
            "var e = document.querySelector(arguments[0]); if (!e) { return false; } \
             e.value = arguments[1]; e.dispatchEvent(new Event(arguments[2])); return true",
            vec![
                Value::String(css.to_owned()),
                Value::String(value.to_owned()),
                Value::String(event.to_owned()),
            ],
        )
        .await
        .unwrap();
    assert_eq!(done, Value::Bool(true), "{css} missing");
}

pub(crate) async fn yaml(browser: &fantoccini::Client) -> String {
    js(browser, "return document.getElementById('ed-source').value")
        .await
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// The demo company's playbook of this slug as stored.
fn stored(app: &TestApp, slug: &str) -> concierge::db::playbooks::PlaybookRow {
    let mut conn = app.state.db.conn().unwrap();
    let company = concierge::db::companies::first(&mut conn).unwrap().unwrap();
    concierge::db::playbooks::list(&mut conn, &company.id)
        .unwrap()
        .into_iter()
        .find(|r| r.slug == slug)
        .expect("created")
}

#[tokio::test]
async fn the_form_and_the_yaml_view_are_one_draft() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    install_app(&app, ADMIN).await;
    in_browser(&app, |browser, url| async move {
        open_settings(&browser, &url, ADMIN, "light").await;
        until(&browser, "the template list", "[...document.querySelectorAll('#pb-template option')].some(o => o.textContent === 'Lead qualification')").await;
        js(&browser, "var s = document.getElementById('pb-template'); s.value = [...s.options].find(o => o.textContent === 'Lead qualification').value; return true").await;
        set(&browser, "#pb-slug", "form-test", "input").await;
        click(&browser, "#pb-create").await;
        until(&browser, "the form", "document.querySelector('#ed-form details.pf-card[data-card=\"email\"]') && document.getElementById('ed-source').value.includes('slug: form-test')").await;

        // A click on the card in the graph opens its form.
        js(&browser, "document.querySelector('#ed-graph g[data-card=\"email\"]').dispatchEvent(new MouseEvent('click')); return true").await;
        until(&browser, "the email card open", "document.querySelector('details.pf-card[data-card=\"email\"]').open").await;

        // The question edited in the form: the YAML view follows.
        let card = "details.pf-card[data-card=\"email\"]";
        set(&browser, &format!("{card} textarea"), "Your work e-mail, please?", "input").await;
        until(&browser, "the YAML following the form", "document.getElementById('ed-source').value.includes('text: \"Your work e-mail, please?\"') || document.getElementById('ed-source').value.includes('text: Your work e-mail, please?')").await;
        let text = yaml(&browser).await;
        assert!(text.starts_with("slug: form-test\nname: "), "{text}");
        assert!(!text.contains("*work*"), "{text}");

        // A dangling transition typed in the YAML: the problem shows on the card's form and
        // the transition list names the missing card.
        type_yaml(&browser, &text.replace("next: route", "next: nowhere")).await;
        until(&browser, "the problem on the card's form", &format!("document.querySelector('{card} .pf-problems') && document.querySelector('{card} .pf-problems').textContent.includes('nowhere')")).await;
        let chosen = js(&browser, &format!("var s = document.querySelector('{card} select[data-transition=\"next\"]'); return s.options[s.selectedIndex].textContent")).await;
        assert_eq!(chosen, "nowhere (no such card)");

        // Fixed by choosing a card from the list.
        set(&browser, &format!("{card} select[data-transition=\"next\"]"), "route", "change").await;
        until(&browser, "no problems", "document.getElementById('ed-problems').textContent.includes('No problems') && !document.getElementById('ed-source').value.includes('nowhere')").await;

        // A card added, moved up and deleted.
        set(&browser, "#pf-new-type", "end", "change").await;
        set(&browser, "#pf-new-id", "goodbye", "input").await;
        click(&browser, "#pf-add").await;
        until(&browser, "the new card in the YAML", "document.getElementById('ed-source').value.includes('id: goodbye') && document.querySelector('#ed-graph g[data-card=\"goodbye\"]')").await;
        let last = js(&browser, "var c = document.querySelectorAll('details.pf-card'); return c[c.length - 1].getAttribute('data-card')").await;
        assert_eq!(last, "goodbye");
        js(&browser, "[...document.querySelectorAll('details.pf-card[data-card=\"goodbye\"] button')].find(b => b.textContent === 'Move up').click(); return true").await;
        until(&browser, "the card moved up in the YAML", "(v => v.indexOf('id: goodbye') < v.indexOf('id: no_contact'))(document.getElementById('ed-source').value)").await;
        js(&browser, "window.confirm = function () { return true; }; [...document.querySelectorAll('details.pf-card[data-card=\"goodbye\"] button')].find(b => b.textContent === 'Delete card').click(); return true").await;
        until(&browser, "the card gone", "!document.getElementById('ed-source').value.includes('goodbye') && !document.querySelector('details.pf-card[data-card=\"goodbye\"]')").await;

        // Trigger and targeting: a click trigger with its selector, a page excluded, and
        // the "test a page address" box.
        set(&browser, "select[name=\"trigger.on\"]", "click", "change").await;
        until(&browser, "the selector field", "[...document.querySelectorAll('#pf-trigger .pf-row')].some(r => !r.hidden && r.textContent.includes('CSS selector'))").await;
        js(&browser, "var r = [...document.querySelectorAll('#pf-trigger .pf-row')].find(r => r.textContent.includes('CSS selector')); var i = r.querySelector('input'); i.value = '#talk'; i.dispatchEvent(new Event('input')); return true").await;
        let seen = crate::wait::eventually("the trigger in the YAML", || async {
            let v = yaml(&browser).await;
            (v.contains("selector: \"#talk\"") && !v.contains("delay_seconds")).then_some(v)
        })
        .await;
        assert!(seen.contains("\n  \"on\": click\n"), "{seen}");
        js(&browser, "var i = document.querySelector('#pf-trigger input[aria-label=\"A page address to test\"]'); i.value = 'https://example.com/blog/news'; i.dispatchEvent(new Event('input')); return true").await;
        until(&browser, "the blog excluded", "document.getElementById('pf-url-result').textContent.includes('excluded by /blog/*')").await;
        js(&browser, "var i = document.querySelector('#pf-trigger input[aria-label=\"A page address to test\"]'); i.value = 'https://example.com/pricing/teams'; i.dispatchEvent(new Event('input')); return true").await;
        until(&browser, "pricing shown", "document.getElementById('pf-url-result').textContent.includes('matches /pricing*')").await;

        // Without a model, the "Describe it" box says how to configure one.
        until(&browser, "the generator's status", "document.getElementById('ai-status').textContent.includes('No AI model is configured. Set CONCIERGE_AI_URL') && document.getElementById('ai-form').hidden").await;

        // Saved, the draft is what the form shows.
        click(&browser, "#ed-save").await;
        until(&browser, "saved", "document.getElementById('page-status').textContent.includes('Draft saved')").await;

        // R8: every payload of the set, as the name, a text and a card id, stays text in
        // the form, its card list and the graph (this draft is not saved).
        let payloads = crate::browser::xss_payloads();
        let all = serde_json::to_string(&payloads.join(" ")).unwrap();
        let id = serde_json::to_string(&payloads[1]).unwrap();
        let text = yaml(&browser).await;
        let hostile = text
            .lines()
            .map(|l| {
                if l.starts_with("name: ") {
                    format!("name: {all}")
                } else if l.starts_with("    text: \"Hi") {
                    format!("    text: {all}")
                } else {
                    l.replace("id: thanks", &format!("id: {id}")).replace("next: thanks", &format!("next: {id}"))
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        type_yaml(&browser, &hostile).await;
        until(&browser, "the hostile card in the form and graph", &format!("[...document.querySelectorAll('details.pf-card')].some(d => d.getAttribute('data-card') === {id}) && [...document.querySelectorAll('#ed-graph g')].some(g => g.getAttribute('data-card') === {id})")).await;
        js(&browser, "document.querySelectorAll('details.pf-card').forEach(d => d.open = true); return true").await;
        crate::browser::handlers_have_run(&browser).await;
        let inert = js(&browser, "return window.__xss === undefined && !document.querySelector('#ed-form img, #ed-form script, #ed-form iframe, #ed-form svg, #ed-form math, #ed-form a, #ed-graph img, #ed-graph script, #ed-graph foreignObject, #ed-problems img')").await;
        assert_eq!(inert, Value::Bool(true));
        let name = js(&browser, "return document.querySelector('#ed-form input').value").await;
        assert_eq!(name.as_str().unwrap(), payloads.join(" "));
    })
    .await;

    let row = stored(&app, "form-test");
    let draft: Value = serde_json::from_str(&row.draft).unwrap();
    let email = draft["cards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "email")
        .unwrap();
    assert_eq!(email["text"], "Your work e-mail, please?");
    assert_eq!(email["next"], "route");
    assert_eq!(draft["trigger"]["on"], "click");
    assert_eq!(draft["trigger"]["selector"], "#talk");
}

#[tokio::test]
async fn a_described_flow_is_shown_as_a_change_then_loaded_into_the_editor() {
    let model = FakeModel::start(vec![
        Reply::Answer(VALID),
        Reply::Answer(DANGLING),
        Reply::Answer(DANGLING),
        Reply::Answer(DANGLING),
    ]);
    let settings = model.settings(Duration::from_secs(10));
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| c.ai = Some(settings)).await;
    install_app(&app, ADMIN).await;
    in_browser(&app, |browser, url| async move {
        open_settings(&browser, &url, ADMIN, "light").await;
        until(&browser, "the template list", "document.querySelectorAll('#pb-template option').length > 1").await;
        set(&browser, "#pb-slug", "described", "input").await;
        click(&browser, "#pb-create").await;
        until(&browser, "the editor", "document.getElementById('ed-source').value.includes('slug: described')").await;
        until(&browser, "the box", "!document.getElementById('ai-form').hidden && document.getElementById('ai-status').textContent.includes('recorded-model')").await;
        js(&browser, "document.getElementById('ai-box').open = true; return true").await;
        set(&browser, "#ai-text", "qualify by team size and budget, hand big teams to a rep", "input").await;
        click(&browser, "#ai-go").await;
        // The change is shown first, with the paths; the editor still holds the old draft.
        until(&browser, "the proposed change", "!document.getElementById('ai-result').hidden && document.getElementById('ai-diff').textContent.includes('+   - id: team_size')").await;
        let diff = js(&browser, "var d = document.getElementById('ai-diff'); var old = document.getElementById('ed-source').value.split('\\n'); var ctx = [...d.querySelectorAll('span.ctx')].map(s => s.textContent); return [d.textContent, ctx.length, document.getElementById('ai-counts').textContent, ctx.every(t => t.startsWith('  ') && old.includes(t.slice(2, -1)))]").await;
        let diff_text = diff[0].as_str().unwrap();
        // Unchanged lines of the open draft around each change say where it is; the slug
        // is the open playbook's, whatever the model chose.
        assert!(diff[1].as_u64().unwrap() > 0, "{diff_text}");
        assert_eq!(diff[3], Value::Bool(true), "{diff_text}");
        assert!(!diff_text.contains("+ slug:"), "{diff_text}");
        // A replaced line reads old first, then new.
        let (old, new) = (diff_text.find("- name: New playbook"), diff_text.find("+ name: Team size qualification"));
        assert!(old.is_some() && old < new, "{diff_text}");
        assert!(diff[2].as_str().unwrap().contains("lines added"), "{diff:?}");
        // The paths as the editor and `concierge playbook paths` list them.
        let paths = js(&browser, "return document.getElementById('ai-paths').textContent").await;
        let paths = paths.as_str().unwrap();
        assert!(paths.contains("Path 3: handed to a rep\n   welcome (message)"), "{paths}");
        let before = js(&browser, "return document.getElementById('ed-source').value.includes('team_size')").await;
        assert_eq!(before, Value::Bool(false));
        // Accepted: the draft is in the editor, its slug kept, the form and graph follow.
        click(&browser, "#ai-accept").await;
        until(&browser, "the draft in the editor", "document.getElementById('ed-source').value.includes('id: team_size') && document.getElementById('ed-source').value.includes('slug: described')").await;
        until(&browser, "the form and graph", "document.querySelector('details.pf-card[data-card=\"team_size\"]') && document.querySelector('#ed-graph g[data-card=\"team_size\"]') && document.getElementById('ed-problems').textContent.includes('No problems')").await;
        until(&browser, "the box says it is not saved", "document.getElementById('ai-status').textContent.includes('not saved yet')").await;

        // A description the model keeps getting wrong: a clear failure with the last
        // problems, and the editor's draft as it was.
        set(&browser, "#ai-text", "qualify by team size", "input").await;
        click(&browser, "#ai-go").await;
        until(&browser, "the failure", "document.getElementById('ai-status').className.includes('bad')").await;
        let failure = js(&browser, "return [document.getElementById('ai-status').textContent, [...document.querySelectorAll('#ai-problems li')].map(l => l.textContent), document.getElementById('ai-result').hidden, document.getElementById('ed-source').value]").await;
        let message = failure[0].as_str().unwrap();
        assert!(message.contains("after 3 answer(s)") && message.contains("The editor's draft is unchanged"), "{message}");
        let problems: Vec<&str> = failure[1].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
        assert!(problems.iter().any(|p| p.starts_with("card 'welcome':") && p.contains("team_sizes")), "{problems:?}");
        assert_eq!(failure[2], Value::Bool(true));
        assert!(failure[3].as_str().unwrap().contains("id: team_size"));
    })
    .await;

    // Nothing reached storage: the saved draft is still the blank one, and unpublished.
    let row = stored(&app, "described");
    assert!(!row.draft.contains("team_size"), "{}", row.draft);
    assert_eq!(row.published_version, None);
}
