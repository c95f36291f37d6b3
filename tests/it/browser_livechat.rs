//! Live chat in real browsers: a visitor on the demo pricing page and a rep in the sandbox
//! CRM's inbox (two headless Chromiums, one profile each). Nobody online gives the offline
//! branch at once; with the rep online the chat waits in Unassigned, the rep takes it, they
//! talk both ways in real time (typing indicators too), markup typed on either side stays
//! text (R8), going offline hands the chat back, a lead is created from the side panel and
//! the chat is closed — and the sandbox holds the lead and the transcript note once each.
//! Screenshots of the inbox at 1280 and 360 px, light and dark, go to the temp directory.
//! `reconnect`: the inbox's and the widget's event streams after an error answer.

mod reconnect;

use std::time::{Duration, Instant};

use crate::browser::{
    Began, ChromeDriver, ONE_BROWSER, choice, demo_company, js, report_failure, say, shown,
    wait_message,
};
use crate::common::{TestApp, TestDb};
use crate::crm_support::install_app;
use crate::wait::eventually;
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use serde_json::json;

/// Ben, a rep of the sandbox company (Ada, 1001, is its admin).
pub(crate) const REP: i64 = 1002;

/// What a visitor or a rep might type to break the page.
const PAYLOADS: [&str; 4] = [
    r#"<img src=x onerror="window.__xss=1">"#,
    "<script>window.__xss=1</script>",
    r#"[click](javascript:window.__xss=1) <svg onload=window.__xss=1>"#,
    r#""><iframe src=javascript:window.__xss=1></iframe>"#,
];

async fn shot(browser: &Client, name: &str) {
    let path = std::env::temp_dir().join(format!("concierge-inbox-{name}.png"));
    let png = browser.screenshot().await.expect("screenshot");
    std::fs::write(&path, png).expect("write screenshot");
    println!("screenshot: {}", path.display());
}

/// The text of the element `css` in the current frame ("" when there is none).
pub(crate) async fn text(browser: &Client, css: &str) -> String {
    let v = js(
        browser,
        &format!(
            "const e = document.querySelector({}); return e ? e.textContent : '';",
            json!(css)
        ),
    )
    .await;
    v.as_str().unwrap_or_default().to_owned()
}

/// Is the element `css` rendered (present, not hidden)?
pub(crate) async fn visible(browser: &Client, css: &str) -> bool {
    js(
        browser,
        &format!(
            "const e = document.querySelector({}); return !!e && e.getClientRects().length > 0;",
            json!(css)
        ),
    )
    .await
    .as_bool()
    .unwrap_or(false)
}

/// Wait until `css` holds text containing `want`.
pub(crate) async fn wait_text(browser: &Client, css: &str, want: &str) -> String {
    eventually(&format!("{css} to say {want:?}"), || async {
        let t = text(browser, css).await;
        t.contains(want).then_some(t)
    })
    .await
}

/// The transcript of the open chat in the inbox, as texts.
async fn transcript(browser: &Client) -> Vec<String> {
    let v = js(
        browser,
        "return [...document.querySelectorAll('#transcript .msg .text')].map(e => e.textContent)",
    )
    .await;
    serde_json::from_value(v).unwrap()
}

async fn wait_transcript(browser: &Client, want: &str) {
    eventually(&format!("the transcript to show {want:?}"), || async {
        transcript(browser)
            .await
            .iter()
            .any(|m| m.contains(want))
            .then_some(())
    })
    .await;
}

/// Open the rep's inbox the way the CRM does (the shell with the app in its iframe) and
/// step into the frame once the page knows who the rep is.
pub(crate) async fn open_inbox(browser: &Client, url: &str, user: i64, theme: &str) {
    browser
        .goto(&format!(
            "{url}/sandbox/app?user={user}&surface=inbox&theme={theme}"
        ))
        .await
        .unwrap();
    shown(browser, "#app-frame")
        .await
        .enter_frame()
        .await
        .unwrap();
    inbox_ready(browser).await;
}

pub(crate) async fn inbox_ready(browser: &Client) {
    eventually("the inbox to load the rep", || async {
        js(
            browser,
            "return !document.getElementById('online-toggle').disabled",
        )
        .await
        .as_bool()
        .filter(|ready| *ready)
    })
    .await;
}

/// Flip the online switch and wait for the page to show `want`.
pub(crate) async fn set_online(browser: &Client, online: bool) {
    js(
        browser,
        &format!(
            "const t = document.getElementById('online-toggle'); if (t.checked !== {online}) t.click(); return null;"
        ),
    )
    .await;
    let want = if online { "Online" } else { "Offline" };
    eventually(&format!("the switch to say {want}"), || async {
        (text(browser, "#online-label").await == want).then_some(())
    })
    .await;
}

/// Click the element `css`.
pub(crate) async fn click(browser: &Client, css: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Click the chat in the list whose text contains `who`. The list is drawn again on every
/// event, so the button is found and clicked in one try (a stale one is looked up again).
pub(crate) async fn open_chat(browser: &Client, who: &str) {
    eventually(&format!("a chat of {who} in the list, clicked"), || async {
        for b in browser
            .find_all(Locator::Css("#chat-list button"))
            .await
            .ok()?
        {
            if b.text().await.ok()?.contains(who) {
                return b.click().await.ok();
            }
        }
        None
    })
    .await;
    wait_text(browser, "#chat-title", who).await;
}

async fn folder(browser: &Client, name: &str) {
    click(browser, &format!("[data-folder=\"{name}\"]")).await;
}

pub(crate) async fn count(browser: &Client, name: &str) -> String {
    text(browser, &format!("[data-count=\"{name}\"]")).await
}

/// A visitor new to the site on the pricing page: answers "50+" and an e-mail address.
pub(crate) async fn qualify(visitor: &Client, url: &str, email: &str) {
    // The widget's token is forgotten on a page of the same site without the widget: a
    // widget page's session answer still on its way would write its token back after the
    // clearing (and the "new" visitor would resume the last one's waiting flow, where the
    // trigger rightly starts nothing).
    visitor.goto(&format!("{url}/")).await.unwrap();
    js(visitor, "localStorage.clear(); return null").await;
    visitor.goto(&format!("{url}/demo/pricing")).await.unwrap();
    shown(visitor, "#concierge .cnc-bubble")
        .await
        .click()
        .await
        .unwrap();
    choice(visitor, "50+").await.click().await.unwrap();
    wait_message(visitor, "What's your work e-mail?").await;
    say(visitor, email).await;
}

async fn rep_says(rep: &Client, text: &str) {
    let reply = rep.find(Locator::Css("#reply")).await.unwrap();
    reply
        .send_keys(&format!("{text}{}", Key::Enter))
        .await
        .unwrap();
}

/// Nothing the payloads could have done happened in the current frame.
async fn inert(browser: &Client, scope: &str) {
    crate::browser::handlers_have_run(browser).await;
    let report = js(
        browser,
        &format!(
            "const root = document.querySelector({});
             return {{
               xss: typeof window.__xss,
               injected: root.querySelectorAll('img[src=\"x\"], script, svg, iframe').length,
               links: [...root.querySelectorAll('a')].map(a => a.href).filter(h => !/^https?:/.test(h)),
             }};",
            json!(scope)
        ),
    )
    .await;
    assert_eq!(
        report,
        json!({ "xss": "undefined", "injected": 0, "links": [] }),
        "{scope}"
    );
}

/// Run `scenario` with two browsers of their own (a rep's and a visitor's profile) and
/// close both whatever happens.
pub(crate) async fn rep_and_visitor<F, Fut>(app: &TestApp, scenario: F)
where
    F: FnOnce(Client, Client, String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let _turn = ONE_BROWSER.lock().await;
    let began = Began::now();
    let chromedriver = ChromeDriver::start().await;
    let (rep_profile, visitor_profile) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let rep = chromedriver.browser(rep_profile.path()).await;
    let visitor = chromedriver.browser(visitor_profile.path()).await;
    let outcome = tokio::spawn(scenario(rep.clone(), visitor.clone(), app.url.clone())).await;
    if outcome.is_err() {
        let browsers = [("rep", &rep), ("visitor", &visitor)];
        report_failure(app, began, &chromedriver, &browsers).await;
    }
    let _ = rep.close().await;
    let _ = visitor.close().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_and_a_rep_chat_live_and_the_lead_lands_in_the_crm_once() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    demo_company(&app);
    install_app(&app, 1001).await;
    let db = app.state.db.clone();
    rep_and_visitor(&app, |rep, visitor, url| live_chat(rep, visitor, url, db)).await;

    // The CRM holds one lead with its transcript note, whatever retries happened.
    let store = app.state.sandbox.as_ref().unwrap().snapshot();
    let leads: Vec<_> = store
        .leads
        .iter()
        .filter(|l| l.title.contains("ada.live@example.com"))
        .collect();
    assert_eq!(leads.len(), 1, "one lead: {:#?}", store.leads);
    let lead = &leads[0].id;
    let notes: Vec<_> = store
        .notes
        .iter()
        .filter(|n| n.lead_id.as_ref() == Some(lead))
        .collect();
    let transcripts: Vec<_> = notes
        .iter()
        .filter(|n| n.content.contains("Hello from the rep"))
        .collect();
    assert_eq!(transcripts.len(), 1, "one transcript note: {notes:#?}");
    assert!(
        transcripts[0].content.contains("&lt;script&gt;"),
        "markup in the transcript note is escaped"
    );
    let activities = store
        .activities
        .iter()
        .filter(|a| a.lead_id.as_ref() == Some(lead))
        .count();
    assert!(activities <= 1, "at most one activity on the lead");
    let persons = store
        .persons
        .iter()
        .filter(|p| p.emails.iter().any(|e| e.value == "ada.live@example.com"))
        .count();
    assert_eq!(persons, 1, "one person");
}

/// The widget header's picture: the image's address once it loaded, or the initials shown
/// in its place.
async fn header_picture(visitor: &Client) -> serde_json::Value {
    js(
        visitor,
        "const a = document.querySelector('#concierge .cnc-avatar');
         return a.tagName === 'IMG'
           ? { src: a.complete && a.naturalWidth > 0 ? a.src : 'loading' }
           : { initials: a.textContent };",
    )
    .await
}

async fn wait_picture(visitor: &Client, want: serde_json::Value) {
    eventually(&format!("the header's picture {want}"), || async {
        (header_picture(visitor).await == want).then_some(())
    })
    .await;
}

/// Forget the CRM's picture of the rep (as if the CRM had none).
async fn drop_picture(db: &concierge::db::Db) {
    use concierge::db::schema::crm_users;
    use diesel::prelude::*;
    db.run(|conn| {
        diesel::update(crm_users::table.filter(crm_users::crm_user_id.eq(REP)))
            .set(crm_users::icon_url.eq(None::<String>))
            .execute(conn)
            .map_err(concierge::db::DbError::from)
    })
    .await
    .unwrap();
}

async fn live_chat(rep: Client, visitor: Client, url: String, db: concierge::db::Db) {
    // The rep is offline: the inbox says what to do.
    open_inbox(&rep, &url, REP, "light").await;
    wait_text(
        &rep,
        "#list-empty",
        "You are offline — switch on to receive chats",
    )
    .await;

    // Nobody online: the offline message and the offline branch at once.
    qualify(&visitor, &url, "offline@example.com").await;
    let asked = Instant::now();
    wait_message(&visitor, "Everyone is busy right now").await;
    wait_message(&visitor, "Your phone number, with its country code?").await;
    let offline_after = asked.elapsed();
    println!("offline branch shown {offline_after:?} after the e-mail");
    assert!(
        offline_after < Duration::from_secs(5),
        "at once, not after the wait"
    );

    // The rep switches on; a new visitor reaches the live-chat card and waits.
    set_online(&rep, true).await;
    wait_text(&rep, "#list-empty", "Nobody is waiting").await;
    qualify(&visitor, &url, "ada.live@example.com").await;
    wait_message(&visitor, "Connecting you with someone from sales").await;
    let queue = eventually("the visitor's place in the queue", || async {
        let t = text(&visitor, "#concierge .cnc-queue").await;
        (!t.is_empty()).then_some(t)
    })
    .await;
    assert!(queue.contains("number 1 in line"), "{queue}");

    // The rep sees it in Unassigned and takes it.
    open_chat(&rep, "ada.live@example.com").await;
    assert_eq!(count(&rep, "unassigned").await, "1");
    wait_transcript(&rep, "ada.live@example.com").await;
    assert!(text(&rep, "#chat-status").await.starts_with("Waiting"));
    // The side panel lists the pages the visitor loaded.
    let pages = js(
        &rep,
        "return [...document.querySelectorAll('#facts .pages li')].map(li => ({
           title: li.querySelector('.page-title').textContent,
           href: li.querySelector('.page-title').href,
           url: li.querySelector('.page-url').textContent,
         }))",
    )
    .await;
    assert_eq!(
        pages,
        json!([{
            "title": "Pricing · Acme CRM tools",
            "href": format!("{url}/demo/pricing"),
            "url": format!("{url}/demo/pricing"),
        }]),
        "the new visitor's one page"
    );
    wait_text(&rep, "#composer-hint", "Replying assigns the chat to you").await;
    click(&rep, "#assign-me").await;
    wait_text(&rep, "#chat-status", "With you").await;
    eventually("the chat to move to My chats", || async {
        (count(&rep, "mine").await == "1" && count(&rep, "unassigned").await == "0").then_some(())
    })
    .await;

    // The visitor sees who joined; the rep's name replaces the bot's.
    wait_message(&visitor, "Ben Rep joined the chat").await;
    wait_text(&visitor, "#concierge .cnc-name", "Ben Rep").await;
    wait_picture(
        &visitor,
        json!({"src": format!("{url}/sandbox/users/{REP}/icon.svg")}),
    )
    .await;
    assert!(!visible(&visitor, "#concierge .cnc-queue").await);

    // Typing, both ways.
    rep.find(Locator::Css("#reply"))
        .await
        .unwrap()
        .send_keys("Hel")
        .await
        .unwrap();
    wait_text(&visitor, "#concierge .cnc-typing", "Ben Rep is typing").await;
    rep.find(Locator::Css("#reply"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    visitor
        .find(Locator::Css("#concierge .cnc-input"))
        .await
        .unwrap()
        .send_keys("Hi")
        .await
        .unwrap();
    eventually("the visitor's typing in the inbox", || async {
        visible(&rep, "#typing").await.then_some(())
    })
    .await;

    // Messages, both ways, in real time.
    let sent = Instant::now();
    rep_says(&rep, "Hello from the rep, **Ben** here").await;
    wait_message(&visitor, "Hello from the rep, Ben here").await;
    println!("rep → visitor shown after {:?}", sent.elapsed());
    say(&visitor, " Ben, we are 80 people").await;
    let sent = Instant::now();
    wait_transcript(&rep, "Hi Ben, we are 80 people").await;
    println!("visitor → rep shown after {:?}", sent.elapsed());
    assert!(!visible(&rep, "#typing").await, "a message ends the typing");

    // R8: markup typed on either side is shown as text.
    for p in PAYLOADS {
        say(&visitor, p).await;
        rep_says(&rep, &format!("rep: {p}")).await;
    }
    wait_transcript(&rep, &format!("rep: {}", PAYLOADS[3])).await;
    wait_message(&visitor, &format!("rep: {}", PAYLOADS[3])).await;
    wait_transcript(&rep, PAYLOADS[3]).await;
    eventually("every payload shown as text in the inbox", || async {
        let shown = transcript(&rep).await;
        PAYLOADS
            .iter()
            .all(|p| shown.iter().any(|m| m == p))
            .then_some(())
    })
    .await;
    inert(&rep, "#transcript").await;
    inert(&rep, "#chat-list").await;
    inert(&visitor, "#concierge .cnc-log").await;

    // Screenshots: the CRM's full page, light and dark.
    shot(&rep, "1280-light").await;
    rep.enter_parent_frame().await.unwrap();
    click(&rep, "#theme-toggle").await;
    shown(&rep, "#app-frame").await.enter_frame().await.unwrap();
    eventually("the dark theme", || async {
        (js(&rep, "return document.documentElement.dataset.theme").await == "dark").then_some(())
    })
    .await;
    shot(&rep, "1280-dark").await;

    // The side panel is prefilled from the conversation; Create lead goes to the CRM and
    // says when it is done.
    let email = js(
        &rep,
        "return document.querySelector('#panel [name=\"person.email\"]').value",
    )
    .await;
    assert_eq!(email, "ada.live@example.com");
    // Narrower than 1100 px (the CRM's sidebar takes its share) the panel is behind
    // "Details".
    if visible(&rep, "#details-button").await {
        click(&rep, "#details-button").await;
    }
    rep.find(Locator::Css("#panel [name=\"org.name\"]"))
        .await
        .unwrap()
        .send_keys("Live Ltd")
        .await
        .unwrap();
    click(&rep, "[data-create=\"lead\"]").await;
    let record = wait_text(&rep, "#records", "Lead created · ").await;
    assert!(record.contains("Open in the CRM"), "{record}");

    // The rep goes offline: the chat goes back to Unassigned and the visitor is told.
    set_online(&rep, false).await;
    wait_text(&rep, "#chat-status", "Waiting").await;
    wait_message(&visitor, "Someone else from the team will answer").await;
    wait_text(&visitor, "#concierge .cnc-name", "Concierge").await;
    wait_picture(&visitor, json!({"initials": "C"})).await;

    // Back online, the rep takes it again and closes it; it stays in Closed. Without a
    // picture in the CRM the visitor sees the rep's initials.
    drop_picture(&db).await;
    set_online(&rep, true).await;
    click(&rep, "#assign-me").await;
    wait_text(&rep, "#chat-status", "With you").await;
    wait_picture(&visitor, json!({"initials": "BR"})).await;
    click(&rep, "#close-chat").await;
    wait_text(&rep, "#chat-status", "Closed").await;
    assert!(
        js(&rep, "return document.getElementById('reply').disabled")
            .await
            .as_bool()
            .unwrap()
    );
    folder(&rep, "closed").await;
    open_chat(&rep, "ada.live@example.com").await;
    // The panel still works after the close.
    assert!(
        js(
            &rep,
            "return document.querySelector('[data-create=\"deal\"]').disabled"
        )
        .await
        .as_bool()
            == Some(false)
    );

    // The floating window: 360 px wide, one pane at a time, light and dark.
    rep.set_window_size(360, 760).await.unwrap();
    rep.goto(&format!("{url}/inbox?theme=dark")).await.unwrap();
    inbox_ready(&rep).await;
    let overflow = js(
        &rep,
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
    )
    .await;
    assert_eq!(overflow, json!(0), "nothing wider than the window");
    folder(&rep, "closed").await;
    shot(&rep, "360-dark-list").await;
    open_chat(&rep, "ada.live@example.com").await;
    assert!(!visible(&rep, ".list-pane").await, "one pane at 360 px");
    shot(&rep, "360-dark-chat").await;
    rep.goto(&format!("{url}/inbox?theme=light")).await.unwrap();
    inbox_ready(&rep).await;
    folder(&rep, "closed").await;
    open_chat(&rep, "ada.live@example.com").await;
    shot(&rep, "360-light-chat").await;
    click(&rep, "#back").await;
    assert!(visible(&rep, ".list-pane").await);
    shot(&rep, "360-light-list").await;

    // Chat with yourself: the demo site beside an inbox.
    visitor
        .goto(&format!("{url}/sandbox/chat?user={REP}"))
        .await
        .unwrap();
    shown(&visitor, "#demo-frame").await;
    shown(&visitor, "#app-frame")
        .await
        .enter_frame()
        .await
        .unwrap();
    inbox_ready(&visitor).await;
    visitor.enter_parent_frame().await.unwrap();
    shot(&visitor, "side-by-side").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_with_yourself_puts_the_demo_site_beside_the_inbox_in_the_crm_shell() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    demo_company(&app);
    install_app(&app, 1001).await;
    crate::browser::in_browser(&app, |browser, url| async move {
        for (theme, width, name) in [
            ("light", "", "side-by-side-light"),
            ("dark", "&width=floating", "side-by-side-dark-floating"),
        ] {
            browser
                .goto(&format!(
                    "{url}/sandbox/chat?user={REP}&theme={theme}{width}"
                ))
                .await
                .unwrap();
            // The CRM shows the app once it initialised the SDK.
            wait_text(&browser, "#sdk-status", "App initialised the SDK").await;
            shown(&browser, "#demo-frame")
                .await
                .enter_frame()
                .await
                .unwrap();
            shown(&browser, "#concierge .cnc-launcher").await;
            browser.enter_parent_frame().await.unwrap();
            let frame = shown(&browser, "#app-frame").await;
            let frame_width = js(
                &browser,
                "return document.getElementById('app-frame').getBoundingClientRect().width",
            )
            .await;
            if !width.is_empty() {
                assert_eq!(frame_width, json!(360), "the floating window's width");
            }
            frame.enter_frame().await.unwrap();
            eventually("the inbox's script to run", || async {
                (text(&browser, "#list-empty").await != "Loading…").then_some(())
            })
            .await;
            assert_eq!(
                js(&browser, "return document.documentElement.dataset.theme").await,
                theme
            );
            browser.enter_parent_frame().await.unwrap();
            shot(&browser, name).await;
        }
    })
    .await;
}
