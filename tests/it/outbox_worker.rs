//! The outbox worker against an in-memory CRM that fails 30 % of calls in every way a CRM
//! can (transient, ambiguous after applying the write, rate limited, expired token) and
//! refuses some rows for good. Exactly-once in effect, on SQLite and PostgreSQL, with two
//! workers sharing PostgreSQL, and after a crash between the CRM's answer and the record.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::TestDb;
use crate::wait::eventually_for;
use chrono::NaiveDate;
use concierge::crm::access::AccessError;
use concierge::crm::outbox::backoff::{Backoff, StepRetry};
use concierge::crm::outbox::progress::Step;
use concierge::crm::outbox::{Connector, Worker, WorkerConfig};
use concierge::crm::{
    Crm, CrmError, CrmUser, Me, NewActivity, NewLeadOrDeal, NewNote, NewOrg, NewPerson, RateScope,
    Target,
};
use concierge::db::outbox::store;
use concierge::db::{self, Db, companies, outbox};
use concierge::playbook::effect::{ActivityData, CrmWrite, OrgData, PersonData};
use concierge::playbook::model::{CaptureTarget, NoteMode, Owner};

#[derive(Default)]
struct Store {
    next_id: i64,
    persons: Vec<(i64, NewPerson)>,
    orgs: Vec<(i64, NewOrg)>,
    leads: Vec<(String, NewLeadOrDeal)>,
    deals: Vec<(i64, NewLeadOrDeal)>,
    activities: Vec<(i64, NewActivity)>,
    notes: Vec<(i64, NewNote)>,
}

/// An in-memory CRM with fault injection.
struct FakeCrm {
    store: Mutex<Store>,
    /// Per mille of calls that fail.
    fail_per_mille: u64,
    seed: AtomicU64,
    calls: AtomicUsize,
    reconnects: AtomicUsize,
    /// How long each create takes (0: no time at all), and the most creates under way at
    /// once.
    create_ms: AtomicU64,
    creating: AtomicUsize,
    most_creating: AtomicUsize,
    /// The next this many calls fail with a 503, whatever the rate.
    fail_next: AtomicUsize,
    /// The token source cannot be reached while set.
    connect_fails: std::sync::atomic::AtomicBool,
}

enum Fault {
    None,
    Transient,
    AmbiguousAfterApply,
    RateLimited,
    Unauthorized,
}

impl FakeCrm {
    fn new(fail_per_mille: u64) -> Arc<FakeCrm> {
        Arc::new(FakeCrm {
            store: Mutex::new(Store::default()),
            fail_per_mille,
            seed: AtomicU64::new(0x9e37_79b9_7f4a_7c15),
            calls: AtomicUsize::new(0),
            reconnects: AtomicUsize::new(0),
            create_ms: AtomicU64::new(0),
            creating: AtomicUsize::new(0),
            most_creating: AtomicUsize::new(0),
            fail_next: AtomicUsize::new(0),
            connect_fails: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn roll(&self) -> u64 {
        // xorshift, shared by all callers.
        let mut x = self.seed.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed.store(x, Ordering::Relaxed);
        x
    }

    fn fault(&self) -> Fault {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let forced = self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if forced.is_ok() {
            return Fault::Transient;
        }
        let r = self.roll();
        if r % 1000 >= self.fail_per_mille {
            return Fault::None;
        }
        match (r / 1000) % 10 {
            0..=2 => Fault::Transient,
            3..=5 => Fault::AmbiguousAfterApply,
            6 => Fault::RateLimited,
            _ => Fault::Unauthorized,
        }
    }

    /// A create that takes `create_ms`, as a real CRM's does.
    async fn take_time(&self) {
        let ms = self.create_ms.load(Ordering::SeqCst);
        if ms == 0 {
            return;
        }
        let now = self.creating.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_creating.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        self.creating.fetch_sub(1, Ordering::SeqCst);
    }

    /// Run a read with a possible fault.
    fn read<T>(&self, f: impl FnOnce(&Store) -> T) -> Result<T, CrmError> {
        match self.fault() {
            Fault::None | Fault::AmbiguousAfterApply => Ok(f(&self.store.lock().unwrap())),
            Fault::Transient => Err(CrmError::Transient {
                message: "502 Bad Gateway".into(),
                retry_after_secs: None,
            }),
            Fault::RateLimited => Err(CrmError::RateLimited {
                retry_after_secs: 1,
                scope: RateScope::Burst,
            }),
            Fault::Unauthorized => Err(CrmError::Unauthorized),
        }
    }

    /// Run a write with a possible fault; an ambiguous fault applies it first.
    fn write<T>(&self, f: impl FnOnce(&mut Store) -> T) -> Result<T, CrmError> {
        match self.fault() {
            Fault::None => Ok(f(&mut self.store.lock().unwrap())),
            Fault::AmbiguousAfterApply => {
                f(&mut self.store.lock().unwrap());
                Err(CrmError::Ambiguous {
                    message: "timed out after sending".into(),
                })
            }
            Fault::Transient => Err(CrmError::Transient {
                message: "503 Service Unavailable".into(),
                retry_after_secs: Some(0),
            }),
            Fault::RateLimited => Err(CrmError::RateLimited {
                retry_after_secs: 1,
                scope: RateScope::Burst,
            }),
            Fault::Unauthorized => Err(CrmError::Unauthorized),
        }
    }
}

fn next(s: &mut Store) -> i64 {
    s.next_id += 1;
    s.next_id
}

#[derive(Clone)]
struct FakeClient(Arc<FakeCrm>);

impl Crm for FakeClient {
    async fn me(&self) -> Result<Me, CrmError> {
        unreachable!("the worker does not ask")
    }
    async fn users(&self) -> Result<Vec<CrmUser>, CrmError> {
        Ok(vec![])
    }
    async fn find_person_by_email(&self, email: &str) -> Result<Option<i64>, CrmError> {
        self.0.read(|s| {
            s.persons
                .iter()
                .find(|(_, p)| p.email.as_deref() == Some(email))
                .map(|(id, _)| *id)
        })
    }
    async fn find_person_by_name(&self, name: &str) -> Result<Option<i64>, CrmError> {
        self.0.read(|s| {
            s.persons
                .iter()
                .find(|(_, p)| p.name == name)
                .map(|(id, _)| *id)
        })
    }
    async fn create_person(&self, p: &NewPerson) -> Result<i64, CrmError> {
        self.0.take_time().await;
        self.0.write(|s| {
            let id = next(s);
            s.persons.push((id, p.clone()));
            id
        })
    }
    async fn person_exists(&self, id: i64) -> Result<bool, CrmError> {
        self.0.read(|s| s.persons.iter().any(|(i, _)| *i == id))
    }
    async fn find_org_by_name(&self, name: &str) -> Result<Option<i64>, CrmError> {
        self.0.read(|s| {
            s.orgs
                .iter()
                .find(|(_, o)| o.name == name)
                .map(|(id, _)| *id)
        })
    }
    async fn create_org(&self, o: &NewOrg) -> Result<i64, CrmError> {
        self.0.take_time().await;
        self.0.write(|s| {
            let id = next(s);
            s.orgs.push((id, o.clone()));
            id
        })
    }
    async fn org_exists(&self, id: i64) -> Result<bool, CrmError> {
        self.0.read(|s| s.orgs.iter().any(|(i, _)| *i == id))
    }
    async fn create_lead(&self, l: &NewLeadOrDeal) -> Result<String, CrmError> {
        self.0.take_time().await;
        if l.title.contains("REFUSED") {
            self.0.calls.fetch_add(1, Ordering::Relaxed);
            return Err(CrmError::Permanent {
                status: 400,
                message: "Lead title is not allowed".into(),
            });
        }
        self.0.write(|s| {
            let id = format!("lead-{}", next(s));
            s.leads.push((id.clone(), l.clone()));
            id
        })
    }
    async fn find_lead(&self, l: &NewLeadOrDeal) -> Result<Option<String>, CrmError> {
        self.0.read(|s| {
            s.leads
                .iter()
                .find(|(_, x)| x.title == l.title && x.person_id == l.person_id)
                .map(|(id, _)| id.clone())
        })
    }
    async fn create_deal(&self, d: &NewLeadOrDeal) -> Result<i64, CrmError> {
        self.0.take_time().await;
        self.0.write(|s| {
            let id = next(s);
            s.deals.push((id, d.clone()));
            id
        })
    }
    async fn find_deal(&self, d: &NewLeadOrDeal) -> Result<Option<i64>, CrmError> {
        self.0.read(|s| {
            s.deals
                .iter()
                .find(|(_, x)| x.title == d.title && x.person_id == d.person_id)
                .map(|(id, _)| *id)
        })
    }
    async fn create_activity(&self, a: &NewActivity) -> Result<i64, CrmError> {
        self.0.take_time().await;
        self.0.write(|s| {
            let id = next(s);
            s.activities.push((id, a.clone()));
            id
        })
    }
    async fn find_activity(&self, a: &NewActivity) -> Result<Option<i64>, CrmError> {
        self.0.read(|s| {
            s.activities
                .iter()
                .find(|(_, x)| x.subject == a.subject && x.target == a.target)
                .map(|(id, _)| *id)
        })
    }
    async fn create_note(&self, n: &NewNote) -> Result<i64, CrmError> {
        self.0.take_time().await;
        self.0.write(|s| {
            let id = next(s);
            s.notes.push((id, n.clone()));
            id
        })
    }
    async fn find_note(&self, target: &Target, marker: &str) -> Result<Option<i64>, CrmError> {
        self.0.read(|s| {
            s.notes
                .iter()
                .find(|(_, n)| n.target.as_ref() == Some(target) && n.content.contains(marker))
                .map(|(id, _)| *id)
        })
    }
}

struct FakeConnector(Arc<FakeCrm>);

impl Connector for FakeConnector {
    type Client = FakeClient;
    async fn connect(&self, _company: &str) -> Result<(FakeClient, i64), AccessError> {
        if self.0.connect_fails.load(Ordering::SeqCst) {
            return Err(AccessError::Unavailable(
                "the token endpoint is down".into(),
            ));
        }
        Ok((FakeClient(self.0.clone()), 1))
    }
    async fn reconnect(&self, _company: &str, _v: i64) -> Result<(FakeClient, i64), AccessError> {
        self.0.reconnects.fetch_add(1, Ordering::Relaxed);
        Ok((FakeClient(self.0.clone()), 2))
    }
    fn wait_hint(&self, _company: &str) -> Option<(Duration, RateScope)> {
        None
    }
}

pub fn capture(i: usize, org: Option<String>) -> CrmWrite {
    let refused = i % 50 == 7;
    CrmWrite {
        card: "capture".into(),
        create: if i.is_multiple_of(5) {
            CaptureTarget::Deal
        } else {
            CaptureTarget::Lead
        },
        title: if refused {
            format!("REFUSED lead {i}")
        } else {
            format!("Chat lead {i}")
        },
        person: PersonData {
            name: Some(format!("Visitor {i}")),
            email: Some(format!("visitor{i}@example.com")),
            phone: None,
        },
        org: org.map(|name| OrgData {
            name,
            address: None,
        }),
        value: None,
        expected_close_date: None,
        owner: Owner::Playbook,
        label: None,
        activity: Some(ActivityData {
            subject: format!("Call visitor {i}"),
            kind: "call".into(),
            due_date: NaiveDate::from_ymd_opt(2030, 1, 2).unwrap(),
        }),
        note: NoteMode::Transcript,
        answers: vec![("budget".into(), format!("<b>{i}</b>"))],
    }
}

fn fast_config() -> WorkerConfig {
    WorkerConfig {
        poll_interval: Duration::from_millis(5),
        concurrency: 4,
        per_company: 4,
        lease: Duration::from_secs(5),
        step_retry: StepRetry {
            pause: Duration::from_millis(5),
            ..StepRetry::default()
        },
        backoff: Backoff {
            base: Duration::from_millis(5),
            cap: Duration::from_millis(50),
        },
        disconnected_delay: Duration::from_millis(50),
    }
}

/// Make `n` capture rows over `companies` companies. Returns the company ids.
fn seed(db: &Db, n: usize, company_count: usize, shared_orgs: bool) -> Vec<String> {
    let mut conn = db.conn().unwrap();
    let ids: Vec<String> = (0..company_count)
        .map(|c| {
            companies::create(&mut conn, &format!("Co {c}"), Some(c as i64 + 1))
                .unwrap()
                .id
        })
        .collect();
    for i in 0..n {
        let org = match (i % 3, shared_orgs) {
            (0, _) => None,
            (_, true) => Some(format!("Org {}", i % 40)),
            (_, false) => Some(format!("Org of {i}")),
        };
        let payload = serde_json::to_value(capture(i, org)).unwrap();
        outbox::enqueue(
            &mut conn,
            &ids[i % company_count],
            None,
            outbox::Kind::Capture,
            &payload,
            db::now_ms(),
        )
        .unwrap();
    }
    ids
}

fn pending(db: &Db, companies: &[String]) -> i64 {
    let mut conn = db.conn().unwrap();
    companies
        .iter()
        .map(|c| {
            store::counts(&mut conn, c)
                .unwrap()
                .into_iter()
                .filter(|(s, _)| s == "pending")
                .map(|(_, n)| n)
                .sum::<i64>()
        })
        .sum()
}

async fn run_until_quiet<C: Connector>(workers: Vec<Worker<C>>, db: &Db, companies: &[String]) {
    let handles: Vec<_> = workers.into_iter().map(Worker::spawn).collect();
    eventually_for("the outbox to drain", Duration::from_secs(240), || async {
        (pending(db, companies) == 0).then_some(())
    })
    .await;
    for h in handles {
        h.stop().await;
    }
}

/// Every object once; refused rows failed with the CRM's message; the rest done.
fn assert_exactly_once(crm: &FakeCrm, db: &Db, companies: &[String], n: usize, shared_orgs: bool) {
    let s = crm.store.lock().unwrap();
    let refused = (0..n).filter(|i| i % 50 == 7).count();
    let mut emails: HashMap<&str, usize> = HashMap::new();
    for (_, p) in &s.persons {
        *emails.entry(p.email.as_deref().unwrap()).or_default() += 1;
    }
    assert_eq!(s.persons.len(), n, "one person per conversation");
    assert!(emails.values().all(|&c| c == 1), "a person was duplicated");
    let orgs: std::collections::HashSet<&str> =
        s.orgs.iter().map(|(_, o)| o.name.as_str()).collect();
    assert_eq!(orgs.len(), s.orgs.len(), "an organization was duplicated");
    let expected_orgs = if shared_orgs {
        (0..n)
            .filter(|i| i % 3 != 0)
            .map(|i| i % 40)
            .collect::<std::collections::HashSet<_>>()
            .len()
    } else {
        (0..n).filter(|i| i % 3 != 0).count()
    };
    assert_eq!(s.orgs.len(), expected_orgs);
    let deals = (0..n).filter(|i| i.is_multiple_of(5)).count();
    assert_eq!(s.deals.len(), deals);
    assert_eq!(s.leads.len(), n - deals - refused);
    let titles: std::collections::HashSet<&str> =
        s.leads.iter().map(|(_, l)| l.title.as_str()).collect();
    assert_eq!(titles.len(), s.leads.len(), "a lead was duplicated");
    assert_eq!(s.activities.len(), n - refused);
    assert_eq!(s.notes.len(), n - refused);
    // Every note carries escaped answers.
    assert!(
        s.notes
            .iter()
            .all(|(_, note)| !note.content.contains("<b>1"))
    );
    let mut conn = db.conn().unwrap();
    let mut failed = 0;
    for c in companies {
        for row in store::unfinished(&mut conn, c, 10_000).unwrap() {
            assert_eq!(row.status, "failed");
            assert!(
                row.last_error
                    .as_deref()
                    .unwrap()
                    .contains("Lead title is not allowed"),
                "{:?}",
                row.last_error
            );
            failed += 1;
        }
    }
    assert_eq!(failed, refused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fault_matrix_exactly_once_on_every_backend() {
    for t in TestDb::all() {
        let db = t.open();
        let n = 300;
        let shared = t.backend == db::Backend::Sqlite;
        let companies = seed(&db, n, 3, shared);
        let crm = FakeCrm::new(300);
        let connector = Arc::new(FakeConnector(crm.clone()));
        let mut workers = vec![Worker::new(db.clone(), connector.clone(), fast_config())];
        if t.backend == db::Backend::Postgres {
            // A second node on the same database.
            let other = t.open();
            workers.push(Worker::new(other, connector.clone(), fast_config()));
        }
        run_until_quiet(workers, &db, &companies).await;
        assert_exactly_once(&crm, &db, &companies, n, shared);
        assert!(
            crm.reconnects.load(Ordering::Relaxed) > 0,
            "401s refreshed the token"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_crm_answered_does_not_duplicate() {
    for t in TestDb::all() {
        let db = t.open();
        let companies = seed(&db, 20, 1, false);
        let crm = FakeCrm::new(0);
        let connector = Arc::new(FakeConnector(crm.clone()));
        // Every row dies right after its lead is created, before the id is recorded.
        let mut config = fast_config();
        // Long enough that the three runs below finish inside it on a loaded machine.
        config.lease = Duration::from_secs(3);
        let crashing = Worker::new(db.clone(), connector.clone(), config.clone())
            .with_crash_hook(Arc::new(|_, step| step != Step::LeadOrDeal));
        crashing.run_once().await.unwrap();
        crashing.run_once().await.unwrap();
        crashing.run_once().await.unwrap();
        {
            let s = crm.store.lock().unwrap();
            assert!(!s.leads.is_empty() || !s.deals.is_empty());
            assert!(s.activities.is_empty());
        }
        // A fresh worker takes over once the leases have expired.
        eventually_for("the leases to expire", Duration::from_secs(10), || async {
            (live_leases(&db) == 0).then_some(())
        })
        .await;
        run_until_quiet(
            vec![Worker::new(db.clone(), connector, config)],
            &db,
            &companies,
        )
        .await;
        assert_exactly_once(&crm, &db, &companies, 20, false);
    }
}

/// Rows of the company that are pending and still leased.
/// Pending rows under a lease that has not run out yet.
fn live_leases(db: &Db) -> i64 {
    use concierge::db::schema::outbox as o;
    use diesel::prelude::*;
    let mut conn = db.conn().unwrap();
    o::table
        .filter(o::status.eq("pending"))
        .filter(o::locked_until.gt(db::now_ms()))
        .count()
        .get_result(&mut conn)
        .unwrap()
}

fn leased(db: &Db) -> i64 {
    use concierge::db::schema::outbox as o;
    use diesel::prelude::*;
    let mut conn = db.conn().unwrap();
    o::table
        .filter(o::status.eq("pending"))
        .filter(o::locked_until.is_not_null())
        .count()
        .get_result(&mut conn)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_worker_releases_the_rows_it_has_not_started() {
    for t in TestDb::all() {
        let db = t.open();
        // One company: its rows go one after another, so most of the batch waits.
        let companies = seed(&db, 6, 1, false);
        let crm = FakeCrm::new(0);
        let connector = Arc::new(FakeConnector(crm.clone()));
        let mut config = fast_config();
        config.per_company = 1;
        // Far longer than the test: only a release lets the next worker in.
        config.lease = Duration::from_secs(600);
        // Each create takes a while, as a real CRM's would.
        let slow = Worker::new(db.clone(), connector.clone(), config.clone()).with_crash_hook(
            Arc::new(|_, _| {
                std::thread::sleep(Duration::from_millis(30));
                true
            }),
        );
        let handle = slow.spawn();
        eventually_for("a first delivery", Duration::from_secs(60), || async {
            (pending(&db, &companies) < 6).then_some(())
        })
        .await;
        handle.stop().await;
        let left = pending(&db, &companies);
        assert!(left > 0, "{:?}: the batch was not cut short", t.backend);
        assert_eq!(leased(&db), 0, "every row not started is released");
        // Another worker (another node) delivers them at once, not after the lease.
        run_until_quiet(
            vec![Worker::new(db.clone(), connector, config)],
            &db,
            &companies,
        )
        .await;
        assert_exactly_once(&crm, &db, &companies, 6, false);
    }
}

/// One company's captures go through several lanes at once, and captures naming the same
/// person or organization still create it once: the look-up and the create hold the lock
/// of that e-mail and that name.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_companys_captures_go_side_by_side_and_shared_people_are_created_once() {
    for t in TestDb::all() {
        let db = t.open();
        let company = {
            let mut conn = db.conn().unwrap();
            let company = companies::create(&mut conn, "Lanes", Some(99)).unwrap().id;
            // Twelve captures: three people, one organization.
            for i in 10..22 {
                let mut write = capture(i, Some("Shared Org".into()));
                write.person.email = Some(format!("shared{}@example.com", i % 3));
                let payload = serde_json::to_value(write).unwrap();
                outbox::enqueue(
                    &mut conn,
                    &company,
                    None,
                    outbox::Kind::Capture,
                    &payload,
                    db::now_ms(),
                )
                .unwrap();
            }
            company
        };
        let crm = FakeCrm::new(0);
        let connector = Arc::new(FakeConnector(crm.clone()));
        crm.create_ms.store(20, Ordering::SeqCst);
        let mut config = fast_config();
        config.concurrency = 8;
        config.per_company = 4;
        let worker = Worker::new(db.clone(), connector, config);
        run_until_quiet(vec![worker], &db, std::slice::from_ref(&company)).await;
        let s = crm.store.lock().unwrap();
        assert_eq!(s.orgs.len(), 1, "{:?}: the organization once", t.backend);
        assert_eq!(s.persons.len(), 3, "{:?}: each person once", t.backend);
        assert_eq!(s.leads.len() + s.deals.len(), 12);
        assert_eq!(s.notes.len(), 12);
        assert!(
            crm.most_creating.load(Ordering::SeqCst) >= 2,
            "{:?}: one company's captures went one at a time",
            t.backend
        );
    }
}

/// A row the worker scheduled for a retry goes out when it is due, not at the next poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_goes_out_when_it_is_due_not_at_the_next_poll() {
    let t = TestDb::sqlite();
    let db = t.open();
    let companies = seed(&db, 1, 1, false);
    let crm = FakeCrm::new(0);
    crm.fail_next.store(1, Ordering::SeqCst);
    let mut config = fast_config();
    config.poll_interval = Duration::from_secs(60);
    config.step_retry = StepRetry::once();
    config.backoff = Backoff {
        base: Duration::from_millis(100),
        cap: Duration::from_millis(100),
    };
    let worker = Worker::new(db.clone(), Arc::new(FakeConnector(crm.clone())), config).spawn();
    eventually_for("the retried row", Duration::from_secs(10), || async {
        (pending(&db, &companies) == 0).then_some(())
    })
    .await;
    worker.stop().await;
    assert_exactly_once(&crm, &db, &companies, 1, false);
    assert!(
        crm.calls.load(Ordering::Relaxed) > 1,
        "the first call failed"
    );
}

/// More deliveries at once than the database has connections: while the worker waits to
/// claim more rows, the deliveries under way keep going (they may hold the permits the
/// claim waits behind), so every row is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_go_on_while_the_worker_waits_to_claim() {
    let t = TestDb::sqlite();
    let db = t.open();
    let n = 400;
    let companies = seed(&db, n, 2, false);
    let crm = FakeCrm::new(0);
    crm.create_ms.store(1, Ordering::SeqCst);
    let config = WorkerConfig {
        concurrency: 16,
        per_company: 16,
        ..fast_config()
    };
    let worker = Worker::new(db.clone(), Arc::new(FakeConnector(crm.clone())), config).spawn();
    eventually_for("every row delivered", Duration::from_secs(60), || async {
        (pending(&db, &companies) == 0).then_some(())
    })
    .await;
    worker.stop().await;
    assert_exactly_once(&crm, &db, &companies, n, false);
}

/// A step whose call fails is tried again within the attempt, up to its tries; only then
/// does the row go back with a backoff.
#[tokio::test]
async fn a_failed_step_is_tried_again_within_the_attempt() {
    let t = TestDb::sqlite();
    let db = t.open();
    let companies = seed(&db, 2, 1, false);
    let crm = FakeCrm::new(0);
    let worker = Worker::new(
        db.clone(),
        Arc::new(FakeConnector(crm.clone())),
        fast_config(),
    );
    // Two failures in a row: the third try of the first step goes through.
    crm.fail_next.store(2, Ordering::SeqCst);
    worker.run_once().await.unwrap();
    assert_eq!(pending(&db, &companies), 0, "delivered in one attempt");
    let attempts: Vec<i32> = {
        use concierge::db::schema::outbox as o;
        use diesel::prelude::*;
        let mut conn = db.conn().unwrap();
        o::table.select(o::attempts).load(&mut conn).unwrap()
    };
    assert_eq!(attempts, vec![1, 1]);
    assert_exactly_once(&crm, &db, &companies, 2, false);
    // As many failures as tries: the row goes back to wait for its next attempt.
    let t = TestDb::sqlite();
    let db = t.open();
    let companies = seed(&db, 1, 1, false);
    let worker = Worker::new(
        db.clone(),
        Arc::new(FakeConnector(crm.clone())),
        fast_config(),
    );
    crm.fail_next.store(3, Ordering::SeqCst);
    worker.run_once().await.unwrap();
    assert_eq!(pending(&db, &companies), 1, "the tries are spent");
}

/// A failure before any CRM call (the token source is down) backs off from the failures
/// since the last step that succeeded, not from every attempt the row ever made.
#[tokio::test]
async fn a_token_source_failure_waits_as_little_as_a_first_failure() {
    let t = TestDb::sqlite();
    let db = t.open();
    let companies = seed(&db, 1, 1, false);
    {
        use concierge::db::schema::outbox as o;
        use diesel::prelude::*;
        let mut conn = db.conn().unwrap();
        diesel::update(o::table)
            .set(o::attempts.eq(20))
            .execute(&mut conn)
            .unwrap();
    }
    let crm = FakeCrm::new(0);
    crm.connect_fails.store(true, Ordering::SeqCst);
    let mut config = fast_config();
    config.backoff = Backoff {
        base: Duration::from_secs(1),
        cap: Duration::from_secs(15 * 60),
    };
    let worker = Worker::new(db.clone(), Arc::new(FakeConnector(crm)), config);
    let before = db::now_ms();
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let row = {
        let mut conn = db.conn().unwrap();
        store::unfinished(&mut conn, &companies[0], 10)
            .unwrap()
            .remove(0)
    };
    assert_eq!(row.attempts, 21);
    assert!(
        row.next_attempt_at - before <= 1_500,
        "waits {} ms after its 21st attempt",
        row.next_attempt_at - before
    );
}
