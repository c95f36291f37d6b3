use std::collections::HashMap;
use std::path::Path;

use secrecy::ExposeSecret as _;

use super::*;

fn load(vars: &[(&str, &str)], file: Option<&Path>) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::load_from(file, |name| map.get(name).cloned())
}

#[test]
fn defaults_run_out_of_the_box() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = load(&[("CONCIERGE_DATA_DIR", data.to_str().unwrap())], None).unwrap();
    assert_eq!(cfg.bind, "127.0.0.1:8080");
    assert_eq!(cfg.public_url, "http://127.0.0.1:8080");
    assert!(cfg.database_url.ends_with("concierge.db"));
    assert!(cfg.uses_sandbox());
    assert_eq!(cfg.outbox.concurrency, 16);
    assert_eq!(cfg.timers.idle_ms, 30_000);
    assert_eq!(cfg.rate_limits, RateLimits::default());
    // The generated key is kept and reused.
    let again = load(&[("CONCIERGE_DATA_DIR", data.to_str().unwrap())], None).unwrap();
    assert_eq!(
        cfg.secret_key.expose_secret(),
        again.secret_key.expose_secret()
    );
    assert!(!format!("{cfg:?}").contains(cfg.secret_key.expose_secret()));
}

#[test]
fn environment_overrides_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("concierge.toml");
    std::fs::write(
        &file,
        "bind = \"0.0.0.0:9000\"\nsecret_key = \"k\"\npipedrive_client_secret = \"s\"\n\
         outbox_poll_ms = 250\ntimer_batch = 9\n",
    )
    .unwrap();
    let cfg = load(
        &[
            ("CONCIERGE_BIND", "127.0.0.1:7000"),
            ("CONCIERGE_TIMER_BATCH", "12"),
            // Empty counts as unset: the file's value stays.
            ("CONCIERGE_OUTBOX_POLL_MS", ""),
        ],
        Some(&file),
    )
    .unwrap();
    assert_eq!(cfg.bind, "127.0.0.1:7000");
    assert_eq!(cfg.timers.batch, 12);
    assert_eq!(cfg.outbox.poll_ms, 250);
    assert_eq!(cfg.secret_key.expose_secret(), "k");
    // The JWT secret defaults to the client secret.
    assert_eq!(cfg.pipedrive.jwt_secret.unwrap().expose_secret(), "s");
}

#[test]
fn numeric_looking_text_stays_text() {
    let cfg = load(
        &[
            ("CONCIERGE_SECRET_KEY", "12345"),
            ("PIPEDRIVE_CLIENT_ID", "0042"),
        ],
        None,
    )
    .unwrap();
    assert_eq!(cfg.secret_key.expose_secret(), "12345");
    assert_eq!(cfg.pipedrive.client_id.as_deref(), Some("0042"));
}

#[test]
fn rate_limits_and_http_allow_list() {
    let cfg = load(
        &[
            ("CONCIERGE_SECRET_KEY", "k"),
            ("CONCIERGE_VISITOR_RATE_LIMIT", "5/8"),
            ("CONCIERGE_ADDRESS_RATE_LIMIT", "0"),
            ("CONCIERGE_HTTP_ALLOW", "10.1.0.0/16, localhost"),
        ],
        None,
    )
    .unwrap();
    assert_eq!(
        cfg.rate_limits.per_visitor,
        Rate {
            per_second: 5,
            burst: 8
        }
    );
    assert!(cfg.rate_limits.per_address.is_unlimited());
    assert!(cfg.http_allow.allows_host("localhost"));
    assert!(cfg.http_allow.allows_ip("10.1.2.3".parse().unwrap()));
    assert!(!cfg.http_allow.allows_ip("10.2.0.1".parse().unwrap()));
    let err = load(
        &[
            ("CONCIERGE_SECRET_KEY", "k"),
            ("CONCIERGE_HTTP_ALLOW", "10.0.0.0/99"),
        ],
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("CONCIERGE_HTTP_ALLOW"), "{err}");
    let err = load(
        &[
            ("CONCIERGE_SECRET_KEY", "k"),
            ("CONCIERGE_VISITOR_RATE_LIMIT", "fast"),
        ],
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("PER_SECOND/BURST"), "{err}");
    assert!(
        err.to_string().contains("CONCIERGE_VISITOR_RATE_LIMIT"),
        "{err}"
    );
    let err = load(
        &[
            ("CONCIERGE_SECRET_KEY", "k"),
            ("CONCIERGE_DB_POOL_SIZE", "lots"),
        ],
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("CONCIERGE_DB_POOL_SIZE"), "{err}");
}

#[test]
fn mail_settings_are_checked() {
    let cfg = load(&[("CONCIERGE_SECRET_KEY", "k")], None).unwrap();
    assert!(cfg.mail.smtp_url.is_none());
    assert_eq!(cfg.mail.from, "Concierge <concierge@localhost>");
    let cfg = load(
        &[
            ("CONCIERGE_SECRET_KEY", "k"),
            (
                "CONCIERGE_SMTP_URL",
                "smtp://u:hunter2@mail.test:587?tls=required",
            ),
            ("CONCIERGE_MAIL_FROM", "Acme Bot <bot@acme.test>"),
        ],
        None,
    )
    .unwrap();
    assert_eq!(cfg.mail.from, "Acme Bot <bot@acme.test>");
    assert!(!format!("{cfg:?}").contains("hunter2"));
    for (name, value) in [
        ("CONCIERGE_SMTP_URL", "http://u:hunter2@mail.test"),
        ("CONCIERGE_SMTP_URL", "smtp://u:hunter2@mail.test?tls=maybe"),
        ("CONCIERGE_MAIL_FROM", "not an address"),
    ] {
        let err = load(&[("CONCIERGE_SECRET_KEY", "k"), (name, value)], None).unwrap_err();
        assert!(err.to_string().contains(name), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}

#[test]
fn bad_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(&file, "bnd = 1\n").unwrap();
    let err = load(&[("CONCIERGE_SECRET_KEY", "k")], Some(&file)).unwrap_err();
    assert!(err.to_string().contains("bnd"), "{err}");
    std::fs::write(&file, "timer_batch = \"many\"\n").unwrap();
    let err = load(&[("CONCIERGE_SECRET_KEY", "k")], Some(&file)).unwrap_err();
    assert!(err.to_string().contains("timer_batch"), "{err}");
    assert!(err.to_string().contains("c.toml"), "{err}");
}

#[test]
fn a_misspelt_database_scheme_is_refused() {
    for url in ["postgress://u@h/db", "mysql://h/db", "sqlit://x.db"] {
        let err = load(
            &[("CONCIERGE_SECRET_KEY", "k"), ("DATABASE_URL", url)],
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("DATABASE_URL"), "{err}");
        assert!(err.to_string().contains("postgres://"), "{err}");
    }
    for url in [
        "postgres://u@h/db",
        "postgresql://u@h/db",
        "sqlite://data/x.db",
        "data/x.db",
    ] {
        let cfg = load(
            &[("CONCIERGE_SECRET_KEY", "k"), ("DATABASE_URL", url)],
            None,
        )
        .unwrap();
        assert_eq!(cfg.database_url, url);
    }
}

/// The README's configuration table lists every option, under its key and variable, with
/// its default, and nothing else.
#[test]
fn the_readme_table_matches_the_options() {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("\n## Configuration\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap();
    let rows: HashMap<String, Vec<String>> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<String> = l
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_owned())
                .collect();
            (cells[0].trim_matches('`').to_owned(), cells)
        })
        .collect();
    let options = Options::keys_and_defaults();
    for (key, default) in &options {
        let row = rows
            .get(key)
            .unwrap_or_else(|| panic!("README has no row for `{key}`"));
        assert_eq!(
            row[1],
            format!("`{}`", env_name(key)),
            "variable of `{key}`"
        );
        match default {
            Some(value) if !value.is_empty() => {
                assert_eq!(row[2], format!("`{value}`"), "default of `{key}`")
            }
            _ => assert!(!row[2].starts_with('`'), "`{key}` has no fixed default"),
        }
    }
    for key in rows.keys() {
        assert!(
            options.iter().any(|(k, _)| k == key),
            "README lists `{key}`, which is not an option"
        );
    }
}
