//! `concierge run` (not yet written).

use std::process::ExitCode;

#[allow(unused_variables)]
pub fn run(file: &std::path::Path, offline: bool, answers: Option<&std::path::Path>) -> ExitCode {
    eprintln!("concierge: `run` is not available yet");
    ExitCode::FAILURE
}
