//! The conversations service the web layer (and workers) call: runs a turn on the
//! blocking pool inside one write transaction that also announces what it produced
//! ([`Notices`], with what the reps and waiting visitors should learn of it), then — only
//! once it committed — wakes the timer worker and makes the http card call it asked for.

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::Notify;

use super::ChatError;
use super::http_card::HttpCaller;
use super::live::announce::Queues;
use super::realtime::{Hub, LiveEvent, Notices};
use super::timers::{self, TimerWake};
use super::turn::{self, Input, Outcome};
use super::versions::VersionCache;
use crate::db::timers::TimerRow;
use crate::db::{Db, DbConn, DbError};
use crate::playbook::Event;
use crate::playbook::effect::HttpRequest;
use crate::playbook::state::HttpOutcome;

/// Cheap to clone; one per app.
#[derive(Clone)]
pub struct Chat {
    pub db: Db,
    pub hub: Arc<dyn Hub>,
    pub http: HttpCaller,
    pub(crate) versions: Arc<VersionCache>,
    /// Wakes this node's timer worker when a turn arms a timer earlier than its sleep.
    pub timer_wake: Arc<TimerWake>,
    /// Wakes this node's outbox worker when a turn queued a CRM write, so the capture
    /// goes out at once rather than at the worker's next poll. (Other nodes need no
    /// telling: the node that committed the row delivers it, and theirs poll.)
    pub outbox_wake: Arc<Notify>,
    /// What this node last told its waiting visitors of their place in the queue.
    pub(crate) queues: Arc<Queues>,
}

impl Chat {
    /// `outbox_wake` is the outbox worker's wake-up (see [`Chat::outbox_wake`]).
    pub fn new(db: Db, hub: Arc<dyn Hub>, http: HttpCaller, outbox_wake: Arc<Notify>) -> Chat {
        Chat {
            db,
            hub,
            http,
            versions: Arc::new(VersionCache::new()),
            timer_wake: Arc::new(TimerWake::default()),
            outbox_wake,
            queues: Arc::new(Queues::default()),
        }
    }

    /// A visitor's turn: committed, then delivered. Its span carries the conversation id
    /// once the turn knows it (a first message opens the conversation).
    #[tracing::instrument(name = "visitor_turn", skip_all, fields(company_id = %company_id, conversation_id = tracing::field::Empty))]
    pub async fn visitor_turn(
        &self,
        company_id: &str,
        visitor_id: &str,
        input: Input,
    ) -> Result<Outcome, ChatError> {
        let began = std::time::Instant::now();
        let result = self.visitor_turn_now(company_id, visitor_id, input).await;
        crate::metrics::turn(result.is_ok(), began.elapsed());
        result
    }

    async fn visitor_turn_now(
        &self,
        company_id: &str,
        visitor_id: &str,
        input: Input,
    ) -> Result<Outcome, ChatError> {
        let mut retried = false;
        let outcome = loop {
            let (versions, company, visitor, input) = (
                self.versions.clone(),
                company_id.to_owned(),
                visitor_id.to_owned(),
                input.clone(),
            );
            let result = self
                .write_announced(move |conn, notices| {
                    let outcome =
                        turn::visitor_turn(conn, &versions, &company, &visitor, input, Utc::now())?;
                    outcome.announce(notices);
                    Ok::<_, ChatError>(outcome)
                })
                .await;
            match result {
                // Another request of the same visitor opened the conversation first.
                Err(ChatError::Db(e)) if e.is_unique_violation() && !retried => retried = true,
                other => break other?,
            }
        };
        if let Some(c) = &outcome.conversation {
            tracing::Span::current().record("conversation_id", c.id.as_str());
        }
        self.committed(std::slice::from_ref(&outcome));
        Ok(outcome)
    }

    /// Fire timers claimed by the timer worker (see [`timers`]) in one write transaction,
    /// each in a savepoint of its own: the engine's event, the timer marked fired and the
    /// conversation recorded as missed commit together, or not at all. Then each outcome is
    /// delivered like a visitor turn's. Returns how many fired.
    pub async fn fire_timers(&self, claimed: Vec<TimerRow>) -> Result<usize, ChatError> {
        let versions = self.versions.clone();
        let outcomes = self
            .write_announced(move |conn, notices| {
                let fired = timers::fire_all(conn, &versions, &claimed, Utc::now())?;
                for outcome in &fired {
                    outcome.announce(notices);
                }
                Ok::<_, ChatError>(fired)
            })
            .await?;
        self.committed(&outcomes);
        Ok(outcomes.len())
    }

    /// After turns committed (and were announced with their transaction): wake the timer
    /// worker for a timer they armed and the outbox worker for a capture they queued, and
    /// start the http calls they asked for.
    fn committed(&self, outcomes: &[Outcome]) {
        for outcome in outcomes {
            self.wake_workers(outcome);
            if let (Some(request), Some(conv)) = (outcome.http.clone(), &outcome.conversation) {
                let chat = self.clone();
                let (company, conversation) = (conv.company_id.clone(), conv.id.clone());
                tokio::spawn(async move { chat.run_http(company, conversation, request).await });
            }
        }
    }

    /// Feed an event from outside the visitor (a timer, a rep, an http result) to a
    /// conversation's flow; `card` is the card it is for. Committed, then delivered.
    #[tracing::instrument(name = "conversation_event", skip_all, fields(company_id = %company_id, conversation_id = %conversation_id))]
    pub async fn conversation_event(
        &self,
        company_id: &str,
        conversation_id: &str,
        event: Event,
        card: Option<String>,
    ) -> Result<Option<HttpRequest>, ChatError> {
        let (versions, company, conversation) = (
            self.versions.clone(),
            company_id.to_owned(),
            conversation_id.to_owned(),
        );
        let outcome = self
            .write_announced(move |conn, notices| {
                let outcome = turn::conversation_event(
                    conn,
                    &versions,
                    &company,
                    &conversation,
                    &event,
                    card.as_deref(),
                    Utc::now(),
                )?;
                outcome.announce(notices);
                Ok::<_, ChatError>(outcome)
            })
            .await?;
        self.wake_workers(&outcome);
        Ok(outcome.conversation.as_ref().and(outcome.http.clone()))
    }

    /// A turn committed: wake the timer worker for a timer it armed, the outbox worker for
    /// a CRM write it queued.
    fn wake_workers(&self, outcome: &Outcome) {
        if let Some(due_at) = outcome.armed {
            self.timer_wake.armed(due_at);
        }
        if outcome.queued_crm {
            self.outbox_wake.notify_one();
        }
    }

    /// Call http cards one after the other (a result may lead to the next http card),
    /// showing the bot as typing meanwhile.
    async fn run_http(self, company_id: String, conversation_id: String, first: HttpRequest) {
        let mut next = Some(first);
        while let Some(request) = next.take() {
            let typing = |on: bool| LiveEvent::Typing {
                author: "bot".into(),
                name: None,
                typing: on,
            };
            self.hub
                .publish(&company_id, &conversation_id, typing(true));
            let outcome: HttpOutcome = self.http.call(&request).await;
            self.hub
                .publish(&company_id, &conversation_id, typing(false));
            let event = Event::HttpResult { outcome };
            match self
                .conversation_event(&company_id, &conversation_id, event, Some(request.card))
                .await
            {
                Ok(more) => next = more,
                Err(e) => {
                    tracing::error!(error = %e, conversation = %conversation_id, "cannot store an http card's result");
                }
            }
        }
    }

    /// Run `f` in one write transaction with the [`Notices`] it collects announced with it:
    /// sent to the other nodes on the transaction's own connection before the commit
    /// ([`Hub::notify_in`]), delivered to this node's subscribers after it
    /// ([`Hub::deliver_local`]). Nothing is announced when `f` fails or the commit does.
    pub async fn write_announced<F, T, E>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn, &mut Notices) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let hub = self.hub.clone();
        let (value, notices) = self
            .db
            .write(move |conn| {
                let mut notices = Notices::new();
                let value = f(conn, &mut notices)?;
                hub.notify_in(conn, &notices)?;
                Ok::<_, E>((value, notices))
            })
            .await?;
        self.hub.deliver_local(notices);
        Ok(value)
    }
}
