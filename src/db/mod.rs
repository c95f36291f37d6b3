//! Storage: one code base for SQLite (embedded default) and PostgreSQL (several nodes).
//!
//! Architecture invariants:
//! - `schema.rs` uses portable types only; the two backends differ only in
//!   `migrations/sqlite` and `migrations/postgres` and in the few places that branch on
//!   [`DbConn`] (locking clauses, upserts), each marked as such.
//! - No diesel call runs on an async worker: everything goes through [`Db::run`], which
//!   moves it to the blocking pool.

pub mod analytics;
pub mod answer_rules;
pub mod api_keys;
pub mod audit;
pub mod companies;
pub mod conversations;
pub mod crm_identities;
pub mod crm_users;
pub mod installs;
pub mod live;
pub mod locks;
pub mod offers;
pub mod outbox;
pub mod outcomes;
pub mod page_views;
pub mod playbooks;
pub mod presence;
pub mod purge;
pub mod queue;
pub mod reports;
pub mod schema;
pub mod statements;
pub mod summary;
pub mod teams;
pub mod timers;
pub mod transcripts;
pub mod visitors;
pub mod webhooks;

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Key of the PostgreSQL advisory lock taken while migrations run.
const MIGRATION_LOCK_KEY: i64 = 0x636f_6e63_6965_7267; // "concierg"

/// A connection to either backend.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

/// Which database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `postgres://…` and `postgresql://…` mean PostgreSQL; a path or `sqlite://PATH` SQLite.
    pub fn of_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// Read a JSON column of a stored row. Unreadable JSON is an error that names the row
/// (and is logged with it), never replaced by a default.
pub fn stored_json<T: serde::de::DeserializeOwned>(
    table: &'static str,
    id: &str,
    column: &'static str,
    text: &str,
) -> Result<T, DbError> {
    serde_json::from_str(text).map_err(|e| {
        tracing::error!(table, id, column, error = %e, "unreadable stored JSON");
        DbError::Corrupt(format!("{table} {id}: {column}: {e}"))
    })
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("no database connection available: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database migrations failed: {0}")]
    Migrate(String),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("database task failed: {0}")]
    Task(String),
}

impl DbError {
    /// Is this a unique-constraint violation (someone else inserted first)?
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            DbError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, DbError::Query(diesel::result::Error::NotFound))
    }
}

/// Sets up every new connection: the SQLite pragmas, and the count of its statements.
#[derive(Debug)]
struct Setup {
    statements: statements::Statements,
}

impl CustomizeConnection<DbConn, diesel::r2d2::Error> for Setup {
    fn on_acquire(&self, conn: &mut DbConn) -> Result<(), diesel::r2d2::Error> {
        match conn {
            DbConn::Sqlite(c) => {
                // busy_timeout first, so the other pragmas wait for a lock rather than fail.
                c.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .map_err(diesel::r2d2::Error::QueryError)?;
                c.set_instrumentation(self.statements.counter());
            }
            DbConn::Pg(c) => c.set_instrumentation(self.statements.counter()),
        }
        Ok(())
    }
}

/// The connection pool, cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool<ConnectionManager<DbConn>>,
    backend: Backend,
    /// One permit per pooled connection: callers beyond the pool wait here, as cheap
    /// tasks, instead of as blocked threads.
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    /// SQLite has one writer at a time: write transactions of this process queue here
    /// rather than in SQLite's sleeping busy handler.
    sqlite_writer: std::sync::Arc<std::sync::Mutex<()>>,
    /// The statements of the pool's connections.
    statements: statements::Statements,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Db {
    /// Open the database at `url` (creating an SQLite file's folder if needed) and run the
    /// pending migrations.
    pub fn open(url: &str, max_connections: u32) -> Result<Db, DbError> {
        let backend = Backend::of_url(url);
        let conn_url = match backend {
            Backend::Postgres => url.to_owned(),
            Backend::Sqlite => {
                let path = url.strip_prefix("sqlite://").unwrap_or(url);
                if let Some(dir) = std::path::Path::new(path).parent()
                    && !dir.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| DbError::Connect(format!("{}: {e}", dir.display())))?;
                }
                // WAL is a property of the file: switch it once, before the pool opens
                // several connections at the same time.
                SqliteConnection::establish(path)
                    .and_then(|mut c| {
                        c.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;")
                            .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))
                    })
                    .map_err(|e| DbError::Connect(format!("{path}: {e}")))?;
                path.to_owned()
            }
        };
        let statements = statements::Statements::default();
        let pool = Pool::builder()
            .max_size(max_connections.max(1))
            .connection_timeout(Duration::from_secs(10))
            .connection_customizer(Box::new(Setup {
                statements: statements.clone(),
            }))
            .build(ConnectionManager::<DbConn>::new(conn_url))
            .map_err(|e| DbError::Connect(e.to_string()))?;
        let db = Db {
            pool,
            backend,
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(
                max_connections.max(1) as usize
            )),
            sqlite_writer: std::sync::Arc::default(),
            statements,
        };
        db.migrate()?;
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The most connections the pool opens.
    pub fn pool_size(&self) -> usize {
        self.pool.max_size() as usize
    }

    /// How many statements the pool's connections have started so far (transaction
    /// control included).
    pub fn statements(&self) -> u64 {
        self.statements.count()
    }

    /// A connection for code already on a blocking thread (workers, tests, the CLI).
    pub fn conn(&self) -> Result<PooledConnection<ConnectionManager<DbConn>>, DbError> {
        Ok(self.pool.get()?)
    }

    /// Run `f` with a connection on the blocking thread pool.
    pub async fn run<F, T, E>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        let asked = std::time::Instant::now();
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| E::from(DbError::Task(e.to_string())))?;
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let _permit = permit;
            let mut conn = pool.get().map_err(DbError::from)?;
            crate::metrics::pool_waited(asked);
            f(&mut conn)
        })
        .await
        .map_err(|e| E::from(DbError::Task(e.to_string())))?
    }

    /// As [`Db::run`], with `f` in a write transaction ([`write_tx`]). On SQLite the
    /// process's write transactions take turns, which keeps busy writers from sleeping.
    pub async fn write<F, T, E>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let writer = (self.backend == Backend::Sqlite).then(|| self.sqlite_writer.clone());
        self.run(move |conn| {
            // A panic in another writer leaves nothing to repair: the lock guards no data.
            let _turn = writer
                .as_ref()
                .map(|w| w.lock().unwrap_or_else(|e| e.into_inner()));
            write_tx(conn, f)
        })
        .await
    }

    /// Is the database answering?
    pub async fn ping(&self) -> Result<(), DbError> {
        self.run(|conn| {
            diesel::sql_query("SELECT 1").execute(conn)?;
            Ok::<_, DbError>(())
        })
        .await
    }

    /// Does the database lack a migration this binary carries?
    pub async fn migrations_pending(&self) -> Result<bool, DbError> {
        self.run(|conn| {
            let pending = match conn {
                DbConn::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
                DbConn::Pg(c) => c.has_pending_migration(POSTGRES_MIGRATIONS),
            };
            pending.map_err(|e| DbError::Migrate(e.to_string()))
        })
        .await
    }

    fn migrate(&self) -> Result<(), DbError> {
        let mut conn = self.conn()?;
        match &mut *conn {
            DbConn::Sqlite(c) => c
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|_| ())
                .map_err(|e| DbError::Migrate(e.to_string())),
            DbConn::Pg(c) => {
                // Several nodes may start at once: one migrates, the others wait.
                diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
                    .execute(c)?;
                let result = c
                    .run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(|_| ())
                    .map_err(|e| DbError::Migrate(e.to_string()));
                diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
                    .execute(c)?;
                result
            }
        }
    }
}

/// Run `f` in a write transaction: `BEGIN IMMEDIATE` on SQLite (so a transaction that reads
/// before it writes never fails on a stale snapshot), a plain transaction on PostgreSQL.
pub fn write_tx<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<DbError>,
{
    let begun = match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE"),
        DbConn::Pg(c) => AnsiTransactionManager::begin_transaction(c),
    };
    begun.map_err(DbError::from)?;
    match f(conn) {
        Ok(value) => {
            <DbConn as Connection>::TransactionManager::commit_transaction(conn)
                .map_err(DbError::from)?;
            Ok(value)
        }
        Err(err) => {
            // The error that caused the rollback is the one worth reporting.
            let _ = <DbConn as Connection>::TransactionManager::rollback_transaction(conn);
            Err(err)
        }
    }
}

/// Now, in Unix milliseconds: the unit of every time column.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A new row id: a time-ordered UUID.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
