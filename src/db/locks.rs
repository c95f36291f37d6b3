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

/// A held advisory lock; released when dropped (or when its connection dies).
pub struct NodeLock {
    conn: Option<Pooled>,
    scope: Scope,
    name: String,
}

impl std::fmt::Debug for NodeLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeLock")
            .field("scope", &self.scope)
            .field("name", &self.name)
            .finish()
    }
}

impl Db {
    /// Wait for the lock of `(scope, name)` across every node of this database. `None` on
    /// SQLite. The wait happens on the blocking pool, one pooled connection per holder.
    pub async fn node_lock(&self, scope: Scope, name: &str) -> Result<Option<NodeLock>, DbError> {
        if self.backend() != super::Backend::Postgres {
            return Ok(None);
        }
        let db = self.clone();
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.conn()?;
            if let DbConn::Pg(c) = &mut *conn {
                diesel::sql_query("SELECT pg_advisory_lock($1, hashtext($2))")
                    .bind::<Integer, _>(scope as i32)
                    .bind::<Text, _>(&name)
                    .execute(c)?;
            }
            Ok(Some(NodeLock {
                conn: Some(conn),
                scope,
                name,
            }))
        })
        .await
        .map_err(|e| DbError::Task(e.to_string()))?
    }
}

impl NodeLock {
    fn release(mut conn: Pooled, scope: Scope, name: &str) {
        if let DbConn::Pg(c) = &mut *conn {
            let released = diesel::sql_query("SELECT pg_advisory_unlock($1, hashtext($2))")
                .bind::<Integer, _>(scope as i32)
                .bind::<Text, _>(name)
                .execute(c);
            if let Err(e) = released {
                tracing::warn!(error = %e, "cannot release an advisory lock");
                // A broken session leaves the pool (and its locks with it); a live one
                // must not go back holding a lock.
                let _ = diesel::sql_query("SELECT pg_advisory_unlock_all()").execute(c);
            }
        }
    }
}

impl Drop for NodeLock {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let (scope, name) = (self.scope, std::mem::take(&mut self.name));
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn_blocking(move || NodeLock::release(conn, scope, &name));
            }
            Err(_) => NodeLock::release(conn, scope, &name),
        }
    }
}
