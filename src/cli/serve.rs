//! `concierge serve` (not yet written).

use std::process::ExitCode;

#[allow(unused_variables)]
pub fn serve(config: Option<&std::path::Path>) -> ExitCode {
    eprintln!("concierge: `serve` is not available yet");
    ExitCode::FAILURE
}
