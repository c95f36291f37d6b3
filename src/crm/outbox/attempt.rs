//! One attempt at an outbox row: the connection to the company's CRM, the row's job with
//! the ids an earlier attempt created, its steps, and the outcome the failure plans
//! (retried with backoff, postponed, failed for good).

use std::time::Duration;

use super::backoff::{self, Plan};
use super::deliver::{self, Job, StepError};
use super::lease::LeaseRecorder;
use super::note;
use super::progress::Progress;
use super::{Connector, Worker};
use crate::crm::CrmError;
use crate::crm::access::AccessError;
use crate::db::outbox::OutboxRow;
use crate::db::outbox::store::{self, Outcome};
use crate::db::{self, DbError};
use crate::playbook::effect::CrmWrite;

impl<C: Connector> Worker<C> {
    /// One attempt. `None` when the row must be left alone (lease lost, abandoned).
    pub(super) async fn attempt(
        &self,
        row: &OutboxRow,
        progress: &mut Progress,
        rec: &mut LeaseRecorder,
    ) -> Option<Outcome> {
        let now = db::now_ms();
        let write: CrmWrite = match serde_json::from_str(&row.payload) {
            Ok(w) => w,
            Err(e) => {
                return Some(Outcome::Failed {
                    error: format!("the stored capture cannot be read: {e}"),
                });
            }
        };
        if let Some((wait, scope)) = self.connector.wait_hint(&row.company_id)
            && wait > Duration::from_secs(2)
        {
            return Some(Outcome::Postpone {
                at: now + millis(wait),
                error: Some(format!("waiting for the CRM's {scope} rate limit to reset")),
            });
        }
        if let Some(source) = progress.notes_for.clone()
            && progress.lead_id.is_none()
            && progress.deal_id.is_none()
            && let Some(outcome) = self.take_over_ids(row, &source, progress).await
        {
            return Some(outcome);
        }
        let job = match self.job(row, write, progress).await {
            Ok(job) => job,
            Err(e) => return Some(self.retry(progress, format!("database: {e}"))),
        };
        let (client, version) = match self.connector.connect(&row.company_id).await {
            Ok(c) => c,
            Err(e) => return Some(self.access_failed(progress, e)),
        };
        let mut result =
            deliver::deliver(&client, &job, progress, rec, &self.config.step_retry).await;
        if let Err(StepError::Crm {
            error: CrmError::Unauthorized,
            ..
        }) = &result
        {
            // Refresh once, then carry on from the recorded progress.
            match self.connector.reconnect(&row.company_id, version).await {
                Ok((client, _)) => {
                    result = deliver::deliver(&client, &job, progress, rec, &self.config.step_retry)
                        .await
                }
                Err(e) => return Some(self.access_failed(progress, e)),
            }
        }
        match result {
            Ok(()) => Some(Outcome::Done),
            Err(StepError::NotRecorded(reason)) => {
                tracing::warn!(row = %row.id, %reason, "outbox delivery stopped");
                None
            }
            Err(StepError::Crm { step, error }) => {
                let message = match &error {
                    CrmError::Permanent { message, .. } => format!("{}: {message}", step.name()),
                    other => format!("{}: {other}", step.name()),
                };
                let now = db::now_ms();
                Some(
                    match backoff::plan_step_failure(
                        &self.config.backoff,
                        progress,
                        &error,
                        backoff::unit(),
                    ) {
                        Plan::GiveUp => Outcome::Failed { error: message },
                        Plan::Retry(wait) => Outcome::Retry {
                            at: now + millis(wait),
                            error: message,
                        },
                        Plan::Postpone(wait) => Outcome::Postpone {
                            at: now + millis(wait),
                            error: Some(message),
                        },
                    },
                )
            }
        }
    }

    /// Try again after a failure outside the CRM's answers (the database, the token
    /// source), backing off like a step's failure.
    fn retry(&self, progress: &mut Progress, error: String) -> Outcome {
        let wait = backoff::plan_failure(&self.config.backoff, progress, backoff::unit());
        Outcome::Retry {
            at: db::now_ms() + millis(wait),
            error,
        }
    }

    fn access_failed(&self, progress: &mut Progress, e: AccessError) -> Outcome {
        match e {
            AccessError::Unavailable(_) | AccessError::Db(_) => self.retry(progress, e.to_string()),
            AccessError::NotConnected | AccessError::Revoked(_) | AccessError::Unreadable(_) => {
                Outcome::Postpone {
                    at: db::now_ms() + millis(self.config.disconnected_delay),
                    error: Some(e.to_string()),
                }
            }
        }
    }

    /// A transcript row takes the CRM ids of the row that made its lead or deal; an
    /// outcome when it cannot (yet).
    async fn take_over_ids(
        &self,
        row: &OutboxRow,
        source: &str,
        progress: &mut Progress,
    ) -> Option<Outcome> {
        let (company, id) = (row.company_id.clone(), source.to_owned());
        let found = self
            .db
            .run(move |conn| db::outbox::get(conn, &company, &id))
            .await;
        let source = match found {
            Ok(Some(r)) => r,
            Ok(None) => {
                return Some(Outcome::Failed {
                    error: "the lead or deal of this transcript is gone".into(),
                });
            }
            Err(e) => return Some(self.retry(progress, format!("database: {e}"))),
        };
        match source.status.as_str() {
            db::outbox::status::DONE => {
                let made = Progress::parse(source.result.as_deref());
                progress.org_id = made.org_id;
                progress.person_id = made.person_id;
                progress.lead_id = made.lead_id;
                progress.deal_id = made.deal_id;
                None
            }
            db::outbox::status::PENDING => Some(Outcome::Postpone {
                at: db::now_ms() + 5_000,
                error: None,
            }),
            _ => Some(Outcome::Failed {
                error: "the lead or deal of this transcript was not created".into(),
            }),
        }
    }

    /// The job of a row: owner and note read from the database.
    async fn job(
        &self,
        row: &OutboxRow,
        write: CrmWrite,
        progress: &Progress,
    ) -> Result<Job, DbError> {
        let (company, conversation) = (row.company_id.clone(), row.conversation_id.clone());
        let owner = write.owner;
        let wants_note = write.note == crate::playbook::model::NoteMode::Transcript
            && progress.note_id.is_none();
        let (owner_id, lines) = self
            .db
            .run(move |conn| {
                let owner_id = store::owner_of(conn, &company, conversation.as_deref(), owner)?;
                let lines = match (&conversation, wants_note) {
                    (Some(c), true) => db::transcripts::lines(conn, &company, c)?,
                    _ => Vec::new(),
                };
                Ok::<_, DbError>((owner_id, lines))
            })
            .await?;
        let note_html = if wants_note {
            note::content(&row.id, &lines, &write.answers)
                .map_err(|e| tracing::warn!(row = %row.id, error = %e, "the CRM note cannot be rendered"))
                .ok()
        } else {
            None
        };
        Ok(Job {
            row_id: row.id.clone(),
            write,
            owner_id,
            note_html,
            fallback_person_name: fallback_person_name(
                row.conversation_id.as_deref().unwrap_or(&row.id),
            ),
        })
    }
}

/// The name of a person created without a name or an e-mail: "Website visitor" and the
/// last eight characters of the conversation's id, in order (the random end of a UUID v7).
fn fallback_person_name(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(8)..].iter().collect();
    format!("Website visitor {tail}")
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

#[cfg(test)]
mod tests {
    use super::fallback_person_name;

    #[test]
    fn the_fallback_name_ends_with_the_ids_last_characters_in_order() {
        assert_eq!(
            fallback_person_name("0193a1b2-c3d4-7e5f-8a9b-0123456789ab"),
            "Website visitor 456789ab"
        );
        assert_eq!(fallback_person_name("abc"), "Website visitor abc");
    }
}
