//! The timer worker against the real server, on SQLite and PostgreSQL: a live chat nobody
//! takes runs its offline branch once the wait is over (over the widget's event stream
//! too); a cancelled timer never fires; timers due while no node ran fire once right after
//! the next start; two nodes on one database fire each timer exactly once; a timer fired
//! one by one whose offline branch reaches a second live chat card fires once; a chunk of
//! timers with mixed outcomes fires each once.

use std::time::Duration;

use concierge::chat::timers::{Worker, WorkerConfig};
use concierge::config::{Config, Rate, RateLimits};
use concierge::crm::CrmUser;
use concierge::db::companies::{self, Company};
use concierge::db::schema::{conversations, crm_users, messages, timers};
use concierge::db::timers::{TimerRow, status};
use concierge::db::{self, Db, DbError, crm_users as users};
use concierge::playbook::Event;
use diesel::prelude::*;
use serde_json::Value;

use crate::common::{TestDb, test_config};
use crate::wait::eventually_for;
use crate::widget_support::*;

/// A click-started flow: live chat, then an offline branch that asks for an e-mail.
const LIVE: &str = r##"
slug: live
name: Talk to sales
trigger: { on: click, selector: "#talk" }
start: rep
cards:
  - id: rep
    type: live_chat
    online_message: "Connecting you…"
    wait_seconds: 10
    offline_message: "Nobody could take your chat — leave your e-mail?"
    offline_next: email
  - id: email
    type: question
    text: "Your e-mail?"
    input: email
    save: person.email
    next: bye
  - id: bye
    type: end
    text: "Thanks, we will write to you."
"##;

const ONLINE: &str = "Connecting you…";
const CHAT_OFFERED: &str = concierge::db::analytics::kind::CHAT_OFFERED;
const OFFLINE: &str = "Nobody could take your chat — leave your e-mail?";

/// One node of the app on a database it shares with other nodes.
struct Node {
    url: String,
    state: concierge::web::AppState,
    handle: actix_web::dev::ServerHandle,
    running: tokio::task::JoinHandle<std::io::Result<()>>,
    _data: tempfile::TempDir,
}

impl Node {
    async fn start(db: &TestDb, adjust: impl FnOnce(&mut Config)) -> Node {
        let data = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(db, data.path().to_owned());
        // Many visitors from one address.
        config.rate_limits = RateLimits {
            per_visitor: Rate {
                per_second: 0,
                burst: 0,
            },
            per_address: Rate {
                per_second: 0,
                burst: 0,
            },
        };
        adjust(&mut config);
        let server = concierge::web::build(config).await.expect("server starts");
        let (url, state, handle) = (server.url.clone(), server.state.clone(), server.handle());
        let running = tokio::spawn(server.run());
        Node {
            url,
            state,
            handle,
            running,
            _data: data,
        }
    }

    /// Stop serving and stop the workers, as a shutdown does.
    async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.running.await;
    }

    fn widget(&self, company: &Company) -> Widget {
        Widget {
            client: reqwest::Client::new(),
            base: self.url.clone(),
            key: company.public_key.clone(),
            token: None,
            page: "https://acme.test/pricing".into(),
            language: "en-GB".into(),
        }
    }
}

/// A company open around the clock with the LIVE playbook and one rep online now.
pub(crate) async fn open_company(db: &Db) -> Company {
    open_company_with(db, LIVE, false).await
}

/// A company open around the clock with this playbook (slug `live`) and one rep online
/// now; `auto_assign`: waiting chats are offered to the rep.
async fn open_company_with(db: &Db, playbook: &str, auto_assign: bool) -> Company {
    let doc = concierge::playbook::check::check_document(
        playbook,
        concierge::playbook::load::Format::Yaml,
    )
    .unwrap_or_else(|r| panic!("{}", r.render("live")));
    db.run(move |conn| {
        let company = companies::create(conn, "Acme", None)?;
        let mut settings = company.settings();
        settings.business_hours = vec![vec!["00:00-24:00".to_owned()]; 7];
        settings.live_chat.auto_assign = auto_assign;
        companies::update_settings(conn, &company.id, &settings)?;
        concierge::db::playbooks::save_and_publish(conn, &company.id, &doc)?;
        let rita = CrmUser {
            id: 7,
            name: "Rita".into(),
            email: "rita@acme.test".into(),
            is_admin: false,
            active: true,
            icon_url: None,
        };
        users::sync(conn, &company.id, &[rita], db::now_ms())?;
        diesel::update(crm_users::table.filter(crm_users::company_id.eq(&company.id)))
            .set((
                crm_users::online.eq(true),
                crm_users::last_seen_at.eq(Some(db::now_ms() + 3_600_000)),
            ))
            .execute(conn)?;
        Ok::<_, DbError>(companies::by_id(conn, &company.id)?.expect("company"))
    })
    .await
    .expect("company")
}

/// A visitor who clicked into the live chat card: their widget and conversation id.
async fn waiting_visitor(node: &Node, company: &Company) -> (Widget, String) {
    let mut w = node.widget(company);
    w.session().await;
    let started = w.trigger("live", "click").await;
    assert_eq!(texts(&started["messages"]), [ONLINE], "{started}");
    assert_eq!(started["conversation"]["status"], "unassigned", "{started}");
    let id = started["conversation"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    (w, id)
}

async fn timers_of(db: &Db, conversation: &str) -> Vec<TimerRow> {
    let conversation = conversation.to_owned();
    db.run(move |conn| {
        Ok::<_, DbError>(
            timers::table
                .filter(timers::conversation_id.eq(&conversation))
                .select(TimerRow::as_select())
                .load(conn)?,
        )
    })
    .await
    .expect("timers")
}

/// Status, outcome and closing time of a conversation.
async fn conversation(db: &Db, id: &str) -> (String, Option<String>, Option<i64>) {
    let id = id.to_owned();
    db.run(move |conn| {
        Ok::<_, DbError>(
            conversations::table
                .find(&id)
                .select((
                    conversations::status,
                    conversations::outcome,
                    conversations::closed_at,
                ))
                .first(conn)?,
        )
    })
    .await
    .expect("conversation")
}

/// How many offline messages each of these conversations got.
async fn offline_counts(db: &Db, ids: &[String]) -> Vec<i64> {
    let ids = ids.to_vec();
    db.run(move |conn| {
        let mut counts = Vec::new();
        for id in &ids {
            counts.push(
                messages::table
                    .filter(messages::conversation_id.eq(id))
                    .filter(messages::body.eq(OFFLINE))
                    .count()
                    .get_result::<i64>(conn)?,
            );
        }
        Ok::<_, DbError>(counts)
    })
    .await
    .expect("messages")
}

/// Move the due time of every armed timer to `due_at` (Unix ms).
async fn set_due(db: &Db, due_at: impl Fn(usize) -> i64 + Send + 'static) {
    db.run(move |conn| {
        let ids: Vec<String> = timers::table
            .filter(timers::status.eq(status::ARMED))
            .order(timers::id.asc())
            .select(timers::id)
            .load(conn)?;
        for (i, id) in ids.iter().enumerate() {
            diesel::update(timers::table.find(id))
                .set(timers::due_at.eq(due_at(i)))
                .execute(conn)?;
        }
        Ok::<_, DbError>(())
    })
    .await
    .expect("due times");
}

#[tokio::test]
async fn a_chat_nobody_takes_runs_the_offline_branch_when_the_wait_is_over() {
    for db in TestDb::all() {
        // The worker sleeps at most 30 s when idle: only the wake-up of the turn that
        // armed the timer makes it fire on time.
        let node = Node::start(&db, |_| {}).await;
        let company = open_company(&node.state.db).await;
        let (w, conv) = waiting_visitor(&node, &company).await;
        let armed = timers_of(&node.state.db, &conv).await;
        assert_eq!(armed.len(), 1);
        let due = armed[0].due_at;
        assert_eq!(armed[0].status, status::ARMED);
        assert!((due - db::now_ms() - 10_000).abs() < 2_000, "due in 10 s");
        let mut events = SseReader::new(w.events(Some(1)).await);

        let fired = eventually_for("the timer to fire", Duration::from_secs(15), || async {
            let t = timers_of(&node.state.db, &conv).await.remove(0);
            (t.status == status::FIRED).then_some(t)
        })
        .await;
        let late = fired.fired_at.expect("fired_at") - due;
        println!("{:?}: fired {late} ms after its due time", db.backend);
        assert!((0..=1000).contains(&late), "fired {late} ms after due");

        // The visitor's stream: the offline message, the offline branch, the missed status
        // (after the place in the queue the hand-off may have sent).
        let offline = events.until(|e| e.event != "queue").await;
        assert_eq!(
            (offline.event.as_str(), &offline.data["text"]),
            ("message", &Value::from(OFFLINE))
        );
        let question = events.next().await;
        assert_eq!(question.data["text"], "Your e-mail?");
        assert_eq!(question.data["input"], "email");
        let missed = events.until(|e| e.event == "status").await;
        assert_eq!(missed.data["status"], "closed");
        assert_eq!(missed.data["outcome"], "missed");
        drop(events);

        // Closed for the inbox as missed; still open for the visitor's offline branch.
        assert_eq!(
            conversation(&node.state.db, &conv).await,
            ("closed".to_owned(), Some("missed".to_owned()), None)
        );
        let answered = w.say("ann@acme.test").await;
        assert_eq!(
            texts(&answered["messages"]),
            ["ann@acme.test", "Thanks, we will write to you."]
        );
        let (_, _, closed_at) = conversation(&node.state.db, &conv).await;
        assert!(closed_at.is_some(), "the finished offline branch closes it");
        // The visitor's next message opens a new conversation.
        let next = w.say("hello again").await;
        assert_ne!(next["conversation"]["id"], Value::from(conv.clone()));
        assert_eq!(offline_counts(&node.state.db, &[conv]).await, [1]);
        node.stop().await;
    }
}

#[tokio::test]
async fn a_cancelled_timer_never_fires() {
    for db in TestDb::all() {
        let node = Node::start(&db, |_| {}).await;
        let chat = node.state.chat.clone();
        let company = open_company(&node.state.db).await;
        let (_taken, taken) = waiting_visitor(&node, &company).await;
        let (_raced, raced) = waiting_visitor(&node, &company).await;
        let (_control, control) = waiting_visitor(&node, &company).await;

        // A rep takes the first chat: the wait timer is cancelled in that transaction.
        let rep = Event::RepJoined {
            rep_name: "Rita".into(),
        };
        chat.conversation_event(&company.id, &taken, rep.clone(), None)
            .await
            .expect("rep joins");
        assert_eq!(
            timers_of(&node.state.db, &taken).await[0].status,
            status::CANCELLED
        );

        // A worker claimed the second chat's timer, then a rep took the chat before it
        // fired: the claimed timer is not fired.
        let now = db::now_ms();
        let raced_id = raced.clone();
        let claimed = node
            .state
            .db
            .run(move |conn| {
                let t = timers::table
                    .filter(timers::conversation_id.eq(&raced_id))
                    .select(TimerRow::as_select())
                    .first(conn)?;
                diesel::update(timers::table.find(&t.id))
                    .set(timers::due_at.eq(now - 1))
                    .execute(conn)?;
                concierge::db::timers::claim(conn, now, now + 15_000, 10)
            })
            .await
            .expect("claim");
        assert_eq!(claimed.len(), 1);
        chat.conversation_event(&company.id, &raced, rep, None)
            .await
            .expect("rep joins");
        assert_eq!(chat.fire_timers(claimed).await.expect("fire"), 0);

        // Every timer is now past due; only the control chat's fires.
        set_due(&node.state.db, move |_| now - 1000).await;
        make_cancelled_due(&node.state.db, now - 1000).await;
        chat.timer_wake.armed(now - 1000);
        eventually_for(
            "the control timer to fire",
            Duration::from_secs(5),
            || async {
                let t = timers_of(&node.state.db, &control).await.remove(0);
                (t.status == status::FIRED).then_some(())
            },
        )
        .await;
        // The worker ends its round on the stop: whatever it would fire has fired.
        let store = node.state.db.clone();
        node.stop().await;
        assert_eq!(
            offline_counts(&store, &[taken.clone(), raced.clone(), control]).await,
            [0, 0, 1]
        );
        for id in [&taken, &raced] {
            let t = timers_of(&store, id).await.remove(0);
            assert_eq!((t.status.as_str(), t.fired_at), (status::CANCELLED, None));
            assert_eq!(conversation(&store, id).await.1, None, "not missed");
        }
    }
}

/// Make cancelled timers past due too (a worker must still leave them alone).
async fn make_cancelled_due(db: &Db, due_at: i64) {
    db.run(move |conn| {
        diesel::update(timers::table.filter(timers::status.eq(status::CANCELLED)))
            .set(timers::due_at.eq(due_at))
            .execute(conn)?;
        Ok::<_, DbError>(())
    })
    .await
    .expect("due times");
}

#[tokio::test]
async fn timers_due_while_no_node_ran_fire_once_right_after_the_start() {
    for db in TestDb::all() {
        let first = Node::start(&db, |_| {}).await;
        let company = open_company(&first.state.db).await;
        let mut ids = Vec::new();
        for _ in 0..20 {
            ids.push(waiting_visitor(&first, &company).await.1);
        }
        first.stop().await;

        // Down for a while: every wait ran out meanwhile.
        let db_handle = db.open();
        let now = db::now_ms();
        set_due(&db_handle, move |i| now - 60_000 + i as i64).await;

        let started = db::now_ms();
        let second = Node::start(&db, |_| {}).await;
        let fired = eventually_for("all 20 timers to fire", Duration::from_secs(10), || async {
            let fired: Vec<TimerRow> = timers_of_all(&second.state.db, &ids).await;
            (fired.iter().all(|t| t.status == status::FIRED)).then_some(fired)
        })
        .await;
        let last = fired
            .iter()
            .filter_map(|t| t.fired_at)
            .max()
            .expect("fired");
        println!(
            "{:?}: 20 overdue timers fired {} ms after the start",
            db.backend,
            last - started
        );
        assert!(
            last - started <= 1000,
            "fired {} ms after the start",
            last - started
        );
        // Stopped, the worker has ended its round: a second firing would show now.
        second.stop().await;
        assert_eq!(offline_counts(&db_handle, &ids).await, vec![1; 20]);
    }
}

/// The timers of these conversations.
async fn timers_of_all(db: &Db, ids: &[String]) -> Vec<TimerRow> {
    let ids = ids.to_vec();
    db.run(move |conn| {
        Ok::<_, DbError>(
            timers::table
                .filter(timers::conversation_id.eq_any(&ids))
                .select(TimerRow::as_select())
                .load(conn)?,
        )
    })
    .await
    .expect("timers")
}

#[tokio::test]
async fn two_nodes_fire_each_of_200_timers_exactly_once() {
    for db in TestDb::all() {
        // Small batches, so that both workers claim while the other is firing.
        let small = |c: &mut Config| c.timers.batch = 16;
        let a = Node::start(&db, small).await;
        let b = Node::start(&db, small).await;
        let company = open_company(&a.state.db).await;
        let mut ids = Vec::new();
        for i in 0..200 {
            let node = if i % 2 == 0 { &a } else { &b };
            ids.push(waiting_visitor(node, &company).await.1);
        }
        // All due within the next second, the same instants on both nodes.
        let now = db::now_ms();
        set_due(&a.state.db, move |i| now + 300 + (i as i64 % 10) * 70).await;
        a.state.chat.timer_wake.armed(now);
        b.state.chat.timer_wake.armed(now);

        let fired = eventually_for(
            "all 200 timers to fire",
            Duration::from_secs(20),
            || async {
                let fired = timers_of_all(&a.state.db, &ids).await;
                (fired.iter().all(|t| t.status == status::FIRED)).then_some(fired)
            },
        )
        .await;
        let worst = fired
            .iter()
            .map(|t| t.fired_at.unwrap_or(i64::MAX) - t.due_at)
            .max()
            .unwrap_or_default();
        println!(
            "{:?}: 200 timers on two nodes, latest {worst} ms after due",
            db.backend
        );
        assert!(worst <= 1000, "a timer fired {worst} ms after due");
        // Stopped, both workers have ended their rounds: a second firing would show now.
        let store = a.state.db.clone();
        a.stop().await;
        b.stop().await;
        assert_eq!(offline_counts(&store, &ids).await, vec![1; 200]);
    }
}

#[tokio::test]
async fn a_worker_of_its_own_fires_what_is_due_and_reports_the_count() {
    let db = TestDb::sqlite();
    // No worker in the app: the test runs one round by hand.
    let node = Node::start(&db, |c| c.timers.batch = 0).await;
    let company = open_company(&node.state.db).await;
    let (_w, conv) = waiting_visitor(&node, &company).await;
    let worker = Worker::new(node.state.chat.clone(), WorkerConfig::default());
    assert_eq!(
        worker.run_once().await.expect("round"),
        0,
        "nothing due yet"
    );
    let now = db::now_ms();
    set_due(&node.state.db, move |_| now - 1).await;
    assert_eq!(worker.run_once().await.expect("round"), 1);
    assert_eq!(worker.run_once().await.expect("round"), 0, "fired once");
    assert_eq!(offline_counts(&node.state.db, &[conv]).await, [1]);
    node.stop().await;
}

/// Is Rita counted as online now, with these holidays?
async fn online_with_holidays(db: &Db, company_id: &str, holidays: Vec<String>) -> bool {
    let id = company_id.to_owned();
    db.run(move |conn| {
        let mut settings = companies::by_id(conn, &id)?.expect("company").settings();
        settings.holidays = holidays;
        companies::update_settings(conn, &id, &settings)?;
        let company = companies::by_id(conn, &id)?.expect("company");
        let rep = concierge::db::live::rep(conn, &id, 7)?.expect("rep");
        Ok::<_, DbError>(concierge::chat::live::effective_online(
            &rep,
            &company,
            chrono::Utc::now(),
        ))
    })
    .await
    .expect("presence")
}

#[tokio::test]
async fn a_holiday_closes_live_chat_whatever_the_hours() {
    for db in TestDb::all() {
        let node = Node::start(&db, |_| {}).await;
        let company = open_company(&node.state.db).await;
        let db = &node.state.db;
        assert!(online_with_holidays(db, &company.id, vec![]).await);
        let today = chrono::Utc::now()
            .date_naive()
            .format("%Y-%m-%d")
            .to_string();
        let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
            .date_naive()
            .format("%Y-%m-%d")
            .to_string();
        assert!(online_with_holidays(db, &company.id, vec![tomorrow]).await);
        assert!(!online_with_holidays(db, &company.id, vec![today]).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_worker_releases_the_timers_it_has_not_fired() {
    for db in TestDb::all() {
        // No worker in the app: the test runs its own.
        let node = Node::start(&db, |c| c.timers.batch = 0).await;
        let company = open_company(&node.state.db).await;
        // Enough timers that the round is still going when the first has fired and the
        // test has seen it, however fast one fires.
        const TIMERS: usize = 150;
        let mut ids = Vec::new();
        for _ in 0..TIMERS {
            ids.push(waiting_visitor(&node, &company).await.1);
        }
        let now = db::now_ms();
        set_due(&node.state.db, move |i| now - 1_000 + i as i64).await;
        let config = WorkerConfig {
            batch: TIMERS,
            // One timer per transaction, one at a time: the round takes a while.
            chunk: 1,
            parallel: 1,
            // Far longer than the test: only a release lets the next worker in.
            lease: Duration::from_secs(600),
            ..WorkerConfig::default()
        };
        let handle = Worker::new(node.state.chat.clone(), config.clone()).spawn();
        eventually_for("a first timer to fire", Duration::from_secs(20), || async {
            let all = timers_of_all(&node.state.db, &ids).await;
            all.iter().any(|t| t.status == status::FIRED).then_some(())
        })
        .await;
        handle.stop().await;
        let after_stop = timers_of_all(&node.state.db, &ids).await;
        let armed: Vec<&TimerRow> = after_stop
            .iter()
            .filter(|t| t.status == status::ARMED)
            .collect();
        assert!(
            !armed.is_empty(),
            "{:?}: the round was not cut short",
            db.backend
        );
        assert!(
            armed.iter().all(|t| t.locked_until.is_none()),
            "{:?}: every timer not fired is released",
            db.backend
        );
        // Another worker (another node) fires them at once, not after the lease.
        let next = Worker::new(node.state.chat.clone(), config);
        assert_eq!(next.run_once().await.expect("round"), armed.len());
        assert_eq!(offline_counts(&node.state.db, &ids).await, vec![1; TIMERS]);
        node.stop().await;
    }
}

/// LIVE, where nobody taking the chat leads to a second live chat card (another wait)
/// before the e-mail question.
fn twice() -> String {
    let again = "  - id: again
    type: live_chat
    online_message: \"Trying once more…\"
    wait_seconds: 10
    offline_message: \"Still nobody, sorry.\"
    offline_next: email
";
    let doc = LIVE.replacen("offline_next: email", "offline_next: again", 1);
    format!("{doc}{again}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_fired_alone_whose_offline_branch_waits_again_fires_once() {
    for db in TestDb::all() {
        let backend = db.backend;
        // No worker in the app: the test runs the rounds.
        let node = Node::start(&db, |c| c.timers.batch = 0).await;
        // Automatic assignment: the waiting chat is offered to Rita too, so the
        // conversation has two timers (the wait and the offer's expiry), and a round that
        // claims both fires them one by one.
        let company = open_company_with(&node.state.db, &twice(), true).await;
        let (_w, conv) = waiting_visitor(&node, &company).await;
        let kinds = |ts: &[TimerRow]| {
            let mut k: Vec<(String, String, String)> = ts
                .iter()
                .map(|t| (t.kind.clone(), t.card.clone(), t.status.clone()))
                .collect();
            k.sort();
            k
        };
        let armed = timers_of(&node.state.db, &conv).await;
        assert_eq!(
            kinds(&armed),
            [
                ("live_chat_offer".into(), "rep".into(), "armed".into()),
                ("live_chat_wait".into(), "rep".into(), "armed".into())
            ],
            "{backend:?}"
        );
        let now = db::now_ms();
        set_due(&node.state.db, move |_| now - 1).await;
        let worker = Worker::new(node.state.chat.clone(), WorkerConfig::default());
        assert_eq!(worker.run_once().await.expect("round"), 2, "{backend:?}");

        // The wait fired: the offline message once, and the second card waits again
        // with a timer of its own.
        let after = timers_of(&node.state.db, &conv).await;
        let wait = |card: &str| {
            after
                .iter()
                .find(|t| t.kind == "live_chat_wait" && t.card == card)
                .map(|t| t.status.clone())
        };
        assert_eq!(
            wait("rep").as_deref(),
            Some(status::FIRED),
            "{backend:?}: {after:?}"
        );
        assert_eq!(
            wait("again").as_deref(),
            Some(status::ARMED),
            "{backend:?}: {after:?}"
        );
        assert_eq!(
            offline_counts(&node.state.db, std::slice::from_ref(&conv)).await,
            [1]
        );
        // The step's analytics are written: the second card offered the chat.
        assert_eq!(
            events_of_kind(&node.state.db, std::slice::from_ref(&conv), CHAT_OFFERED).await,
            [2],
            "{backend:?}: both cards offered the chat"
        );
        let (state, _, closed_at) = conversation(&node.state.db, &conv).await;
        assert_eq!(
            (state.as_str(), closed_at),
            ("unassigned", None),
            "{backend:?}"
        );
        // Nothing of the first wait is left to fire: the next round has nothing due.
        assert_eq!(worker.run_once().await.expect("round"), 0, "{backend:?}");
        assert_eq!(offline_counts(&node.state.db, &[conv]).await, [1]);
        node.stop().await;
    }
}

/// The `chat_missed` analytics events of these conversations, one count each.
async fn missed_events(db: &Db, ids: &[String]) -> Vec<i64> {
    events_of_kind(db, ids, concierge::db::analytics::kind::CHAT_MISSED).await
}

/// The analytics events of this kind of these conversations, one count each.
async fn events_of_kind(db: &Db, ids: &[String], kind: &'static str) -> Vec<i64> {
    use concierge::db::schema::analytics_events as e;
    let ids = ids.to_vec();
    db.run(move |conn| {
        let mut counts = Vec::new();
        for id in &ids {
            counts.push(
                e::table
                    .filter(e::conversation_id.eq(id))
                    .filter(e::kind.eq(kind))
                    .count()
                    .get_result::<i64>(conn)?,
            );
        }
        Ok::<_, DbError>(counts)
    })
    .await
    .expect("analytics events")
}

/// The roll-up counts of the company's playbooks equal the counts computed from its
/// events.
async fn rollups_match_events(db: &Db, company_id: &str) {
    use concierge::db::analytics::rollup;
    use concierge::db::schema::analytics_events as e;
    let company = company_id.to_owned();
    db.run(move |conn| {
        let playbooks: Vec<Option<String>> = e::table
            .filter(e::company_id.eq(&company))
            .select(e::playbook_id)
            .distinct()
            .load(conn)?;
        let today = db::now_ms() / 86_400_000;
        for playbook in playbooks.into_iter().flatten() {
            let mut kept = rollup::rows(conn, &company, &playbook, today - 1, today + 1)?;
            let mut computed =
                rollup::from_events(conn, &company, &playbook, today - 1, today + 1)?;
            kept.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
            computed.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
            assert_eq!(kept, computed, "roll-ups of {playbook}");
        }
        Ok::<_, DbError>(())
    })
    .await
    .expect("roll-ups");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_of_timers_with_mixed_outcomes_fires_each_once() {
    for db in TestDb::all() {
        let backend = db.backend;
        // No worker in the app: the test claims and fires one chunk by hand.
        let node = Node::start(&db, |c| c.timers.batch = 0).await;
        let chat = node.state.chat.clone();
        let store = node.state.db.clone();
        let plain = open_company(&store).await;
        // Another company, whose offline branch reaches a second live chat card.
        let other = open_company_with(&store, &twice(), false).await;
        let mut waiting = Vec::new();
        for _ in 0..24 {
            waiting.push(waiting_visitor(&node, &plain).await.1);
        }
        let (_w, again) = waiting_visitor(&node, &other).await;
        let assigned: Vec<String> = waiting.drain(..4).collect();
        let ended = waiting.remove(0);
        let broken = waiting.remove(0);
        // A conversation over before its timer fired, and one whose stored flow cannot be
        // read (its step fails).
        let (ended_id, broken_id) = (ended.clone(), broken.clone());
        store
            .run(move |conn| {
                diesel::update(conversations::table.find(&ended_id))
                    .set(conversations::closed_at.eq(Some(db::now_ms())))
                    .execute(conn)?;
                diesel::update(conversations::table.find(&broken_id))
                    .set(conversations::engine_state.eq("{"))
                    .execute(conn)?;
                Ok::<_, DbError>(())
            })
            .await
            .expect("conversations");

        // Every timer is due and claimed by one worker...
        let now = db::now_ms();
        set_due(&store, move |i| now - 1000 + i as i64).await;
        let lease = now + 15_000;
        let claimed = store
            .run(move |conn| concierge::db::timers::claim(conn, now, lease, 100))
            .await
            .expect("claim");
        assert_eq!(claimed.len(), 25, "{backend:?}");
        // ...while reps take four of the chats, cancelling their timers.
        for id in &assigned {
            let rep = Event::RepJoined {
                rep_name: "Rita".into(),
            };
            chat.conversation_event(&plain.id, id, rep, None)
                .await
                .expect("rep joins");
        }

        // One chunk: the 18 plain waits, the ended conversation and the second card's
        // wait fire; the taken chats and the broken one do not.
        let fired = chat.fire_timers(claimed.clone()).await.expect("fire");
        assert_eq!(fired, 20, "{backend:?}");
        assert_eq!(
            offline_counts(&store, &waiting).await,
            vec![1; 18],
            "{backend:?}"
        );
        assert_eq!(missed_events(&store, &waiting).await, vec![1; 18]);
        let none = [assigned.clone(), vec![ended.clone(), broken.clone()]].concat();
        assert_eq!(offline_counts(&store, &none).await, vec![0; 6]);
        assert_eq!(missed_events(&store, &none).await, vec![0; 6]);
        for id in &waiting {
            assert_eq!(
                conversation(&store, id).await,
                ("closed".to_owned(), Some("missed".to_owned()), None),
                "{backend:?}"
            );
            let t = timers_of(&store, id).await.remove(0);
            assert_eq!((t.status.as_str(), t.locked_until), (status::FIRED, None));
        }
        for id in &assigned {
            let t = timers_of(&store, id).await.remove(0);
            assert_eq!((t.status.as_str(), t.fired_at), (status::CANCELLED, None));
            assert_eq!(conversation(&store, id).await.1, None, "not missed");
        }
        let t = timers_of(&store, &ended).await.remove(0);
        assert_eq!(t.status, status::FIRED, "{backend:?}: the ended one");
        // The broken one is left armed under the lease, for another try once it passed.
        let t = timers_of(&store, &broken).await.remove(0);
        assert_eq!(
            (t.status.as_str(), t.locked_until, t.fired_at),
            (status::ARMED, Some(lease), None),
            "{backend:?}: the broken one"
        );
        // The second card waits again, with a timer of its own.
        let mut timers = timers_of(&store, &again).await;
        timers.sort_by_key(|t| t.card.clone());
        let states: Vec<(&str, &str)> = timers
            .iter()
            .map(|t| (t.card.as_str(), t.status.as_str()))
            .collect();
        assert_eq!(
            states,
            [("again", status::ARMED), ("rep", status::FIRED)],
            "{backend:?}"
        );
        assert_eq!(
            offline_counts(&store, std::slice::from_ref(&again)).await,
            [1]
        );
        assert_eq!(
            events_of_kind(&store, std::slice::from_ref(&again), CHAT_OFFERED).await,
            [2],
            "{backend:?}: both cards offered the chat"
        );
        assert_eq!(conversation(&store, &again).await.0, "unassigned");
        rollups_match_events(&store, &plain.id).await;
        rollups_match_events(&store, &other.id).await;

        // The same claim fired again (a worker that lost its lease) fires nothing.
        assert_eq!(chat.fire_timers(claimed).await.expect("fire"), 0);
        let all = [waiting.clone(), vec![again.clone()]].concat();
        assert_eq!(offline_counts(&store, &all).await, vec![1; 19]);
        node.stop().await;
    }
}
