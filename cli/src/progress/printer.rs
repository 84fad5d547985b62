use std::future::Future;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use testrig::status::Transition;
use testrig::{ConnectionInfo, Environment, Status};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

use super::Style;
use super::style::Tone;

/// Prints the environment's status changes as they happen, and the steps.
///
/// Lines go to stdout, each written whole (a reader of a pipe sees whole lines),
/// with the time since the command began:
/// ```text
///   0.004s  server   started   listening tcp 127.0.0.1:40123
///   0.012s  step 1/3 ping (tcp_exchange)
///   0.013s  step 1/3 ping     ok        0.61 ms  5 bytes to `server`, 5 bytes back
/// ```
#[derive(Debug)]
pub(crate) struct Progress {
    env: Environment,
    events: broadcast::Receiver<Transition>,
    style: Style,
    began: Instant,
    /// The longest driver name, to align the columns.
    width: usize,
    /// On a terminal (not in CI): the live line of the running step.
    live: Option<LiveLine>,
}

/// The running step's live line at the bottom of a terminal (elapsed time, and what
/// the step reports as it goes, e.g. the current throughput); the other lines are
/// printed above it.
#[derive(Clone, Debug, Default)]
pub(crate) struct LiveLine(Arc<Mutex<Option<ProgressBar>>>);

impl LiveLine {
    /// Live lines on a terminal, unless `CI` is set or `TERM=dumb`: plain lines in logs.
    fn detect() -> Option<Self> {
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        (std::io::stdout().is_terminal() && !ci && !dumb).then(Self::default)
    }

    fn bar(&self) -> std::sync::MutexGuard<'_, Option<ProgressBar>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn begin(&self, prefix: String) {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
        let style = ProgressStyle::with_template("{prefix} {spinner} {elapsed:>4} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_prefix(prefix);
        bar.enable_steady_tick(Duration::from_millis(100));
        *self.bar() = Some(bar);
    }

    fn end(&self) {
        if let Some(bar) = self.bar().take() {
            bar.finish_and_clear();
        }
    }
}

impl Progress {
    /// Follows `env` from now on.
    pub(crate) fn new(env: &Environment, style: Style, began: Instant) -> Self {
        let width = env
            .resources()
            .iter()
            .map(|r| r.name().len())
            .max()
            .unwrap_or(0);
        Self {
            env: env.clone(),
            events: env.events(),
            style,
            began,
            width: width.max(8),
            live: LiveLine::detect(),
        }
    }

    /// Runs `work` to its end, printing every status change meanwhile (each as
    /// it happens, not by polling); the changes it caused are all printed
    /// before this returns.
    pub(crate) async fn follow<F: Future>(&mut self, work: F) -> F::Output {
        let mut work = std::pin::pin!(work);
        loop {
            tokio::select! {
                biased;
                event = self.events.recv() => match event {
                    Ok(event) => self.event(&event),
                    Err(RecvError::Lagged(missed)) => self.missed(missed),
                    // The environment holds the sender, so this does not happen
                    // while `self.env` lives; finish the work without events.
                    Err(RecvError::Closed) => return work.await,
                },
                output = &mut work => {
                    self.drain();
                    return output;
                }
            }
        }
    }

    /// Prints the status changes not printed yet.
    pub(crate) fn drain(&mut self) {
        loop {
            match self.events.try_recv() {
                Ok(event) => self.event(&event),
                Err(TryRecvError::Lagged(missed)) => self.missed(missed),
                Err(TryRecvError::Empty | TryRecvError::Closed) => return,
            }
        }
    }

    /// A line of its own, with the time.
    pub(crate) fn note(&self, text: &str) {
        self.line(text);
    }

    /// A step begins.
    pub(crate) fn step_started(&self, number: usize, total: usize, name: &str, kind: &str) {
        self.line(&format!("step {number}/{total} {name} ({kind})"));
        if let Some(live) = &self.live {
            live.begin(format!("{:>8}  step {number}/{total} {name}", ""));
        }
    }

    /// A step ended after `took`: `Ok(detail)` or `Err(message)`.
    pub(crate) fn step_done(
        &self,
        number: usize,
        total: usize,
        name: &str,
        took: Duration,
        result: &Result<String, String>,
    ) {
        if let Some(live) = &self.live {
            live.end();
        }
        let (verdict, tone, text) = match result {
            Ok(detail) => ("ok", Tone::Good, detail.as_str()),
            Err(message) => ("FAILED", Tone::Bad, message.as_str()),
        };
        let mut lines = text.lines();
        self.line(&format!(
            "step {number}/{total} {name}  {}  {:>9}  {}",
            self.style.paint(verdict, tone, 6),
            human(took),
            lines.next().unwrap_or("")
        ));
        for rest in lines {
            self.line(&format!("    {rest}"));
        }
    }

    fn event(&self, event: &Transition) {
        let status = event.to;
        let tone = match status {
            Status::Started => Tone::Good,
            Status::Starting | Status::Stopping => Tone::Busy,
            Status::Failed | Status::Aborted => Tone::Bad,
            _ => Tone::Neutral,
        };
        let detail = match (status, &event.note) {
            (Status::Started, _) => self.connections(&event.driver),
            (_, Some(note)) => note.lines().next().unwrap_or("").to_owned(),
            (_, None) => String::new(),
        };
        let line = format!(
            "{:width$}  {}  {detail}",
            event.driver,
            self.style.paint(&status.to_string(), tone, 8),
            width = self.width
        );
        self.line(line.trim_end());
    }

    fn missed(&self, missed: u64) {
        self.line(&format!(
            "({missed} status changes not shown: too many at once)"
        ));
    }

    /// "listening tcp 127.0.0.1:40123", from the driver's connection info.
    pub(crate) fn connections(&self, driver: &str) -> String {
        let Ok(resource) = self.env.resource(driver) else {
            return String::new();
        };
        resource
            .report()
            .connections
            .iter()
            .map(|c| match c {
                ConnectionInfo::Listening { protocol, address } => {
                    format!("listening {protocol} {address}")
                }
                ConnectionInfo::Connecting { protocol, address } => {
                    format!("connecting to {protocol} {address}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A handle that prints timed lines while a step runs (e.g. iperf intervals).
    pub(crate) fn notes(&self) -> Notes {
        Notes {
            began: self.began,
            live: self.live.clone(),
        }
    }

    fn line(&self, text: &str) {
        self.notes().note(text);
    }
}

/// Prints timed progress lines, in the same form as [`Progress`], from inside a
/// running step.
#[derive(Clone, Debug)]
pub(crate) struct Notes {
    began: Instant,
    live: Option<LiveLine>,
}

impl Notes {
    /// A line of its own, with the time (above the live line, on a terminal).
    pub(crate) fn note(&self, text: &str) {
        let elapsed = self.began.elapsed().as_secs_f64();
        let line = format!("{elapsed:8.3}s  {text}");
        if let Some(bar) = self.live.as_ref().and_then(|live| live.bar().clone()) {
            bar.println(line);
            return;
        }
        let mut out = std::io::stdout().lock();
        // A closed stdout must not stop the teardown.
        let _ = writeln!(out, "{line}");
    }

    /// What the running step is doing now, on its live line (a terminal only).
    pub(crate) fn live(&self, text: &str) {
        if let Some(bar) = self.live.as_ref().and_then(|live| live.bar().clone()) {
            bar.set_message(text.to_owned());
        }
    }
}

/// A duration for people: µs, ms or s.
fn human(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{} µs", d.as_micros())
    } else if d < Duration::from_secs(1) {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}
