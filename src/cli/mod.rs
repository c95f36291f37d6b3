//! The `concierge` command line: `serve` and `playbook validate|paths|run`.

mod paths;
mod run;
mod serve;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "concierge",
    version,
    about = "Chat widget, chatbot playbooks and live chat for your CRM"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the web server.
    Serve {
        /// Optional configuration file (TOML); environment variables override it.
        #[arg(long, env = "CONCIERGE_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Check, explore and try playbook files.
    #[command(subcommand)]
    Playbook(PlaybookCommand),
}

#[derive(Subcommand)]
enum PlaybookCommand {
    /// Print "ok" per valid file, or one "FILE:LINE: card 'ID': message" line per error.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Every distinct path from start to an end, with the input that takes each branch.
    Paths {
        file: PathBuf,
        /// Print JSON for tools.
        #[arg(long)]
        json: bool,
    },
    /// Talk to the playbook in the terminal.
    Run {
        file: PathBuf,
        /// No rep is online: live chat cards take their offline branch.
        #[arg(long)]
        offline: bool,
        /// Read the answers from this file, one a line, instead of the terminal.
        #[arg(long)]
        answers: Option<PathBuf>,
    },
}

/// Parse the arguments and run the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => serve::serve(config.as_deref()),
        Command::Playbook(PlaybookCommand::Validate { files }) => validate::validate(&files),
        Command::Playbook(PlaybookCommand::Paths { file, json }) => paths::paths(&file, json),
        Command::Playbook(PlaybookCommand::Run {
            file,
            offline,
            answers,
        }) => run::run(&file, offline, answers.as_deref()),
    }
}
