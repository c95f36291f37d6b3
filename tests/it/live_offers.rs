//! Automatic assignment through the rep API, on both databases: a waiting chat is offered
//! to the online rep with the fewest open chats (least recently assigned on a tie), goes to
//! the next rep when the offer lapses or is declined, never back to a rep who let it go,
//! stays in Unassigned for everyone when nobody is left, and is theirs when they accept.

use concierge::crm::sandbox;
use concierge::db::companies::{self, Company};
use concierge::db::offers::{self, Offer};
use concierge::db::schema::{chat_offers, crm_users, timers};
use concierge::db::{self, DbError};
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::TestDb;
use crate::live_chat::{BEN, CHLOE, Rep, setup, until_event, visitor_waits};
use crate::wait::eventually;

pub(crate) async fn auto_assign(app: &crate::common::TestApp, company: &Company) {
    let mut settings = company.settings();
    settings.live_chat.auto_assign = true;
    let id = company.id.clone();
    app.state
        .db
        .run(move |conn| companies::update_settings(conn, &id, &settings))
        .await
        .unwrap();
    // Written behind the admin API's back: the node reads the settings anew.
    app.state.chat.forget_company(&company.id);
}

async fn offer_of(app: &crate::common::TestApp, company: &Company, id: &str) -> Option<Offer> {
    let (company, id) = (company.id.clone(), id.to_owned());
    app.state
        .db
        .run(move |conn| offers::get(conn, &company, &id))
        .await
        .unwrap()
}

/// The `crm_users` row id of a CRM user.
async fn row(app: &crate::common::TestApp, company: &Company, user: i64) -> String {
    let company = company.id.clone();
    app.state
        .db
        .run(move |conn| {
            Ok::<_, DbError>(
                crm_users::table
                    .filter(crm_users::company_id.eq(&company))
                    .filter(crm_users::crm_user_id.eq(user))
                    .select(crm_users::id)
                    .first::<String>(conn)?,
            )
        })
        .await
        .unwrap()
}

/// The offer timers of a chat by status: (armed, fired).
async fn offer_timers(app: &crate::common::TestApp, id: &str) -> (usize, usize) {
    let id = id.to_owned();
    let statuses: Vec<String> = app
        .state
        .db
        .run(move |conn| {
            Ok::<_, DbError>(
                timers::table
                    .filter(timers::conversation_id.eq(&id))
                    .filter(timers::kind.eq("live_chat_offer"))
                    .select(timers::status)
                    .load(conn)?,
            )
        })
        .await
        .unwrap();
    let count = |s: &str| statuses.iter().filter(|x| *x == s).count();
    (count("armed"), count("fired"))
}

/// Let the standing offer of a chat lapse now instead of after 30 s: its expiry and its
/// timer are moved to the present, and the timer worker is woken.
async fn lapse_now(app: &crate::common::TestApp, id: &str) {
    let id = id.to_owned();
    let now = db::now_ms() - 1;
    app.state
        .db
        .run(move |conn| {
            let moved = diesel::update(
                timers::table
                    .filter(timers::conversation_id.eq(&id))
                    .filter(timers::kind.eq("live_chat_offer"))
                    .filter(timers::status.eq("armed")),
            )
            .set(timers::due_at.eq(now))
            .execute(conn)?;
            assert_eq!(moved, 1, "one offer timer is armed");
            diesel::update(chat_offers::table.filter(chat_offers::conversation_id.eq(&id)))
                .set(chat_offers::expires_at.eq(Some(now)))
                .execute(conn)?;
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
    app.state.chat.timer_wake.armed(now);
}

fn lists(list: &Value, id: &str) -> bool {
    list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_goes_to_the_least_loaded_rep_then_to_the_next_and_nobody_is_asked_twice() {
    for db in TestDb::all() {
        let (app, company) = setup(db).await;
        let ben = Rep::sign_in(&app, sandbox::COMPANY_ID, BEN).await;
        let chloe = Rep::sign_in(&app, sandbox::COMPANY_ID, CHLOE).await;
        ben.online().await;
        chloe.online().await;
        let (ben_row, chloe_row) = (
            row(&app, &company, BEN).await,
            row(&app, &company, CHLOE).await,
        );
        // Ben took a chat by hand before automatic assignment was switched on.
        let (_, first) = visitor_waits(&app, &company, "one@acme.test").await;
        assert_eq!(
            offer_of(&app, &company, &first).await,
            None,
            "off by default"
        );
        let (status, _) = ben
            .post(&format!("conversations/{first}/assign"), None)
            .await;
        assert_eq!(status, 200);
        auto_assign(&app, &company).await;

        let mut ben_inbox = ben.events().await;
        let mut chloe_inbox = chloe.events().await;
        let (_, id) = visitor_waits(&app, &company, "two@acme.test").await;

        // Chloe has fewer open chats: it is offered to her, for 30 s.
        let offered = until_event(&mut chloe_inbox, "offer", |d| {
            d["conversation_id"] == id.as_str()
        })
        .await;
        let left = offered["expires_at"].as_i64().unwrap() - db::now_ms();
        assert!((20_000..=30_000).contains(&left), "{left} ms to accept");
        let offer = offer_of(&app, &company, &id).await.unwrap();
        assert_eq!(offer.offered_to.as_deref(), Some(chloe_row.as_str()));
        assert_eq!(offer_timers(&app, &id).await, (1, 0));

        // She lets it lapse: Ben's turn, although he has more chats.
        lapse_now(&app, &id).await;
        until_event(&mut ben_inbox, "offer", |d| {
            d["conversation_id"] == id.as_str()
        })
        .await;
        let offer = offer_of(&app, &company, &id).await.unwrap();
        assert_eq!(offer.offered_to.as_deref(), Some(ben_row.as_str()));
        assert_eq!(offer.skipped, vec![chloe_row.clone()]);
        assert_eq!(offer_timers(&app, &id).await, (1, 1));

        // Ben lets it lapse too: nobody is left, and Chloe is not asked again.
        lapse_now(&app, &id).await;
        let offer = eventually("the second lapse", || async {
            offer_of(&app, &company, &id)
                .await
                .filter(|o| o.skipped.len() == 2)
        })
        .await;
        assert_eq!(offer.offered_to, None);
        assert_eq!(offer.skipped, vec![chloe_row.clone(), ben_row.clone()]);
        assert_eq!(offer_timers(&app, &id).await, (0, 2));

        // The chat waits in Unassigned for everyone, and anyone may still take it.
        for rep in [&ben, &chloe] {
            let (_, list) = rep.get("conversations?folder=unassigned").await;
            assert!(lists(&list, &id), "{list}");
        }
        let (status, taken) = chloe
            .post(&format!("conversations/{id}/assign"), None)
            .await;
        assert_eq!(
            (status, taken["assignee"]["user_id"].as_i64()),
            (StatusCode::OK, Some(CHLOE))
        );
        assert_eq!(offer_of(&app, &company, &id).await, None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offered_rep_declines_or_accepts_and_ties_go_to_the_least_recently_assigned() {
    for db in TestDb::all() {
        let (app, company) = setup(db).await;
        let ben = Rep::sign_in(&app, sandbox::COMPANY_ID, BEN).await;
        let chloe = Rep::sign_in(&app, sandbox::COMPANY_ID, CHLOE).await;
        ben.online().await;
        chloe.online().await;
        auto_assign(&app, &company).await;
        let mut ben_inbox = ben.events().await;
        let mut chloe_inbox = chloe.events().await;

        // Neither has a chat nor ever had one: the lower user id is asked first.
        let (_, id) = visitor_waits(&app, &company, "one@acme.test").await;
        until_event(&mut ben_inbox, "offer", |d| {
            d["conversation_id"] == id.as_str()
        })
        .await;
        let decline = format!("conversations/{id}/decline");
        let (status, body) = chloe.post(&decline, None).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("not_offered"))
        );

        // Ben declines: Chloe is asked at once; Ben cannot decline it twice.
        let (status, summary) = ben.post(&decline, None).await;
        assert_eq!(
            (status, summary["status"].as_str()),
            (StatusCode::OK, Some("unassigned"))
        );
        until_event(&mut chloe_inbox, "offer", |d| {
            d["conversation_id"] == id.as_str()
        })
        .await;
        assert_eq!(ben.post(&decline, None).await.0, StatusCode::CONFLICT);
        assert_eq!(
            offer_timers(&app, &id).await,
            (1, 0),
            "the first offer's timer is cancelled"
        );
        // A reloaded inbox (a new event stream) is told of the offer standing to it.
        let mut reloaded = chloe.events().await;
        let standing = until_event(&mut reloaded, "offer", |_| true).await;
        assert_eq!(standing["conversation_id"], id.as_str());
        assert!(standing["expires_at"].as_i64().unwrap() > db::now_ms());
        drop(reloaded);

        // Chloe accepts: the chat is hers, the offer and its timer are gone.
        let (status, taken) = chloe
            .post(&format!("conversations/{id}/assign"), None)
            .await;
        assert_eq!(
            (status, taken["assignee"]["user_id"].as_i64()),
            (StatusCode::OK, Some(CHLOE))
        );
        assert_eq!(offer_of(&app, &company, &id).await, None);
        assert_eq!(offer_timers(&app, &id).await, (0, 0));
        assert_eq!(chloe.post(&decline, None).await.0, StatusCode::CONFLICT);

        // The next chat goes to Ben, who has fewer chats; he accepts.
        let (_, second) = visitor_waits(&app, &company, "two@acme.test").await;
        until_event(&mut ben_inbox, "offer", |d| {
            d["conversation_id"] == second.as_str()
        })
        .await;
        let (status, _) = ben
            .post(&format!("conversations/{second}/assign"), None)
            .await;
        assert_eq!(status, 200);

        // One chat each: Chloe was assigned longer ago, so the third is hers.
        let (_, third) = visitor_waits(&app, &company, "three@acme.test").await;
        until_event(&mut chloe_inbox, "offer", |d| {
            d["conversation_id"] == third.as_str()
        })
        .await;
        let chloe_row = row(&app, &company, CHLOE).await;
        let offer = offer_of(&app, &company, &third).await.unwrap();
        assert_eq!(offer.offered_to.as_deref(), Some(chloe_row.as_str()));
    }
}
