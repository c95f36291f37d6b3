//! `concierge paths` (not yet written).

use std::process::ExitCode;

#[allow(unused_variables)]
pub fn paths(file: &std::path::Path, json: bool) -> ExitCode {
    eprintln!("concierge: `paths` is not available yet");
    ExitCode::FAILURE
}
