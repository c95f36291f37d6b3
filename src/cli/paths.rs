//! `concierge playbook paths FILE [--json]`: every distinct path from start to an end.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use crate::playbook::check::check_document;
use crate::playbook::load::Format;
use crate::playbook::paths::{DEFAULT_LIMIT, paths as list_paths};

/// Print the paths of a valid playbook file (as JSON with `json`); a file that is not
/// valid gets its problems printed instead and exit code 1.
pub fn paths(file: &Path, json: bool) -> ExitCode {
    let name = file.display().to_string();
    let text = match super::validate::read(file) {
        Ok(text) => text,
        Err(message) => {
            eprintln!("{name}: {message}");
            return ExitCode::FAILURE;
        }
    };
    let playbook = match check_document(&text, Format::from_path(file)) {
        Ok(playbook) => playbook,
        Err(report) => {
            eprint!("{}", report.render(&name));
            return ExitCode::FAILURE;
        }
    };
    let list = list_paths(&playbook, DEFAULT_LIMIT);
    let output = if json {
        match serde_json::to_string_pretty(&list) {
            Ok(text) => text + "\n",
            Err(e) => {
                eprintln!("{name}: cannot write JSON: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        list.render()
    };
    match std::io::stdout().lock().write_all(output.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
