//! Waiting for a line of a log file that matches the readiness regex.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;
use tokio::time::{Interval, MissedTickBehavior};

use super::inotify::FileChanges;
use super::log_file::LogFileReader;

/// How often the file is looked at when no change notifications can be had.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// Watches a log file for a line matching a regex: reads what the file holds, then
/// the bytes appended to it as inotify reports them — never re-reading from the start.
#[derive(Debug)]
pub(super) struct LogFileWatch {
    reader: LogFileReader,
    changes: Changes,
}

/// What wakes the watch up to read the file again.
#[derive(Debug)]
enum Changes {
    /// inotify events on the file: the normal case.
    Notified(FileChanges),
    /// A short interval, only when inotify is unavailable (e.g. out of instances).
    Polled(Interval),
}

impl LogFileWatch {
    /// Starts watching `path`. Set up before the first read, so no write is missed.
    pub(super) fn new(path: PathBuf) -> LogFileWatch {
        let changes = match FileChanges::watch(&path) {
            Ok(changes) => Changes::Notified(changes),
            Err(error) => {
                tracing::debug!(path = %path.display(), %error, "no inotify; polling the log file");
                let mut interval = tokio::time::interval(POLL_INTERVAL);
                interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
                Changes::Polled(interval)
            }
        };
        LogFileWatch {
            reader: LogFileReader::new(path),
            changes,
        }
    }

    /// Resolves with the named groups of the first line that matches `regex`.
    /// Cancel-safe between reads.
    pub(super) async fn matching(&mut self, regex: &Regex) -> io::Result<BTreeMap<String, String>> {
        loop {
            if let Some(groups) = self.check(regex)? {
                return Ok(groups);
            }
            match &mut self.changes {
                Changes::Notified(changes) => changes.changed().await?,
                Changes::Polled(interval) => {
                    interval.tick().await;
                }
            }
        }
    }

    /// Reads what was appended since the last read; the named groups of the first
    /// line matching `regex`, if one did.
    pub(super) fn check(&mut self, regex: &Regex) -> io::Result<Option<BTreeMap<String, String>>> {
        for line in self.reader.new_lines()? {
            if let Some(found) = regex.captures(&line) {
                let groups = regex
                    .capture_names()
                    .flatten()
                    .filter_map(|name| {
                        Some((name.to_owned(), found.name(name)?.as_str().to_owned()))
                    })
                    .collect();
                return Ok(Some(groups));
            }
        }
        Ok(None)
    }
}
