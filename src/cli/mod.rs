//! The `concierge` command line: `serve` and `playbook validate|paths|run|generate|push`.

mod generate;
mod paths;
mod push;
mod run;
mod serve;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::playbook::model::Language;

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
    /// Write a valid playbook from a description in words, with the configured AI model
    /// (CONCIERGE_AI_URL, CONCIERGE_AI_MODEL, CONCIERGE_AI_KEY).
    Generate {
        /// What the flow should do, e.g. "qualify by team size, book a demo for big teams".
        description: String,
        /// Change this playbook file instead of writing a new one.
        #[arg(long)]
        draft: Option<PathBuf>,
        /// Playbook files whose slugs the new playbook must not take.
        #[arg(long, num_args = 1..)]
        existing: Vec<PathBuf>,
        /// Language of the visitor-facing texts: en, fr, pt, de or es.
        #[arg(long, value_parser = parse_language)]
        language: Option<Language>,
        /// Write the playbook to this file (only when it is valid) instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Check a playbook file, then send it to a running Concierge and publish it (with
    /// the API key in CONCIERGE_API_KEY): the draft of the playbook with its slug, or a
    /// new playbook.
    Push {
        file: PathBuf,
        /// The address Concierge is reached at, e.g. https://chat.example.com.
        #[arg(long)]
        url: String,
        /// The version's note (default: "pushed from FILE").
        #[arg(long)]
        note: Option<String>,
        /// Switch the playbook on after publishing.
        #[arg(long)]
        enable: bool,
    },
}

fn parse_language(code: &str) -> Result<Language, String> {
    serde_json::from_value(serde_json::Value::String(code.to_owned()))
        .map_err(|_| format!("`{code}` is not one of en, fr, pt, de, es"))
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
        Command::Playbook(PlaybookCommand::Generate {
            description,
            draft,
            existing,
            language,
            output,
        }) => generate::generate(generate::Options {
            description,
            draft,
            existing,
            language,
            output,
        }),
        Command::Playbook(PlaybookCommand::Push {
            file,
            url,
            note,
            enable,
        }) => push::push(push::Options {
            file: &file,
            url: &url,
            note,
            enable,
        }),
    }
}
