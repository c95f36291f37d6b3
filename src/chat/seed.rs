//! A ready demo on an empty database: the "Demo company" with every valid playbook of the
//! playbooks folder published and a few answer rules, so a newcomer sees the whole flow.

use std::path::Path;

use crate::db::companies::{self, Company};
use crate::db::{DbConn, DbError, answer_rules, playbooks};
use crate::playbook::check::check_document;
use crate::playbook::load::Format;

/// Name of the company made for the demo.
pub const DEMO_COMPANY: &str = "Demo company";

/// The answer rules of the demo company: keywords and reply.
const DEMO_ANSWERS: &[(&[&str], &str)] = &[
    (
        &["opening hours", "hours", "open"],
        "We're open **Monday to Friday, 9:00–17:00**. Outside those hours, leave a message \
         and we'll get back to you the next working day.",
    ),
    (
        &["price", "prices", "pricing", "cost"],
        "**Starter** is €19 and **Team** €49 per user and month, billed yearly; \
         **Enterprise** is priced with you. See [all plans](/demo/pricing) — or just ask!",
    ),
];

/// When the database has no company yet, create the demo company with the playbooks of
/// `dir` (`*.yaml` / `*.yml`, by name; invalid files are skipped with a warning) and the
/// demo answer rules. Returns the company when it was made.
pub fn seed_if_empty(conn: &mut DbConn, dir: &Path) -> Result<Option<Company>, DbError> {
    if companies::first(conn)?.is_some() {
        return Ok(None);
    }
    let company = companies::create(conn, DEMO_COMPANY, None)?;
    // The demo is always open, so live chat works at any hour.
    let mut settings = company.settings();
    settings.business_hours = vec![vec!["00:00-24:00".to_owned()]; 7];
    companies::update_settings(conn, &company.id, &settings)?;
    for path in playbook_files(dir) {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot read a playbook");
                continue;
            }
        };
        match check_document(&text, Format::Yaml) {
            Ok(playbook) => {
                playbooks::save_and_publish(conn, &company.id, &playbook)?;
            }
            Err(report) => {
                let file = path.display().to_string();
                tracing::warn!(report = %report.render(&file), "skipping an invalid playbook");
            }
        }
    }
    for (keywords, reply) in DEMO_ANSWERS {
        let keywords: Vec<String> = keywords.iter().map(|k| k.to_string()).collect();
        answer_rules::create(conn, &company.id, &keywords, reply)?;
    }
    tracing::info!(company = %company.name, key = %company.public_key, "demo company created");
    Ok(Some(company))
}

fn playbook_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e == "yaml" || e == "yml")
        })
        .collect();
    files.sort();
    files
}
