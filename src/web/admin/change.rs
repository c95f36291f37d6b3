//! One admin change in one write transaction: load the row it is made to (404 unless it is
//! the company's), change it, and write the audit log row of the change.

use serde_json::Value;

use super::Admin;
use crate::db::audit::{self, Change};
use crate::db::{self, DbConn};
use crate::web::{AppError, AppState};

/// What the audit log says of a change.
#[derive(Debug, Clone)]
pub struct Logged {
    /// E.g. `playbook.publish`.
    pub action: &'static str,
    pub subject_id: Option<String>,
    /// What it was done to, in words (a slug, a name).
    pub subject: String,
    pub detail: Value,
}

impl Logged {
    pub fn new(action: &'static str, subject_id: &str, subject: &str, detail: Value) -> Logged {
        Logged {
            action,
            subject_id: Some(subject_id.to_owned()),
            subject: subject.to_owned(),
            detail,
        }
    }

    /// A change to the company as a whole (its settings, its order of playbooks): no row
    /// id.
    pub fn about(action: &'static str, subject: &str, detail: Value) -> Logged {
        Logged {
            action,
            subject_id: None,
            subject: subject.to_owned(),
            detail,
        }
    }
}

/// Reads one row of the company by id; an error (404) when there is none.
pub type Load<R> = fn(&mut DbConn, &str, &str) -> Result<R, AppError>;

impl Admin {
    /// Run `change` (given the connection and the company's id) in one write transaction
    /// and record what it logs — nothing when nothing changed — in that transaction.
    pub async fn change<T, F>(&self, state: &AppState, change: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn, &str) -> Result<(T, Option<Logged>), AppError> + Send + 'static,
        T: Send + 'static,
    {
        let (company, actor) = (self.company_id.clone(), self.actor.clone());
        state
            .db
            .write(move |conn| {
                let (value, logged) = change(conn, &company)?;
                if let Some(l) = logged {
                    let entry = Change {
                        action: l.action,
                        subject_id: l.subject_id.as_deref(),
                        subject: &l.subject,
                        detail: l.detail,
                    };
                    audit::record(conn, &company, &actor, entry, db::now_ms())?;
                }
                Ok(value)
            })
            .await
    }

    /// As [`Admin::change`] for the company's row `id`: `load` reads it (404 when it is
    /// not the company's) and `change` gets it.
    pub async fn change_row<R, T, F>(
        &self,
        state: &AppState,
        id: String,
        load: Load<R>,
        change: F,
    ) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn, &str, R) -> Result<(T, Option<Logged>), AppError> + Send + 'static,
        R: 'static,
        T: Send + 'static,
    {
        self.change(state, move |conn, company| {
            let row = load(conn, company, &id)?;
            change(conn, company, row)
        })
        .await
    }
}
