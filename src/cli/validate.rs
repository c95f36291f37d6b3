//! `concierge playbook validate FILE...`: "FILE: ok" per valid file, or one
//! "FILE:LINE: card 'ID': message" line per problem; exit 1 when any file has one.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::playbook::check::check_document;
use crate::playbook::load::Format;

/// Check every file, print the results, and say whether all were valid.
pub fn validate(files: &[PathBuf]) -> ExitCode {
    let mut all_valid = true;
    let mut out = std::io::stdout().lock();
    for file in files {
        let name = file.display().to_string();
        let text = match read(file) {
            Ok(text) => text,
            Err(message) => {
                all_valid = false;
                eprintln!("{name}: {message}");
                continue;
            }
        };
        let printed = match check_document(&text, Format::from_path(file)) {
            Ok(_) => writeln!(out, "{name}: ok"),
            Err(report) => {
                all_valid = false;
                write!(out, "{}", report.render(&name))
            }
        };
        if printed.is_err() {
            return ExitCode::FAILURE;
        }
    }
    if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The file's text, or a message saying why it cannot be read.
pub(super) fn read(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the file: {e}"))?;
    String::from_utf8(bytes).map_err(|_| "cannot read the file: it is not UTF-8 text".to_owned())
}
