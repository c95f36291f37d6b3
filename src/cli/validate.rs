//! `concierge validate` (not yet written).

use std::process::ExitCode;

#[allow(unused_variables)]
pub fn validate(files: &[std::path::PathBuf]) -> ExitCode {
    eprintln!("concierge: `validate` is not available yet");
    ExitCode::FAILURE
}
