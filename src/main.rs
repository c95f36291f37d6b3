use std::process::ExitCode;

fn main() -> ExitCode {
    concierge::cli::main()
}
