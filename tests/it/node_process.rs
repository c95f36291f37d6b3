//! Real `concierge serve` processes for the multi-node and crash tests: each with a port
//! and data folder of its own, on a database the test chose; killed with SIGKILL and
//! started again on the same port.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::wait::eventually_for;

/// The secret key every node and the in-process setup server share (so each can open the
/// tokens and sessions the others made).
pub const SECRET_KEY: &str = "test-secret-key-0123456789abcdef";

/// One `concierge serve` process.
pub struct NodeProcess {
    pub url: String,
    port: u16,
    database_url: String,
    data: tempfile::TempDir,
    extra: Vec<(String, String)>,
    child: Option<Child>,
}

/// A free port on the loopback address (free now; the node binds it right away).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl NodeProcess {
    /// Start a node on `database_url` and wait until `/readyz` says ready. `extra` adds
    /// environment variables.
    pub async fn start(database_url: &str, extra: &[(&str, &str)]) -> NodeProcess {
        let port = free_port();
        let mut node = NodeProcess {
            url: format!("http://127.0.0.1:{port}"),
            port,
            database_url: database_url.to_owned(),
            data: tempfile::tempdir().expect("temp dir"),
            extra: extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            child: None,
        };
        node.restart().await;
        node
    }

    /// Start (again) on the same port, data folder and database; wait until ready.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "the node is still running");
        let playbooks = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/playbooks"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_concierge"));
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CONCIERGE_BIND", format!("127.0.0.1:{}", self.port))
            .env("CONCIERGE_PUBLIC_URL", &self.url)
            .env("DATABASE_URL", &self.database_url)
            .env("CONCIERGE_DATA_DIR", self.data.path())
            .env("CONCIERGE_PLAYBOOKS_DIR", playbooks)
            .env("CONCIERGE_SECRET_KEY", SECRET_KEY)
            .env("CONCIERGE_DB_POOL_SIZE", "8")
            .env("CONCIERGE_LOG", "error")
            .env("CONCIERGE_OUTBOX_POLL_MS", "100")
            .env("CONCIERGE_TIMER_IDLE_MS", "100")
            .env("CONCIERGE_ADDRESS_RATE_LIMIT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in &self.extra {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().expect("the concierge binary starts"));
        self.wait_ready().await;
    }

    async fn wait_ready(&mut self) {
        let (client, url) = (reqwest::Client::new(), self.url.clone());
        let child = &mut self.child;
        let what = format!("node {url} to be ready");
        eventually_for(&what, Duration::from_secs(30), || {
            if let Some(child) = child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("node {url} exited at start: {status}");
            }
            let (client, readyz) = (client.clone(), format!("{url}/readyz"));
            async move {
                let r = client.get(readyz).send().await.ok()?;
                (r.status() == 200).then_some(())
            }
        })
        .await;
    }

    /// The node's data folder (`CONCIERGE_DATA_DIR`).
    pub fn data_dir(&self) -> &std::path::Path {
        self.data.path()
    }

    /// `kill -9`: no chance to finish anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // `Child::kill` is SIGKILL on Unix.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then wait for the process to end (at most `within`): how it ended, or
    /// `None` when it did not (it is then killed).
    pub fn terminate(&mut self, within: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let until = std::time::Instant::now() + within;
        while std::time::Instant::now() < until {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
