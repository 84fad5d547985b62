//! `Tail`: the last lines a process printed, kept in memory for error messages.

use std::collections::VecDeque;
use std::fmt;

use super::{Line, Stream};

/// Longest line kept in a tail; longer lines are cut (the log files keep them whole).
const MAX_TAIL_LINE: usize = 1024;

/// The last lines a process printed on stdout and stderr, in arrival order. Every error about a
/// process carries one; it displays as an indented block ready to read in a test failure.
///
/// # Examples
///
/// ```
/// use testrig::process::Tail;
///
/// assert_eq!(Tail::default().to_string(), "(no output)");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tail {
    lines: Vec<(Stream, String)>,
}

impl Tail {
    /// The lines, oldest first: the stream each came from and its text (cut at 1 KiB).
    pub fn lines(&self) -> impl ExactSizeIterator<Item = (Stream, &str)> {
        self.lines
            .iter()
            .map(|(stream, text)| (*stream, text.as_str()))
    }

    /// Whether any line of the tail contains `text`.
    pub fn contains(&self, text: &str) -> bool {
        self.lines.iter().any(|(_, line)| line.contains(text))
    }
}

impl serde::Serialize for Tail {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.lines().map(|(stream, text)| Line { stream, text }))
    }
}

impl fmt::Display for Tail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lines.is_empty() {
            return f.write_str("(no output)");
        }
        write!(f, "{} of output:", last_lines(self.lines.len()))?;
        for (stream, text) in &self.lines {
            write!(f, "\n  {stream}| {text}")?;
        }
        Ok(())
    }
}

/// "last line" or "last N lines", for a heading over `n` lines of a log.
pub(crate) fn last_lines(n: usize) -> String {
    match n {
        1 => "last line".to_owned(),
        n => format!("last {n} lines"),
    }
}

/// The ring that keeps the last `capacity` lines.
#[derive(Debug)]
pub(crate) struct TailBuffer {
    capacity: usize,
    lines: VecDeque<(Stream, String)>,
}

impl TailBuffer {
    pub(crate) fn new(capacity: usize) -> TailBuffer {
        TailBuffer {
            capacity,
            lines: VecDeque::with_capacity(capacity),
        }
    }

    pub(crate) fn push(&mut self, line: Line<'_>) {
        if self.capacity == 0 {
            return;
        }
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
        }
        self.lines
            .push_back((line.stream, cut(line.text, MAX_TAIL_LINE).to_owned()));
    }

    pub(crate) fn snapshot(&self) -> Tail {
        Tail {
            lines: self.lines.iter().cloned().collect(),
        }
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stdout(text: &str) -> Line<'_> {
        Line {
            stream: Stream::Stdout,
            text,
        }
    }

    #[test]
    fn the_buffer_keeps_only_the_last_lines_oldest_first() {
        let mut buffer = TailBuffer::new(2);
        for text in ["one", "two", "three"] {
            buffer.push(stdout(text));
        }
        let texts: Vec<_> = buffer
            .snapshot()
            .lines()
            .map(|(_, text)| text.to_owned())
            .collect();
        assert_eq!(texts, ["two", "three"]);
    }

    #[test]
    fn a_long_line_is_cut_on_a_character_boundary() {
        let mut buffer = TailBuffer::new(1);
        let long = "é".repeat(MAX_TAIL_LINE);
        buffer.push(stdout(&long));
        let tail = buffer.snapshot();
        let (_, kept) = tail.lines().next().unwrap();
        assert!(kept.len() <= MAX_TAIL_LINE && kept.len() >= MAX_TAIL_LINE - 1);
    }

    #[test]
    fn one_line_of_tail_is_called_the_last_line() {
        let mut buffer = TailBuffer::new(5);
        buffer.push(stdout("only"));
        assert_eq!(
            buffer.snapshot().to_string(),
            "last line of output:\n  stdout| only"
        );
    }

    #[test]
    fn the_tail_displays_each_line_with_its_stream() {
        let mut buffer = TailBuffer::new(5);
        buffer.push(stdout("hello"));
        buffer.push(Line {
            stream: Stream::Stderr,
            text: "oops",
        });
        assert_eq!(
            buffer.snapshot().to_string(),
            "last 2 lines of output:\n  stdout| hello\n  stderr| oops"
        );
    }
}
