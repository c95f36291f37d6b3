//! Locks that hold across nodes: PostgreSQL session advisory locks on a connection of the
//! pool, for work that talks to the outside world while it holds the lock (a CRM look-up
//! followed by a create, an OAuth refresh), so no transaction stays open meanwhile.
//!
//! SQLite has one node by definition: there the lock is nothing and the callers' own
//! per-process locks suffice.

use diesel::RunQueryDsl;
use diesel::r2d2::{ConnectionManager, PooledConnection};
use diesel::sql_types::{Integer, Text};

use super::{Db, DbConn, DbError};

/// What a lock serialises; the first key of the two-key advisory lock space (migrations
/// use the one-key space, so they never collide).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Scope {
    /// Looking a person or organization up in the CRM and creating it when missing.
    CrmFindOrCreate = 1,
    /// Refreshing a company's OAuth tokens.
    TokenRefresh = 2,
}

type Pooled = PooledConnection<ConnectionManager<DbConn>>;

/// Held advisory locks (one or several names of one scope, on one connection); released
/// when dropped (or when their connection dies).
pub struct NodeLock {
    conn: Option<Pooled>,
    scope: Scope,
    names: Vec<String>,
}

impl std::fmt::Debug for NodeLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeLock")
            .field("scope", &self.scope)
            .field("names", &self.names)
            .finish()
    }
}

impl Db {
    /// Wait for the lock of `(scope, name)` across every node of this database. `None` on
    /// SQLite. The wait happens on the blocking pool, one pooled connection per holder.
    pub async fn node_lock(&self, scope: Scope, name: &str) -> Result<Option<NodeLock>, DbError> {
        self.node_locks(scope, vec![name.to_owned()]).await
    }

    /// Wait for the locks of every `(scope, name)`, taken in sorted order (so that two
    /// holders of overlapping sets never wait for each other) on one pooled connection.
    /// `None` on SQLite.
    pub async fn node_locks(
        &self,
        scope: Scope,
        mut names: Vec<String>,
    ) -> Result<Option<NodeLock>, DbError> {
        if self.backend() != super::Backend::Postgres {
            return Ok(None);
        }
        names.sort();
        names.dedup();
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.conn()?;
            let mut held = NodeLock {
                conn: None,
                scope,
                names: Vec::new(),
            };
            let mut failed = None;
            if let DbConn::Pg(c) = &mut *conn {
                for name in names {
                    let locked = diesel::sql_query("SELECT pg_advisory_lock($1, hashtext($2))")
                        .bind::<Integer, _>(scope as i32)
                        .bind::<Text, _>(&name)
                        .execute(c);
                    match locked {
                        Ok(_) => held.names.push(name),
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
            }
            if let Some(e) = failed {
                // Give back the ones taken so far before the connection goes back.
                NodeLock::release(conn, scope, &held.names);
                return Err(e.into());
            }
            held.conn = Some(conn);
            Ok(Some(held))
        })
        .await
        .map_err(|e| DbError::Task(e.to_string()))?
    }
}

impl NodeLock {
    fn release(mut conn: Pooled, scope: Scope, names: &[String]) {
        if let DbConn::Pg(c) = &mut *conn {
            for name in names.iter().rev() {
                let released = diesel::sql_query("SELECT pg_advisory_unlock($1, hashtext($2))")
                    .bind::<Integer, _>(scope as i32)
                    .bind::<Text, _>(name)
                    .execute(c);
                if let Err(e) = released {
                    tracing::warn!(error = %e, "cannot release an advisory lock");
                    // A broken session leaves the pool (and its locks with it); a live one
                    // must not go back holding a lock.
                    let _ = diesel::sql_query("SELECT pg_advisory_unlock_all()").execute(c);
                    return;
                }
            }
        }
    }
}

impl Drop for NodeLock {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let (scope, names) = (self.scope, std::mem::take(&mut self.names));
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn_blocking(move || NodeLock::release(conn, scope, &names));
            }
            Err(_) => NodeLock::release(conn, scope, &names),
        }
    }
}
