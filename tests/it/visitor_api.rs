//! The widget API over HTTP against the real server, on SQLite and PostgreSQL: sessions,
//! triggers, playbook turns and their effects, answer rules, history.

use crate::common::{TestApp, TestDb};
use crate::widget_support::*;
use concierge::db::{analytics, conversations, outbox, timers};
use serde_json::json;

#[tokio::test]
async fn a_session_starts_and_resumes_the_same_visitor() {
    for db in TestDb::all() {
        let app = TestApp::spawn(db).await;
        let company = company_with(&app, &[QUALIFY, SUPPORT]).await;
        let mut w = Widget::new(&app, &company);
        let first = w.session().await;
        let id = first["visitor"]["id"].as_str().unwrap().to_owned();
        assert_eq!(first["visitor"]["returning"], false);
        assert_eq!(first["visitor"]["known"], false);
        assert_eq!(first["settings"]["bot_name"], "Concierge");
        assert_eq!(first["texts"]["send"], "Send");
        assert!(first["conversation"].is_null());
        // The pricing page offers the page-load playbook (and the keyword one).
        let slugs: Vec<_> = first["triggers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["slug"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(slugs, ["qualify", "support"], "highest priority first");
        assert_eq!(first["triggers"][0]["on"], "page_load");

        // A reload in the same visit: same visitor, not yet returning.
        let again = w.session().await;
        assert_eq!(again["visitor"]["id"], id.as_str());
        assert_eq!(again["visitor"]["returning"], false);

        // An hour later: a new visit of the same visitor.
        let vid = id.clone();
        app.state
            .db
            .run(move |conn| {
                use concierge::db::schema::visitors;
                use diesel::prelude::*;
                diesel::update(visitors::table.find(vid))
                    .set(visitors::last_seen_at.eq(visitors::last_seen_at - 3_600_000))
                    .execute(conn)
                    .map_err(concierge::db::DbError::from)
            })
            .await
            .unwrap();
        let later = w.session().await;
        assert_eq!(later["visitor"]["id"], id.as_str());
        assert_eq!(later["visitor"]["returning"], true);

        // A page the playbook excludes does not offer it.
        w.page = "https://acme.test/pricing/secret".into();
        let excluded = w.session().await;
        assert_eq!(excluded["triggers"].as_array().unwrap().len(), 1);

        // A forged token starts a new visitor rather than failing.
        w.token = Some("forged.token.value".into());
        let fresh = w.session().await;
        assert_ne!(fresh["visitor"]["id"], id.as_str());

        // An unknown key is 404.
        w.key = "pk_nope".into();
        let r = w
            .post("session", json!({ "key": "pk_nope", "page": w.page() }))
            .await;
        assert_eq!(r.status, 404);
    }
}

#[tokio::test]
async fn a_playbook_for_some_languages_starts_only_for_their_speakers() {
    for db in TestDb::all() {
        let app = TestApp::spawn(db).await;
        let french = QUALIFY
            .replace("slug: qualify", "slug: qualify-fr")
            .replace(
                "  on: page_load\n",
                "  on: page_load\n  languages: [fr, de]\n",
            );
        let company = company_with(&app, &[&french, SUPPORT]).await;
        let slugs = |session: &serde_json::Value| -> Vec<String> {
            session["triggers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["slug"].as_str().unwrap().to_owned())
                .collect()
        };
        let mut english = Widget::new(&app, &company);
        assert_eq!(slugs(&english.session().await), ["support"]);
        let refused = english.trigger("qualify-fr", "page_load").await;
        assert_eq!(refused["messages"], json!([]), "{refused}");

        let mut canadian = Widget::new(&app, &company);
        canadian.language = "fr-CA".into();
        let session = canadian.session().await;
        assert_eq!(slugs(&session), ["qualify-fr", "support"]);
        assert_eq!(
            session["texts"]["send"], "Send",
            "the playbook's own language"
        );
        let started = canadian.trigger("qualify-fr", "page_load").await;
        assert_eq!(started["messages"][0]["text"], "Hello **there**!");

        // A click starts it for anyone: targeting is for automatic starts.
        let clicked = english.trigger("qualify-fr", "click").await;
        assert_eq!(clicked["messages"][0]["text"], "Hello **there**!");
    }
}

#[tokio::test]
async fn a_playbook_runs_through_buttons_questions_and_every_effect() {
    for db in TestDb::all() {
        let app = TestApp::spawn(db).await;
        let company = company_with(&app, &[QUALIFY]).await;
        let mut w = Widget::new(&app, &company);
        w.session().await;

        // A page the playbook does not target: nothing starts and no conversation opens.
        w.page = "https://acme.test/blog".into();
        let elsewhere = w.trigger("qualify", "page_load").await;
        assert!(elsewhere["conversation"].is_null(), "{elsewhere}");
        assert_eq!(elsewhere["messages"], json!([]));
        let r = w
            .post("trigger", json!({ "slug": "nope", "reason": "click" }))
            .await;
        assert_eq!(r.status, 404);
        w.page = "https://acme.test/pricing".into();

        let started = w.trigger("qualify", "page_load").await;
        assert_eq!(started["conversation"]["status"], "bot");
        let msgs = &started["messages"];
        assert_eq!(texts(msgs), ["Hello **there**!", "How big is your team?"]);
        assert_eq!(msgs[1]["author"], "bot");
        assert_eq!(msgs[1]["buttons"], json!(["1-10", "50+"]));
        assert_eq!(msgs[0]["seq"], 1);
        let question_id = msgs[1]["id"].as_str().unwrap().to_owned();

        // A second page-load trigger does not interrupt the running flow.
        let again = w.trigger("qualify", "page_load").await;
        assert_eq!(again["messages"], json!([]));

        let chosen = w.choose(&question_id, 1).await;
        assert_eq!(texts(&chosen["messages"]), ["50+", "Your e-mail?"]);
        assert_eq!(chosen["messages"][0]["author"], "visitor");
        assert_eq!(chosen["messages"][1]["input"], "email");

        // An invalid answer gets the retry text and the same question again.
        let retry = w.say("not an address").await;
        assert_eq!(
            texts(&retry["messages"]),
            [
                "not an address",
                "That is not an e-mail address.",
                "Your e-mail?"
            ]
        );

        let done = w.say("ann@acme.test").await;
        let done_texts = texts(&done["messages"]);
        assert_eq!(done_texts[0], "ann@acme.test");
        assert_eq!(
            done_texts[1], "Nobody is online right now — we'll call you back.",
            "live chat with nobody online: the offline message, then the offline branch"
        );
        let redirect = done["messages"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(redirect["author"], "system");
        assert_eq!(redirect["redirect"], "https://acme.test/docs");

        // The effects are in the database: outbox rows, variables, analytics, no timer.
        let conv_id = done["conversation"]["id"].as_str().unwrap().to_owned();
        let cid = company.id.clone();
        let (rows, vars, events, timers_armed) = app
            .state
            .db
            .run(move |conn| {
                let rows = outbox::for_company(conn, &cid, 10)?;
                let vars = conversations::variables(conn, &cid, &conv_id)?;
                let events = analytics::for_conversation(conn, &cid, &conv_id)?;
                let t = timers::for_conversation(conn, &cid, &conv_id)?;
                Ok::<_, concierge::db::DbError>((rows, vars, events, t))
            })
            .await
            .unwrap();
        let capture = rows
            .iter()
            .find(|r| r.kind == "capture")
            .expect("capture row");
        let payload: serde_json::Value = serde_json::from_str(&capture.payload).unwrap();
        assert_eq!(payload["person"]["email"], "ann@acme.test");
        assert_eq!(payload["title"], "ann@acme.test — chatbot");
        assert_eq!(payload["create"], "lead");
        assert_eq!(capture.status, "pending");
        let email = rows.iter().find(|r| r.kind == "email").expect("email row");
        let payload: serde_json::Value = serde_json::from_str(&email.payload).unwrap();
        assert_eq!(payload["to"], json!(["sales@acme.test"]));
        assert_eq!(payload["subject"], "New lead: ann@acme.test");
        assert_eq!(payload["body"], "Team size large");
        let var = |p: &str| vars.iter().find(|(k, _)| k == p).map(|(_, v)| v.clone());
        assert_eq!(var("person.email"), Some(json!("ann@acme.test")));
        assert_eq!(var("vars.team_size"), Some(json!("large")));
        assert_eq!(var("score"), Some(json!(25)));
        assert_eq!(var("visitor.url"), Some(json!("https://acme.test/pricing")));
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        for k in [
            "shown",
            "engaged",
            "reached",
            "chat_missed",
            "converted",
            "completed",
        ] {
            assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
        }
        assert_eq!(kinds.iter().filter(|k| **k == "engaged").count(), 1);
        assert!(timers_armed.is_empty(), "nobody online: no wait timer");

        // The e-mail made the visitor known; the finished page-load playbook is not
        // offered again.
        let s = w.session().await;
        assert_eq!(s["visitor"]["known"], true);
        assert_eq!(s["triggers"], json!([]));
        let msgs = s["conversation"]["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 10, "history on reload");
        assert!(
            msgs.windows(2)
                .all(|p| p[0]["seq"].as_i64() < p[1]["seq"].as_i64())
        );

        // A click trigger may run any number of times; an automatic one no more.
        let replay = w.trigger("qualify", "page_load").await;
        assert_eq!(replay["messages"], json!([]));
        let clicked = w.trigger("qualify", "click").await;
        assert_eq!(texts(&clicked["messages"])[0], "Hello **there**!");
    }
}

#[tokio::test]
async fn a_click_leaves_the_waiting_flow_for_the_asked_playbook() {
    for db in TestDb::all() {
        let app = TestApp::spawn(db).await;
        let order = ORDER.replace("API_BASE", "http://127.0.0.1:9");
        let company = company_with(&app, &[QUALIFY, &order]).await;
        let mut w = Widget::new(&app, &company);
        w.session().await;
        w.page = "https://acme.test/pricing".into();
        let started = w.trigger("qualify", "page_load").await;
        assert_eq!(texts(&started["messages"])[1], "How big is your team?");

        // "Order status" pressed while the team size is asked: the order flow starts.
        let clicked = w.trigger("order", "click").await;
        assert_eq!(texts(&clicked["messages"]), ["Your order number?"]);
        // The answer goes to the order flow, not to the left question.
        let answered = w.say("A-1001").await;
        let said = texts(&answered["messages"]);
        assert_eq!(said[0], "A-1001");
        assert!(
            !said.iter().any(|t| t == "How big is your team?"),
            "{said:?}"
        );
        let conv_id = answered["conversation"]["id"].as_str().unwrap().to_owned();
        let cid = company.id.clone();
        let vars = app
            .state
            .db
            .run(move |conn| conversations::variables(conn, &cid, &conv_id))
            .await
            .unwrap();
        assert!(
            vars.iter()
                .any(|(k, v)| k == "vars.order_id" && v == "A-1001")
        );

        // The SDK asks for the qualification again: it starts over.
        let again = w.trigger("qualify", "sdk").await;
        assert_eq!(
            texts(&again["messages"]).get(1).map(String::as_str),
            Some("How big is your team?"),
            "{again}"
        );
        // An automatic trigger still never interrupts.
        let auto = w.trigger("qualify", "page_load").await;
        assert_eq!(auto["messages"], json!([]));
    }
}

#[tokio::test]
async fn free_text_tries_keyword_playbooks_then_answer_rules_then_the_fallback() {
    for db in TestDb::all() {
        let app = TestApp::spawn(db).await;
        let company = company_with(&app, &[SUPPORT]).await;
        let mut w = Widget::new(&app, &company);
        w.session().await;

        // The first message opens the conversation; an answer rule replies.
        let first = w.say("What are your opening hours?").await;
        assert_eq!(
            texts(&first["messages"]),
            ["What are your opening hours?", "We are open 9 to 5."]
        );
        let conv = first["conversation"]["id"].clone();

        // Nothing matches: the fallback, once; every further line is acknowledged, so the
        // visitor is never left without an answer.
        let fallback = "Thanks for your message! Someone from the team will get back to you.";
        let received = "Got it: your message is with the team.";
        let other = w.say("Hello?").await;
        assert_eq!(texts(&other["messages"]), ["Hello?", fallback]);
        let again = w.say("Anyone?").await;
        assert_eq!(texts(&again["messages"]), ["Anyone?", received]);
        let more = w.say("Still there?").await;
        assert_eq!(texts(&more["messages"]), ["Still there?", received]);

        // A keyword starts its playbook, before any answer rule.
        let kw = w.say("the opening hours page is broken").await;
        assert_eq!(
            texts(&kw["messages"]),
            [
                "the opening hours page is broken",
                "Sorry to hear that! What is broken?"
            ]
        );
        let answered = w.say("the login").await;
        assert_eq!(
            texts(&answered["messages"]),
            ["the login", "Thanks, we'll look into it."]
        );

        // One conversation all along, closed when the flow reached its end.
        for r in [&other, &again, &more, &kw, &answered] {
            assert_eq!(r["conversation"]["id"], conv);
        }
        assert_eq!(answered["conversation"]["status"], "closed", "{answered}");
        let all = w.history(0).await;
        assert_eq!(all.len(), 12, "the ended chat is still shown");
        let after = w.history(10).await;
        assert_eq!(
            texts(&json!(after)),
            ["the login", "Thanks, we'll look into it."]
        );
        let reload = w.session().await;
        assert_eq!(reload["conversation"]["id"], conv);
        assert_eq!(reload["conversation"]["status"], "closed");

        // The next message opens a new conversation.
        let next = w.say("One more question").await;
        assert_ne!(next["conversation"]["id"], conv, "{next}");
        assert_eq!(next["conversation"]["status"], "bot");
        assert_eq!(w.history(0).await.len(), 2);
    }
}

#[tokio::test]
async fn exit_words_and_close_leave_the_flow() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let company = company_with(&app, &[QUALIFY, SUPPORT]).await;
    let mut w = Widget::new(&app, &company);
    w.session().await;
    // Close with no conversation: nothing happens.
    let r = w.post("close", json!({})).await;
    assert_eq!(r.status, 200);
    assert!(r.body["conversation"].is_null());

    w.trigger("qualify", "click").await;
    let stop = w.say("stop").await;
    assert_eq!(stop["messages"].as_array().unwrap().len(), 2, "{stop}");
    assert_eq!(stop["messages"][1]["author"], "bot");
    // The flow is over: text goes to answer rules again.
    let after = w.say("opening hours?").await;
    assert_eq!(texts(&after["messages"])[1], "We are open 9 to 5.");

    let first = after["conversation"]["id"].clone();
    w.trigger("qualify", "click").await;
    let closed = w.post("close", json!({})).await;
    assert_eq!(closed.status, 200);
    assert_eq!(closed.body["messages"].as_array().unwrap().len(), 1);
    // The widget's close ends the chat with the bot.
    assert_eq!(closed.body["conversation"]["id"], first);
    assert_eq!(closed.body["conversation"]["status"], "closed");
    // Nothing left to close.
    let twice = w.post("close", json!({})).await;
    assert_eq!(twice.body["messages"], json!([]));
    // A click afterwards opens a new conversation.
    let again = w.trigger("qualify", "click").await;
    assert_ne!(again["conversation"]["id"], first);
    assert_eq!(again["conversation"]["status"], "bot");
}

#[tokio::test]
async fn visitor_text_is_stored_and_returned_as_plain_text() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let company = company_with(&app, &[]).await;
    let mut w = Widget::new(&app, &company);
    w.session().await;
    let payloads = [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        "<svg onload=alert(1)>",
        "\"><iframe src=//evil.test>",
    ];
    for p in payloads {
        let r = w.say(p).await;
        assert_eq!(
            r["messages"][0]["text"], p,
            "stored as typed, not transformed"
        );
    }
    let all = w.history(0).await;
    for p in payloads {
        assert!(all.iter().any(|m| m["text"] == p));
    }
    let raw = reqwest::Client::new()
        .get(app.at("/api/widget/messages"))
        .bearer_auth(w.token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        raw.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
}

#[tokio::test]
async fn identify_needs_the_company_signature() {
    use hmac::{KeyInit, Mac};
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let company = company_with(&app, &[]).await;
    let mut w = Widget::new(&app, &company);
    w.session().await;
    let wrong = w
        .post(
            "identify",
            json!({ "email": "ann@acme.test", "hash": "00ff" }),
        )
        .await;
    assert_eq!(wrong.status, 401);
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(company.identity_secret.as_bytes()).unwrap();
    mac.update(b"ann@acme.test");
    let hash: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let ok = w
        .post(
            "identify",
            json!({ "email": "ann@acme.test", "name": "Ann", "hash": hash }),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["known"], true);
    assert_eq!(w.session().await["visitor"]["known"], true);
}

#[tokio::test]
async fn system_texts_follow_the_language_of_the_offered_playbook() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let german = QUALIFY
        .replace("slug: qualify", "slug: qualify-de")
        .replace("name: Qualify\n", "name: Qualify\nlanguage: de\n");
    assert!(
        german.contains("language: de"),
        "the fixture names its language"
    );
    let company = company_with(&app, &[&german]).await;
    let mut w = Widget::new(&app, &company);
    // The browser says en-GB, but the playbook offered on this page speaks German.
    let session = w.session().await;
    assert_eq!(session["triggers"][0]["slug"], "qualify-de");
    assert_eq!(session["texts"]["send"], "Senden");
    // A page where no playbook is offered falls back to the browser's language.
    w.page = "https://acme.test/blog/post".into();
    let elsewhere = w.session().await;
    assert!(
        elsewhere["triggers"].as_array().unwrap().is_empty(),
        "{elsewhere}"
    );
    assert_eq!(elsewhere["texts"]["send"], "Send");
}
