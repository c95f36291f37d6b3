//! P7: start-up on an existing database, and the size of the binary.
//!
//! Seeds a database with 100,000 conversations (each visitor waiting at a live chat card
//! with its wait timer armed for tomorrow), starts `concierge serve` on it once to warm
//! the page cache, then times `BENCH_STARTS` starts (default 5): from just before the
//! process is spawned to the first `200` from `/readyz` (asked every millisecond). Then
//! prints the size of the `concierge` binary this build made (`cargo bench`: the release
//! profile, with the default `sandbox` feature), and of the binaries to ship where they
//! were built: `cargo build --profile dist` (whole-program optimisation) with and without
//! `--no-default-features` (the production build, without the sandbox CRM).
//!
//! ```sh
//! cargo bench --bench startup
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench startup
//! cargo test --bench startup          # the same from a debug build
//! ```
//! `BENCH_CONVERSATIONS` (default 100000) changes the database's size; `BENCH_SQLITE=0`
//! skips SQLite.
// Test and benchmark code: a failed unwrap is the report, and results go to stdout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::time::{Duration, Instant};

use concierge::db::Db;

#[path = "support/node.rs"]
mod node;
#[path = "support/seed.rs"]
mod seed;

use node::Node;
use seed::{LIVE_CHAT, env_number, pg, pg_database};

const DAY_MS: i64 = 24 * 3600 * 1000;

fn main() {
    let conversations = env_number("BENCH_CONVERSATIONS", 100_000);
    let starts = env_number("BENCH_STARTS", 5).max(1);
    let build = if cfg!(debug_assertions) {
        "debug build"
    } else {
        "optimised build"
    };
    println!("P7 start-up ({build}): {conversations} conversations, {starts} starts each");
    let mut databases = Vec::new();
    if std::env::var("BENCH_SQLITE").as_deref() != Ok("0") {
        databases.push(("SQLite", None));
    }
    if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
        databases.push(("PostgreSQL", Some(url)));
    }
    for (name, admin) in databases {
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, cleanup) = match &admin {
            None => (dir.path().join("bench.db").display().to_string(), None),
            Some(admin) => {
                let (url, db) = pg_database(admin);
                (url, Some((admin.clone(), db)))
            }
        };
        run(name, &url, dir.path(), conversations, starts);
        if let Some((admin, db)) = cleanup {
            pg(
                &admin,
                &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            );
        }
    }
    let size = std::fs::metadata(node::BINARY)
        .map(|m| m.len())
        .expect("the binary's size");
    println!(
        "binary: {:.1} MB ({size} bytes, {build}, default features) {}",
        size as f64 / 1_000_000.0,
        node::BINARY
    );
    dist_sizes();
}

/// The sizes of the `dist` binaries, when built: `target/dist/concierge` is the last of
/// `cargo build --profile dist [--no-default-features]`, whichever ran last.
fn dist_sizes() {
    let Some(release_dir) = std::path::Path::new(node::BINARY).parent() else {
        return;
    };
    let dist = release_dir.with_file_name("dist").join("concierge");
    match std::fs::metadata(&dist) {
        Ok(m) => println!(
            "binary: {:.1} MB ({} bytes, dist profile: fat LTO, one codegen unit; the features \
             it was last built with) {}",
            m.len() as f64 / 1_000_000.0,
            m.len(),
            dist.display()
        ),
        Err(_) => {
            println!("binary to ship: not built (cargo build --profile dist --no-default-features)")
        }
    }
}

fn run(name: &str, url: &str, dir: &std::path::Path, conversations: usize, starts: usize) {
    let seeding = Instant::now();
    {
        let db = Db::open(url, 4).expect("database");
        let tomorrow = concierge::db::now_ms() + DAY_MS;
        seed::waiting_chats(
            &db,
            LIVE_CHAT,
            None,
            "rep",
            conversations,
            Some(&|i| tomorrow + i as i64),
        )
        .expect("seed");
    }
    println!(
        "{name:<10} seeded {conversations} conversations in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let data = dir.join("node");
    std::fs::create_dir_all(&data).expect("data folder");
    // Once to warm the page cache (and the binary's pages).
    let mut warm = Node::spawn(url, &data, &[]);
    warm.wait_ready(Instant::now(), Duration::from_secs(120));
    warm.stop();
    let mut times = Vec::with_capacity(starts);
    for _ in 0..starts {
        let spawned = Instant::now();
        let mut node = Node::spawn(url, &data, &[]);
        let ready = node.wait_ready(spawned, Duration::from_secs(120));
        times.push(ready);
        node.stop();
    }
    times.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<10} process start → /readyz 200: median {:.0} ms, min {:.0} ms, max {:.0} ms",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1])
    );
}
