//! A real `concierge serve` process for the benchmarks that measure the server alone (its
//! start-up, its memory): the binary cargo built beside the benchmark, on a port and data
//! folder of its own.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The secret key of the benchmark's nodes (the benchmark signs tokens with it too).
pub const SECRET_KEY: &str = "bench-secret-key-0123456789abcdef";

/// The `concierge` binary of this build (release under `cargo bench`).
pub const BINARY: &str = env!("CARGO_BIN_EXE_concierge");

/// One running `concierge serve`.
pub struct Node {
    pub url: String,
    pub port: u16,
    child: Child,
}

/// A free port on the loopback address (free now; the node binds it right away).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Node {
    /// Start `concierge serve` on `database_url` with its data in `data_dir`; `extra`
    /// adds environment variables. Returns at once (see [`Node::wait_ready`]).
    pub fn spawn(database_url: &str, data_dir: &Path, extra: &[(&str, &str)]) -> Node {
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let mut cmd = Command::new(BINARY);
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CONCIERGE_BIND", format!("127.0.0.1:{port}"))
            .env("CONCIERGE_PUBLIC_URL", &url)
            .env("DATABASE_URL", database_url)
            .env("CONCIERGE_DATA_DIR", data_dir)
            .env(
                "CONCIERGE_PLAYBOOKS_DIR",
                concat!(env!("CARGO_MANIFEST_DIR"), "/playbooks"),
            )
            .env("CONCIERGE_SECRET_KEY", SECRET_KEY)
            .env("CONCIERGE_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("the concierge binary starts");
        Node { url, port, child }
    }

    /// Ask `/readyz` every millisecond until it answers 200; how long that took from
    /// `since`. Panics when the process exits or `limit` passes.
    pub fn wait_ready(&mut self, since: Instant, limit: Duration) -> Duration {
        loop {
            if readyz(self.port) {
                return since.elapsed();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the node exited while starting: {status}");
            }
            assert!(
                since.elapsed() < limit,
                "the node was not ready within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the node, in KiB (Linux).
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.child.id())
    }

    /// SIGTERM and wait for the process to end (SIGKILL after 30 s).
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Does `GET /readyz` on the port answer 200 now?
fn readyz(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// Resident memory of process `pid`, in KiB (Linux; 0 when unknown).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
