//! Teams of reps, on both databases: admins manage them through `/api/admin/teams`
//! (audit-logged); a live chat card that names a team hands
//! its chat only to that team — only its members count as online for it, are notified, see
//! it in Unassigned and are offered it; admins see every chat.

use concierge::crm::sandbox;
use concierge::db::DbError;
use concierge::db::companies::{self, Company};
use concierge::db::schema::audit_log;
use diesel::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{TestApp, TestDb};
use crate::live_chat::{ADA, BEN, CHLOE, Rep, setup, setup_with, until_event, visitor_waits};
use crate::widget_support::{QUALIFY, Widget, texts};

/// A call to the admin API with a rep's session.
async fn admin(rep: &Rep, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = rep
        .client
        .request(method, format!("{}/api/admin/{path}", rep.base))
        .header("cookie", &rep.cookie)
        .header("x-csrf-token", &rep.csrf);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn actions(app: &TestApp, company: &Company) -> Vec<String> {
    let id = company.id.clone();
    app.state
        .db
        .run(move |conn| {
            Ok::<_, DbError>(
                audit_log::table
                    .filter(audit_log::company_id.eq(&id))
                    .filter(audit_log::action.like("team.%"))
                    .select(audit_log::action)
                    .load::<String>(conn)?,
            )
        })
        .await
        .unwrap()
}

fn ids(list: &Value) -> Vec<String> {
    list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_make_change_and_delete_teams_and_each_change_is_logged() {
    for db in TestDb::all() {
        let (app, company) = setup(db).await;
        let ada = Rep::sign_in(&app, sandbox::COMPANY_ID, ADA).await;
        let ben = Rep::sign_in(&app, sandbox::COMPANY_ID, BEN).await;

        let (status, team) = admin(
            &ada,
            Method::POST,
            "teams",
            Some(json!({"name": " sales ", "members": [CHLOE, BEN, BEN]})),
        )
        .await;
        assert_eq!(status, 201, "{team}");
        assert_eq!(
            (team["name"].as_str(), &team["members"]),
            (Some("sales"), &json!([BEN, CHLOE]))
        );
        let id = team["id"].as_str().unwrap().to_owned();

        // A taken name, an empty one, a stranger, a rep: refused.
        let (status, body) =
            admin(&ada, Method::POST, "teams", Some(json!({"name": "sales"}))).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("team_exists"))
        );
        let (status, _) = admin(&ada, Method::POST, "teams", Some(json!({"name": "  "}))).await;
        assert_eq!(status, 400);
        let (status, body) = admin(
            &ada,
            Method::POST,
            "teams",
            Some(json!({"name": "support", "members": [999]})),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(admin(&ben, Method::GET, "teams", None).await.0, 403);

        // Renamed with other members; listed.
        let (status, changed) = admin(
            &ada,
            Method::PUT,
            &format!("teams/{id}"),
            Some(json!({"name": "sales-eu", "members": [BEN]})),
        )
        .await;
        assert_eq!(status, 200, "{changed}");
        assert_eq!(changed["members"], json!([BEN]));
        let (_, list) = admin(&ada, Method::GET, "teams", None).await;
        assert_eq!(list["teams"].as_array().unwrap().len(), 1);
        assert_eq!(list["teams"][0]["name"], "sales-eu");

        // Deleted once.
        assert_eq!(
            admin(&ada, Method::DELETE, &format!("teams/{id}"), None)
                .await
                .0,
            204
        );
        assert_eq!(
            admin(&ada, Method::DELETE, &format!("teams/{id}"), None)
                .await
                .0,
            404
        );
        assert_eq!(
            admin(&ada, Method::GET, "teams", None).await.1,
            json!({"teams": []})
        );
        let mut logged = actions(&app, &company).await;
        logged.sort();
        assert_eq!(logged, ["team.create", "team.delete", "team.update"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_for_a_team_reaches_only_its_members_and_admins() {
    let playbook = QUALIFY.replace(
        "    wait_seconds: 60\n",
        "    wait_seconds: 60\n    team: sales\n",
    );
    assert_ne!(playbook, QUALIFY);
    for db in TestDb::all() {
        let (app, company) = setup_with(db, &playbook).await;
        let ada = Rep::sign_in(&app, sandbox::COMPANY_ID, ADA).await;
        let ben = Rep::sign_in(&app, sandbox::COMPANY_ID, BEN).await;
        let chloe = Rep::sign_in(&app, sandbox::COMPANY_ID, CHLOE).await;
        let (status, _) = admin(
            &ada,
            Method::POST,
            "teams",
            Some(json!({"name": "sales", "members": [BEN]})),
        )
        .await;
        assert_eq!(status, 201);

        // Only Chloe is online: nobody of the team is, so the offline branch runs at once.
        chloe.online().await;
        let mut w = Widget::new(&app, &company);
        w.session().await;
        let started = w.trigger("qualify", "click").await;
        let question = started["messages"][1]["id"].as_str().unwrap().to_owned();
        w.choose(&question, 1).await;
        let reply = w.say("early@acme.test").await;
        assert!(
            texts(&reply["messages"])
                .iter()
                .any(|t| t.starts_with("Nobody is online")),
            "{reply}"
        );

        // Ben of the team comes online: the chat waits for the team.
        ben.online().await;
        let mut ben_inbox = ben.events().await;
        let (_, id) = visitor_waits(&app, &company, "ann@acme.test").await;
        let summary = until_event(&mut ben_inbox, "conversation", |d| d["id"] == id.as_str()).await;
        assert_eq!(summary["team"], "sales");
        let notify = until_event(&mut ben_inbox, "notify", |d| d["kind"] == "new_chat").await;
        assert_eq!(notify["conversation_id"], id.as_str());
        let (_, list) = ben.get("conversations?folder=unassigned").await;
        assert_eq!(
            (ids(&list), list["counts"]["unassigned"].as_i64()),
            (vec![id.clone()], Some(1))
        );
        let (_, list) = ada.get("conversations?folder=unassigned").await;
        assert_eq!(ids(&list), vec![id.clone()], "admins see every chat");

        // Chloe is not of the team: the chat is not hers to see or take.
        let (_, list) = chloe.get("conversations?folder=unassigned").await;
        assert_eq!(
            (ids(&list), list["counts"]["unassigned"].as_i64()),
            (vec![], Some(0))
        );
        assert_eq!(chloe.get(&format!("conversations/{id}")).await.0, 404);
        assert_eq!(
            chloe
                .post(&format!("conversations/{id}/assign"), None)
                .await
                .0,
            404
        );

        // Automatic assignment offers it to the team only, although Ben has more chats.
        let (status, _) = ben.post(&format!("conversations/{id}/assign"), None).await;
        assert_eq!(status, 200);
        let mut settings = company.settings();
        settings.live_chat.auto_assign = true;
        let cid = company.id.clone();
        app.state
            .db
            .run(move |conn| companies::update_settings(conn, &cid, &settings))
            .await
            .unwrap();
        // Written behind the admin API's back: the node reads the settings anew.
        app.state.chat.forget_company(&company.id);
        let (_, second) = visitor_waits(&app, &company, "bob@acme.test").await;
        let offer = until_event(&mut ben_inbox, "offer", |_| true).await;
        assert_eq!(offer["conversation_id"], second.as_str());
    }
}
