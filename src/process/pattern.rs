//! `Pattern` and `Captures`: a regex watched for on a process's output, and what it extracted.

use std::collections::BTreeMap;
use std::fmt;

use regex::Regex;

use super::{Line, ProcessError, Stream};

/// A regular expression to look for in the lines a process prints, on one stream or both.
/// Named groups (`(?P<port>\d+)`) are extracted into [`Captures`].
///
/// # Examples
///
/// ```
/// use testrig::process::Pattern;
///
/// let pattern = Pattern::stdout(r"listening on port (?P<port>\d+)")?;
/// assert_eq!(pattern.to_string(), r"`listening on port (?P<port>\d+)` on stdout");
/// # Ok::<(), testrig::process::ProcessError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Pattern {
    regex: Regex,
    stream: Option<Stream>,
}

impl Pattern {
    /// A pattern looked for on stdout only.
    pub fn stdout(regex: &str) -> Result<Pattern, ProcessError> {
        Pattern::compile(regex, Some(Stream::Stdout))
    }

    /// A pattern looked for on stderr only.
    pub fn stderr(regex: &str) -> Result<Pattern, ProcessError> {
        Pattern::compile(regex, Some(Stream::Stderr))
    }

    /// A pattern looked for on both stdout and stderr.
    pub fn any(regex: &str) -> Result<Pattern, ProcessError> {
        Pattern::compile(regex, None)
    }

    /// A pattern from an already compiled regex; `stream: None` means both streams.
    pub fn from_regex(regex: Regex, stream: Option<Stream>) -> Pattern {
        Pattern { regex, stream }
    }

    fn compile(regex: &str, stream: Option<Stream>) -> Result<Pattern, ProcessError> {
        let compiled = Regex::new(regex).map_err(|source| ProcessError::InvalidPattern {
            pattern: regex.to_owned(),
            source,
        })?;
        Ok(Pattern::from_regex(compiled, stream))
    }

    /// What the pattern extracts from `line`, if the line matches.
    pub(crate) fn captures(&self, line: Line<'_>) -> Option<Captures> {
        if self.stream.is_some_and(|stream| stream != line.stream) {
            return None;
        }
        let found = self.regex.captures(line.text)?;
        let groups = self
            .regex
            .capture_names()
            .flatten()
            .filter_map(|name| Some((name.to_owned(), found.name(name)?.as_str().to_owned())))
            .collect();
        Some(Captures {
            line: line.text.to_owned(),
            groups,
        })
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stream {
            Some(stream) => write!(f, "`{}` on {stream}", self.regex.as_str()),
            None => write!(f, "`{}` on stdout or stderr", self.regex.as_str()),
        }
    }
}

/// What a [`Pattern`] extracted from the line that matched it: the line, and the value of every
/// named group that took part in the match.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use testrig::process::{Command, Pattern, Process};
///
/// # async fn run() -> Result<(), testrig::process::ProcessError> {
/// let command = Command::shell("echo listening on port 4242; exec sleep 1000")
///     .ready_when(Pattern::stdout(r"port (?P<port>\d+)")?);
/// let server = Process::spawn(command, "/tmp/run").await?;
/// let captures = server.ready(Duration::from_secs(5)).await?;
/// assert_eq!(captures.get("port"), Some("4242"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Captures {
    /// The whole line that matched (empty when nothing was waited for).
    pub line: String,
    /// Every named group that took part in the match, by name.
    pub groups: BTreeMap<String, String>,
}

impl Captures {
    /// The value of the named group `name`, if it took part in the match.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.groups.get(name).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(stream: Stream, text: &str) -> Line<'_> {
        Line { stream, text }
    }

    #[test]
    fn named_groups_are_extracted_and_absent_optional_groups_left_out() {
        let pattern = Pattern::any(r"port (?P<port>\d+)(?: tls (?P<tls>\w+))?").unwrap();
        let captures = pattern
            .captures(line(Stream::Stderr, "listening on port 8080"))
            .unwrap();
        assert_eq!(captures.get("port"), Some("8080"));
        assert_eq!(captures.get("tls"), None);
        assert_eq!(captures.line, "listening on port 8080");
    }

    #[test]
    fn a_pattern_on_one_stream_ignores_the_other() {
        let pattern = Pattern::stdout("ready").unwrap();
        assert!(pattern.captures(line(Stream::Stderr, "ready")).is_none());
        assert!(pattern.captures(line(Stream::Stdout, "ready")).is_some());
    }

    #[test]
    fn an_invalid_regex_is_an_error_naming_it() {
        let error = Pattern::stdout("port (").unwrap_err();
        assert!(error.to_string().contains("`port (`"), "{error}");
    }
}
