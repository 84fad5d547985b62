//! `Stream`, and `Line`: one line of a process's output, as callbacks and patterns see it.

use std::fmt;

/// Which output stream of a process a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        })
    }
}

/// One line of output, without its line ending (`\n` or `\r\n`), decoded as UTF-8 (invalid bytes
/// become `U+FFFD`). The log files keep the exact bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Line<'a> {
    /// The stream the line came from.
    pub(crate) stream: Stream,
    /// The text of the line.
    pub(crate) text: &'a str,
}
