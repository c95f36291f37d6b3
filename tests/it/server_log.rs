//! What the server did, for a failing test to show: the access log of one server (the
//! `concierge::access` events of its port: each request's arrival, answer, status and
//! duration, or that it was never answered) and the warnings and errors logged meanwhile
//! by any server of this process. Captured by a process-wide tracing subscriber that
//! [`capture`] installs once; every other event is off, so it costs nothing elsewhere.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use concierge::web::access::TARGET;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber, subscriber::Interest};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// At most this many events are kept (the oldest go first).
const KEEP: usize = 200_000;

struct Line {
    at: Instant,
    level: Level,
    target: String,
    message: String,
    fields: BTreeMap<String, String>,
}

struct Capture {
    since: Instant,
    lines: Mutex<Vec<Line>>,
}

static CAPTURE: OnceLock<Option<&'static Capture>> = OnceLock::new();

fn wanted(meta: &Metadata<'_>) -> bool {
    meta.target() == TARGET || *meta.level() <= Level::WARN
}

impl<S: Subscriber> Layer<S> for &'static Capture {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if meta.is_event() && wanted(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, _: Context<'_, S>) -> bool {
        meta.is_event() && wanted(meta)
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let line = Line {
            at: Instant::now(),
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            message: fields.message,
            fields: fields.rest,
        };
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if lines.len() >= KEEP {
            lines.drain(..KEEP / 2);
        }
        lines.push(line);
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: BTreeMap<String, String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.rest.insert(field.name().to_owned(), value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

/// Start capturing (once per process; later calls do nothing). `false` when another
/// subscriber was installed first, so nothing can be shown.
pub fn capture() -> bool {
    CAPTURE
        .get_or_init(|| {
            let capture: &'static Capture = Box::leak(Box::new(Capture {
                since: Instant::now(),
                lines: Mutex::new(Vec::new()),
            }));
            let subscriber = tracing_subscriber::registry().with(capture);
            tracing::subscriber::set_global_default(subscriber)
                .ok()
                .map(|()| capture)
        })
        .is_some()
}

/// Was a warning or error naming `needle` (in its message or a field) logged since `from`?
pub fn logged_since(from: Instant, needle: &str) -> bool {
    let Some(Some(capture)) = CAPTURE.get() else {
        return false;
    };
    let lines = capture.lines.lock().unwrap_or_else(|p| p.into_inner());
    lines.iter().any(|l| {
        l.at >= from
            && l.level <= Level::WARN
            && (l.message.contains(needle) || l.fields.values().any(|v| v.contains(needle)))
    })
}

/// One request as the access log saw it.
struct Request {
    start: f64,
    method: String,
    path: String,
    outcome: Option<(String, String)>,
}

/// The access log of the server on `port` and the warnings and errors of every server,
/// from `from` on, as text for a failure report.
pub fn report(port: u16, from: Instant) -> String {
    let Some(Some(capture)) = CAPTURE.get() else {
        return "(no server log: capture() was not called first)\n".to_owned();
    };
    let lines = capture.lines.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    let secs = |at: Instant| at.saturating_duration_since(from).as_secs_f64();
    let port = port.to_string();
    let mut requests: BTreeMap<u64, Request> = BTreeMap::new();
    let mut problems = String::new();
    for line in lines
        .iter()
        .filter(|l| l.at >= from && l.at >= capture.since)
    {
        let field = |name: &str| line.fields.get(name).cloned().unwrap_or_default();
        if line.target == TARGET {
            if field("port") != port {
                continue;
            }
            let Ok(id) = field("id").parse::<u64>() else {
                continue;
            };
            let request = requests.entry(id).or_insert_with(|| Request {
                start: secs(line.at),
                method: field("method"),
                path: field("path"),
                outcome: None,
            });
            if line.message == "answer" {
                request.outcome = Some(if field("abandoned") == "true" {
                    (
                        "---".into(),
                        format!("abandoned by the client after {} ms", field("ms")),
                    )
                } else {
                    (field("status"), format!("{} ms", field("ms")))
                });
            }
        } else {
            let _ = writeln!(
                problems,
                "{:9.3}s {} {}: {} {:?}",
                secs(line.at),
                line.level,
                line.target,
                line.message,
                line.fields
            );
        }
    }
    let mut out =
        format!("--- the server's requests (port {port}; seconds since the test began) ---\n");
    for r in requests.values() {
        let (status, took) = r.outcome.clone().unwrap_or_else(|| {
            (
                "...".into(),
                format!("NOT ANSWERED, waiting for {:.1} s", secs(now) - r.start),
            )
        });
        let _ = writeln!(
            out,
            "{:9.3}s {:7} {} {} {}",
            r.start, r.method, r.path, status, took
        );
    }
    out.push_str("--- warnings and errors of any server in this process ---\n");
    out.push_str(if problems.is_empty() {
        "(none)\n"
    } else {
        &problems
    });
    out
}
