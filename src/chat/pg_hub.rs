//! The [`Hub`] across nodes: PostgreSQL `LISTEN/NOTIFY`.
//!
//! Each node keeps a [`LocalHub`] for its own subscribers and two connections of its own
//! (outside the pool): one that sends, one that listens.
//!
//! - **Announcing a change** ([`Hub::notify_in`]): `pg_notify` on the connection of the
//!   transaction that made it, just before the commit (see [`Notices`]). PostgreSQL
//!   delivers the notifications when that transaction commits and drops them when it rolls
//!   back, so no notification announces something uncommitted and nothing committed goes
//!   unannounced when the node dies right after the commit. The node's own subscribers
//!   get the change once it committed ([`Hub::deliver_local`]).
//! - **Publishing** what is never stored (typing) delivers to this node's subscribers at
//!   once and queues a notification for the others; a sending thread with a connection of
//!   its own sends the queue (`pg_notify`), reconnecting with backoff when needed.
//! - **Payloads stay small** ([`super::pg_wire`]: a notice's text and back): ids, `seq`
//!   and the event itself; a message too long for a notification travels as its id and
//!   `seq`, and the receiving node reads it from the database.
//! - **Listening**: one thread per node waits on `LISTEN concierge_live` — blocked on the
//!   connection's socket ([`super::pg_listen`]), never polling — skips its own node's
//!   notifications and publishes the others' into the `LocalHub` (a company announced
//!   changed is dropped from the node's [`CompanyCache`]). When its connection
//!   drops it reconnects with backoff (100 ms doubling to 5 s) and then tells every local
//!   subscriber to re-read ([`LiveEvent::Resync`], `CompanyEvent::Resync` with the time the
//!   link was lost, less a margin): widgets re-read their messages after their last `seq`,
//!   inboxes catch up with the chats changed since.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use diesel::pg::PgConnection;
use diesel::sql_types::{Array, Text};
use diesel::{Connection, RunQueryDsl};

use super::cache::CompanyCache;
use super::live::RepEvent;
use super::message::Message;
use super::pg_listen::ListenConn;
use super::pg_wire::{self, Body};
use super::realtime::{
    CompanySubscription, Derivations, Derived, Hub, LiveEvent, LocalHub, Notices, Subscription,
};
use crate::db::{Db, DbConn, DbError, conversations};

/// The notification channel.
const CHANNEL: &str = "concierge_live";
/// The `application_name` of the listening and the sending connection.
pub const LISTEN_NAME: &str = "concierge-listen";
pub const NOTIFY_NAME: &str = "concierge-notify";
/// Notifications queued for sending before new ones are dropped (the database stays the
/// record; subscribers re-read on their next event).
const QUEUE: usize = 10_000;
/// Notifications sent in one transaction at most.
const BATCH: usize = 256;
/// The longest the listener blocks before it looks whether the hub was dropped.
const WAIT: Duration = Duration::from_secs(1);
/// How often an idle listener checks that its connection still answers.
const PROBE_EVERY: Duration = Duration::from_secs(5);
/// How long before the link was found lost a catch-up looks: a cut found by the probe,
/// notifications in flight, and the clocks of the other nodes (they stamp the rows).
const CATCH_UP_MARGIN_MS: i64 = 30_000;
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The state both threads share with the hub.
#[derive(Debug, Default)]
struct Link {
    listening: AtomicBool,
    stop: AtomicBool,
    reconnects: AtomicU64,
}

/// The hub of a node on PostgreSQL.
pub struct PgHub {
    local: Arc<LocalHub>,
    node: String,
    outgoing: SyncSender<String>,
    link: Arc<Link>,
}

impl std::fmt::Debug for PgHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgHub").field("node", &self.node).finish()
    }
}

impl PgHub {
    /// Start the sending and listening threads on `url` (the database `db` is open on);
    /// the listener drops from `cache` what other nodes announce changed.
    pub fn start(url: &str, db: Db, cache: Arc<CompanyCache>) -> std::io::Result<PgHub> {
        let local = Arc::new(LocalHub::new());
        let node = crate::db::new_id();
        let link = Arc::new(Link::default());
        let (outgoing, queued) = mpsc::sync_channel(QUEUE);
        let listener = Listener {
            url: named(url, LISTEN_NAME),
            db,
            local: local.clone(),
            cache,
            node: node.clone(),
            link: link.clone(),
        };
        std::thread::Builder::new()
            .name("pg-hub-listen".into())
            .spawn(move || listener.run())?;
        let sender_url = named(url, NOTIFY_NAME);
        std::thread::Builder::new()
            .name("pg-hub-notify".into())
            .spawn(move || send_loop(&sender_url, &queued))?;
        Ok(PgHub {
            local,
            node,
            outgoing,
            link,
        })
    }

    fn send(&self, company_id: &str, body: Body) {
        let payload = pg_wire::encode(&self.node, company_id, body);
        match self.outgoing.try_send(payload) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                tracing::warn!("real-time notifications queue is full; one dropped")
            }
            Err(TrySendError::Disconnected(_)) => {
                tracing::warn!("real-time notification sender stopped; one dropped")
            }
        }
    }
}

impl Drop for PgHub {
    fn drop(&mut self) {
        // The sender ends when `outgoing` goes; the listener at its next look.
        self.link.stop.store(true, Ordering::Relaxed);
    }
}

impl Hub for PgHub {
    fn publish(&self, company_id: &str, conversation_id: &str, event: LiveEvent) {
        self.local
            .publish(company_id, conversation_id, event.clone());
        self.send(
            company_id,
            Body::Conversation {
                conversation: conversation_id.to_owned(),
                event,
            },
        );
    }

    fn subscribe(&self, conversation_id: &str) -> Subscription {
        self.local.subscribe(conversation_id)
    }

    fn publish_rep(&self, company_id: &str, event: RepEvent) {
        self.local.publish_rep(company_id, event.clone());
        self.send(company_id, Body::Rep { event });
    }

    fn subscribe_company(&self, company_id: &str) -> CompanySubscription {
        self.local.subscribe_company(company_id)
    }

    fn notify_in(&self, conn: &mut DbConn, notices: &Notices) -> Result<(), DbError> {
        let DbConn::Pg(pg) = conn else {
            return Ok(());
        };
        if notices.is_empty() {
            return Ok(());
        }
        let payloads: Vec<String> = notices
            .iter()
            .flat_map(|n| pg_wire::payloads(&self.node, n))
            .collect();
        // One round trip; PostgreSQL keeps the order of one transaction's notifications.
        diesel::sql_query(
            "SELECT pg_notify($1, p) FROM unnest($2) WITH ORDINALITY AS t(p, i) ORDER BY i",
        )
        .bind::<Text, _>(CHANNEL)
        .bind::<Array<Text>, _>(payloads)
        .execute(pg)?;
        Ok(())
    }

    fn deliver_local(&self, notices: Notices) {
        self.local.deliver_local(notices);
    }

    fn derive(&self, company_id: &str, derived: Derived) {
        self.local.derive(company_id, derived);
    }

    fn derivations(&self) -> Option<Derivations> {
        self.local.derivations()
    }

    /// Each node works out the derived notices for its own subscribers: this node's
    /// watchers are all it needs to know.
    fn watching(&self) -> Option<std::collections::HashSet<String>> {
        self.local.watching()
    }

    fn watches_company(&self, company_id: &str) -> bool {
        self.local.watches_company(company_id)
    }

    fn connected(&self) -> bool {
        self.link.listening.load(Ordering::Relaxed)
    }

    fn reconnects(&self) -> u64 {
        self.link.reconnects.load(Ordering::Relaxed)
    }
}

/// `url` with an `application_name`, so operators see the hub's sessions for what they are.
fn named(url: &str, name: &str) -> String {
    let joiner = if url.contains('?') { '&' } else { '?' };
    format!("{url}{joiner}application_name={name}")
}

/// Send queued notifications until the hub is dropped.
fn send_loop(url: &str, queued: &Receiver<String>) {
    let mut conn: Option<PgConnection> = None;
    let mut backoff = BACKOFF_MIN;
    while let Ok(first) = queued.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match queued.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        for attempt in 0..3 {
            let c = match conn.as_mut() {
                Some(c) => c,
                None => match PgConnection::establish(url) {
                    Ok(c) => {
                        backoff = BACKOFF_MIN;
                        conn.insert(c)
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "real-time sender cannot connect");
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                        continue;
                    }
                },
            };
            let sent = c.transaction(|c| {
                for payload in &batch {
                    diesel::sql_query("SELECT pg_notify($1, $2)")
                        .bind::<Text, _>(CHANNEL)
                        .bind::<Text, _>(payload)
                        .execute(c)?;
                }
                Ok::<_, diesel::result::Error>(())
            });
            match sent {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "real-time notifications not sent");
                    conn = None;
                }
            }
        }
    }
}

/// The listening side of a node.
struct Listener {
    url: String,
    db: Db,
    local: Arc<LocalHub>,
    cache: Arc<CompanyCache>,
    node: String,
    link: Arc<Link>,
}

impl Listener {
    fn stopped(&self) -> bool {
        self.link.stop.load(Ordering::Relaxed)
    }

    fn run(self) {
        let mut backoff = BACKOFF_MIN;
        // Since when notifications may have been missed (Unix ms): none before the first
        // connection, whose subscribers read the database as they open.
        let mut lost_at: Option<i64> = None;
        while !self.stopped() {
            match self.connect() {
                Ok(mut conn) => {
                    self.link.listening.store(true, Ordering::Relaxed);
                    backoff = BACKOFF_MIN;
                    if let Some(lost) = lost_at.take() {
                        self.link.reconnects.fetch_add(1, Ordering::Relaxed);
                        tracing::info!("real-time listener connected again; subscribers re-read");
                        // A change announced meanwhile was missed too.
                        self.cache.clear();
                        self.local.resync_all(lost - CATCH_UP_MARGIN_MS);
                    }
                    let result = self.pump(&mut conn);
                    self.link.listening.store(false, Ordering::Relaxed);
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "real-time listener lost its connection");
                    }
                    lost_at = Some(crate::db::now_ms());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "real-time listener cannot connect");
                    lost_at.get_or_insert_with(crate::db::now_ms);
                }
            }
            let until = Instant::now() + backoff;
            while !self.stopped() {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                std::thread::sleep(left.min(WAIT));
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    fn connect(&self) -> Result<ListenConn, String> {
        let mut conn = ListenConn::connect(&self.url)?;
        conn.execute(&format!("LISTEN {CHANNEL}"))?;
        Ok(conn)
    }

    /// Hand notifications over until the connection fails or the hub is dropped. The
    /// thread sleeps in [`ListenConn::wait`] until a notification arrives (at most
    /// [`WAIT`], to notice a dropped hub); an idle connection is probed every
    /// [`PROBE_EVERY`], so a silently cut one is found too.
    fn pump(&self, conn: &mut ListenConn) -> Result<(), String> {
        let mut probed = Instant::now();
        while !self.stopped() {
            for payload in conn.wait(WAIT)? {
                self.deliver(&payload);
            }
            if probed.elapsed() >= PROBE_EVERY {
                conn.execute("SELECT 1")?;
                probed = Instant::now();
            }
        }
        Ok(())
    }

    fn deliver(&self, payload: &str) {
        let wire = match pg_wire::decode(payload) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable real-time notification");
                return;
            }
        };
        if wire.node == self.node {
            return;
        }
        let company = wire.company;
        match wire.body {
            Body::Conversation {
                conversation,
                event,
            } => self.local.publish(&company, &conversation, event),
            Body::Rep { event } => self.local.publish_rep(&company, event),
            Body::Derived { d } => self.local.derive(&company, d),
            Body::MessageRef {
                conversation, id, ..
            } => {
                let event = match self.read_message(&company, &conversation, &id) {
                    Some(m) => LiveEvent::Message(m),
                    None => LiveEvent::Resync,
                };
                self.local.publish(&company, &conversation, event);
            }
            Body::Resync { conversation } => {
                if let Some(conversation) = conversation {
                    self.local
                        .publish(&company, &conversation, LiveEvent::Resync);
                }
                self.local.resync_company(&company);
            }
            Body::Changed => self.cache.forget(&company),
        }
    }

    fn read_message(&self, company: &str, conversation: &str, id: &str) -> Option<Message> {
        if !self.local.watches(conversation) && !self.local.watches_company(company) {
            return None;
        }
        let mut conn = self.db.conn().ok()?;
        let row = conversations::message(&mut conn, company, conversation, id).ok()??;
        Some(Message::from(&row))
    }
}
