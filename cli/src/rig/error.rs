use std::ops::Range;
use std::path::PathBuf;

use super::Location;

/// Why a rig file cannot be used: it cannot be read, or something in it is
/// wrong at a known place.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum RigError {
    /// The file cannot be read. The message includes the OS error, so it is
    /// not also a `source()` (each cause printed once).
    #[error("cannot read rig file {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The path is not a regular file: a FIFO (which would block the read), a
    /// device (which may never end), a directory…
    #[error("cannot read rig file {}: it is {kind}, not a regular file", path.display())]
    NotARegularFile {
        /// The file.
        path: PathBuf,
        /// What it is instead ("a FIFO (named pipe)").
        kind: &'static str,
    },
    /// The file is larger than a rig file may be.
    #[error(
        "cannot read rig file {}: it is larger than {} MiB, the most a rig file may hold",
        path.display(),
        limit / (1024 * 1024)
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit, in bytes.
        limit: u64,
    },
    /// Something in the file is wrong: bad TOML, an unknown key, a wrong type, a
    /// missing key, a bad reference, a cycle…
    #[error("{location}: {}{message}", prefix(context))]
    Invalid {
        /// Where, in the file.
        location: Location,
        /// What the place belongs to: "driver `client`, key `port`" (may be empty).
        context: String,
        /// What is wrong.
        message: String,
    },
}

fn prefix(context: &str) -> String {
    if context.is_empty() {
        String::new()
    } else {
        format!("{context}: ")
    }
}

impl RigError {
    /// The message, and for a located error the offending line underneath.
    pub(crate) fn render(&self) -> String {
        match self {
            RigError::Invalid { location, .. } => format!("{self}\n{}", location.snippet()),
            RigError::Read { .. }
            | RigError::NotARegularFile { .. }
            | RigError::TooLarge { .. } => self.to_string(),
        }
    }
}

/// Something wrong at a span of the file, before it is given its file and context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// Where, as a byte range of the file.
    pub(crate) span: Range<usize>,
    /// What is wrong.
    pub(crate) message: String,
}

impl Problem {
    pub(crate) fn new(span: Range<usize>, message: impl Into<String>) -> Self {
        Self {
            span,
            message: message.into(),
        }
    }
}
