//! Shared test support: fresh databases on SQLite (always) and PostgreSQL (when
//! `TEST_DATABASE_URL` is set), and the real server on port 0.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use concierge::config::Config;
use concierge::db::{Backend, Db};

/// A database made for one test, removed afterwards. A test that fails while using it
/// names its backend (see `Drop`).
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    pg_admin: Option<(String, String)>,
    /// Opened or given to a server: a failure now is a failure on this backend.
    in_use: AtomicBool,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = dir.path().join("test.db").to_string_lossy().into_owned();
        TestDb {
            url,
            backend: Backend::Sqlite,
            _dir: Some(dir),
            pg_admin: None,
            in_use: AtomicBool::new(false),
        }
    }

    /// A fresh PostgreSQL database, or `None` when `TEST_DATABASE_URL` is unset. When it is
    /// set and the server cannot be reached, this panics: such tests must never pass
    /// silently.
    pub fn postgres() -> Option<TestDb> {
        let admin = std::env::var("TEST_DATABASE_URL").ok()?;
        use diesel::{Connection, RunQueryDsl, pg::PgConnection};
        let mut conn = PgConnection::establish(&admin).unwrap_or_else(|e| {
            panic!("TEST_DATABASE_URL is set but PostgreSQL cannot be reached: {e}")
        });
        let name = format!("concierge_t_{}", uuid::Uuid::new_v4().simple());
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .unwrap_or_else(|e| panic!("cannot create test database: {e}"));
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        Some(TestDb {
            url: format!("{base}/{name}"),
            backend: Backend::Postgres,
            _dir: None,
            pg_admin: Some((admin, name)),
            in_use: AtomicBool::new(false),
        })
    }

    /// SQLite, then PostgreSQL when configured.
    pub fn all() -> Vec<TestDb> {
        let mut v = vec![TestDb::sqlite()];
        v.extend(TestDb::postgres());
        v
    }

    /// The same database for a second server (only the first one removes it).
    pub fn share(&self) -> TestDb {
        TestDb {
            url: self.url.clone(),
            backend: self.backend,
            _dir: None,
            pg_admin: None,
            in_use: AtomicBool::new(false),
        }
    }

    pub fn open(&self) -> Db {
        self.in_use.store(true, Ordering::Relaxed);
        Db::open(&self.url, 4).unwrap_or_else(|e| panic!("open {:?}: {e}", self.backend))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() && self.in_use.load(Ordering::Relaxed) {
            // Shown with the failed test's output: which of the backends it failed on.
            eprintln!("FAILED ON {:?} ({})", self.backend, self.url);
        }
        if let Some((admin, name)) = &self.pg_admin {
            use diesel::{Connection, RunQueryDsl, pg::PgConnection};
            if let Ok(mut conn) = PgConnection::establish(admin) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn);
            }
        }
    }
}

/// A configuration for tests: port 0, the given database, a temp data folder.
pub fn test_config(db: &TestDb, data_dir: PathBuf) -> Config {
    db.in_use.store(true, Ordering::Relaxed);
    Config::for_tests(&db.url, &data_dir)
}

/// The real server, running on port 0 with its own fresh database.
pub struct TestApp {
    pub url: String,
    pub state: concierge::web::AppState,
    pub db: TestDb,
    handle: actix_web::dev::ServerHandle,
    data: Arc<tempfile::TempDir>,
}

impl TestApp {
    pub async fn spawn(db: TestDb) -> TestApp {
        TestApp::spawn_with(db, |_| {}).await
    }

    /// As [`TestApp::spawn`], with the configuration changed by `adjust` first.
    pub async fn spawn_with(db: TestDb, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let data = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(&db, data.path().to_owned());
        config.bind = "127.0.0.1:0".into();
        adjust(&mut config);
        let server = concierge::web::build(config).await.expect("server starts");
        let url = server.url.clone();
        let state = server.state.clone();
        let handle = server.handle();
        tokio::spawn(server.run());
        TestApp {
            url,
            state,
            db,
            handle,
            data: Arc::new(data),
        }
    }

    /// Stop at once, as a node that crashed or was killed: open connections are dropped.
    pub async fn kill(&self) {
        self.handle.stop(false).await;
    }

    /// A new server on this one's port, database and data folder, once this one stopped:
    /// its clients find the same address, sessions and sandbox CRM.
    pub async fn again(&self) -> TestApp {
        let mut config = test_config(&self.db, self.data.path().to_owned());
        config.bind = format!("127.0.0.1:{}", self.port());
        config.public_url = self.url.clone();
        let server = concierge::web::build(config)
            .await
            .expect("server starts again");
        let (url, state, handle) = (server.url.clone(), server.state.clone(), server.handle());
        tokio::spawn(server.run());
        TestApp {
            url,
            state,
            db: self.db.share(),
            handle,
            data: self.data.clone(),
        }
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the server's URL ends with its port")
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop without waiting; the runtime ends with the test.
        drop(self.handle.stop(false));
    }
}
