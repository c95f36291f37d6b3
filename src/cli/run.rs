//! `concierge playbook run FILE [--offline] [--answers FILE]`: talk to a playbook in the
//! terminal the way a visitor would.
//!
//! The engine's effects are shown rather than carried out (CRM writes and e-mails are
//! printed as the JSON that would be queued), except http cards, which are called for
//! real. Without `--offline` a live chat card asks whether a rep takes the chat.

mod http;

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use crate::playbook::check::check_document;
use crate::playbook::load::Format;

use chrono::Utc;
use serde::Serialize;

use crate::playbook::effect::{BotMessage, Effect};
use crate::playbook::model::{CardKind, InputKind, Playbook};
use crate::playbook::state::{Env, Event, HttpOutcome, Phase, State};
use crate::playbook::step;

/// Run the playbook in `file`, reading answers from `answers` (one a line) or the terminal.
pub fn run(file: &Path, offline: bool, answers: Option<&Path>) -> ExitCode {
    match talk(file, offline, answers) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("concierge: {message}");
            ExitCode::FAILURE
        }
    }
}

fn talk(file: &Path, offline: bool, answers: Option<&Path>) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    // Only a valid playbook runs: the same check as `playbook validate`.
    let playbook = check_document(&text, Format::from_path(file)).map_err(|report| {
        let rendered = report.render(&file.display().to_string());
        format!("the playbook is not valid:\n{}", rendered.trim_end())
    })?;
    let input: Box<dyn BufRead> = match answers {
        Some(path) => {
            let f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Box::new(BufReader::new(f))
        }
        None => Box::new(io::stdin().lock()),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the HTTP runtime: {e}"))?;
    let client = reqwest::Client::builder()
        .build()
        .map_err(|e| format!("cannot set up HTTP: {e}"))?;
    let mut session = Session {
        playbook,
        state: State::default(),
        offline,
        input,
        echo: answers.is_some() || !io::stdin().is_terminal(),
        out: io::stdout().lock(),
        runtime,
        client,
    };
    session.converse().map_err(|e| format!("terminal: {e}"))
}

/// One conversation in the terminal.
struct Session {
    playbook: Playbook,
    state: State,
    offline: bool,
    input: Box<dyn BufRead>,
    /// Answers come from a file or a pipe: echo them so the transcript reads like a chat.
    echo: bool,
    out: io::StdoutLock<'static>,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Session {
    fn converse(&mut self) -> io::Result<()> {
        let mut events = VecDeque::from([Event::Start]);
        loop {
            while let Some(event) = events.pop_front() {
                let env = Env {
                    now: Utc::now(),
                    reps_online: !self.offline,
                };
                let out = step(&self.playbook, &self.state, &event, &env);
                self.state = out.state;
                for effect in &out.effects {
                    events.extend(self.show(effect)?);
                }
            }
            let next = match self.state.phase {
                Phase::AwaitingInput => self.visitor_answer()?,
                Phase::AwaitingRep => self.rep_decision()?,
                Phase::WithRep => {
                    writeln!(self.out, "[a rep has the chat: the bot's part is over]")?;
                    None
                }
                Phase::Idle | Phase::Ended | Phase::AwaitingHttp => None,
            };
            match next {
                Some(event) => events.push_back(event),
                None => return self.out.flush(),
            }
        }
    }

    /// Print one effect; an http call is made and its result returned as the next event.
    fn show(&mut self, effect: &Effect) -> io::Result<Option<Event>> {
        match effect {
            Effect::Reached { .. } | Effect::CancelTimer { .. } => {}
            Effect::Say(message) => self.print_message(message)?,
            Effect::VarSet { path, value } => writeln!(self.out, "     · {path} = {value}")?,
            Effect::QueueCrm(write) => self.print_json("CRM write queued", write)?,
            Effect::QueueEmail(email) => self.print_json("e-mail queued", email)?,
            Effect::HandOff { .. } => writeln!(self.out, "[chat handed to the online reps]")?,
            Effect::ArmTimer { due_at, .. } => writeln!(
                self.out,
                "[waiting for a rep until {}]",
                due_at.format("%H:%M:%S UTC")
            )?,
            Effect::CallHttp(request) => {
                writeln!(
                    self.out,
                    "[http {} {}]",
                    request.method.as_str(),
                    request.url
                )?;
                self.out.flush()?;
                let outcome = self.runtime.block_on(http::call(&self.client, request));
                match &outcome {
                    HttpOutcome::Ok { status, .. } => {
                        writeln!(self.out, "[http answered {status}]")?
                    }
                    HttpOutcome::Failed { reason } => {
                        writeln!(self.out, "[http failed: {reason}]")?
                    }
                }
                return Ok(Some(Event::HttpResult { outcome }));
            }
            Effect::Redirect { url } => writeln!(self.out, "[redirect to {url}]")?,
            Effect::End => writeln!(self.out, "[end of the flow]")?,
        }
        Ok(None)
    }

    fn print_message(&mut self, message: &BotMessage) -> io::Result<()> {
        let mut lines = message.text.lines();
        writeln!(self.out, "bot: {}", lines.next().unwrap_or_default())?;
        for line in lines {
            writeln!(self.out, "     {line}")?;
        }
        for (i, label) in message.buttons.iter().enumerate() {
            writeln!(self.out, "     [{}] {label}", i + 1)?;
        }
        if let Some(kind) = message.input.filter(|k| *k != InputKind::Text) {
            match &message.placeholder {
                Some(p) => writeln!(self.out, "     ({}, e.g. {p})", kind.name())?,
                None => writeln!(self.out, "     ({})", kind.name())?,
            }
        }
        Ok(())
    }

    fn print_json(&mut self, title: &str, value: &impl Serialize) -> io::Result<()> {
        let json = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
        writeln!(self.out, "[{title}]\n{json}")
    }

    /// The visitor's next answer: a number picks a button, anything else is typed text.
    fn visitor_answer(&mut self) -> io::Result<Option<Event>> {
        let Some(line) = self.read_line("you")? else {
            return Ok(None);
        };
        let buttons = match self.current_kind() {
            Some(CardKind::Buttons(b)) => b.options.len(),
            _ => 0,
        };
        let event = match line.trim().parse::<usize>() {
            Ok(n) if (1..=buttons).contains(&n) => Event::Choice { index: n - 1 },
            _ => Event::Text { text: line },
        };
        Ok(Some(event))
    }

    /// At a live chat card with reps online: does one take the chat before the wait ends?
    fn rep_decision(&mut self) -> io::Result<Option<Event>> {
        let Some(line) = self.read_line("does a rep take the chat? (y/n)")? else {
            return Ok(None);
        };
        let answer = line.trim().to_lowercase();
        if answer == "y" || answer == "yes" {
            writeln!(self.out, "[a rep joined the chat]")?;
            Ok(Some(Event::RepJoined {
                rep_name: "Rep".into(),
            }))
        } else {
            writeln!(self.out, "[nobody took the chat in time]")?;
            Ok(Some(Event::WaitExpired))
        }
    }

    fn current_kind(&self) -> Option<&CardKind> {
        let id = self.state.at.as_deref()?;
        self.playbook.card(id).map(|c| &c.kind)
    }

    /// One line of input without its line break; `None` when the input has run out.
    fn read_line(&mut self, prompt: &str) -> io::Result<Option<String>> {
        if !self.echo {
            write!(self.out, "{prompt}: ")?;
            self.out.flush()?;
        }
        let mut line = String::new();
        if self.input.read_line(&mut line)? == 0 {
            writeln!(self.out, "[no more answers]")?;
            return Ok(None);
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if self.echo {
            writeln!(self.out, "{prompt}: {line}")?;
        }
        Ok(Some(line))
    }
}
