//! `LineSplitter`: cuts a byte stream into lines, incrementally, as chunks arrive.

/// Longest line delivered whole; a longer one is delivered in pieces of this size, so a program
/// that never prints a newline cannot make testrig's memory grow without bound.
pub(crate) const MAX_LINE: usize = 256 * 1024;

/// Cuts chunks of bytes into lines. Keeps only the unfinished last line between chunks: every
/// byte is looked at once.
#[derive(Debug, Default)]
pub(crate) struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Feeds `chunk`, calling `emit` with every line it completes (without `\n` or `\r\n`).
    pub(crate) fn push(&mut self, mut chunk: &[u8], mut emit: impl FnMut(&[u8])) {
        while let Some(end) = memchr(b'\n', chunk) {
            let (line, rest) = (&chunk[..end], &chunk[end + 1..]);
            if self.partial.is_empty() {
                emit(trim_cr(line));
            } else {
                self.partial.extend_from_slice(line);
                emit(trim_cr(&self.partial));
                self.partial.clear();
            }
            chunk = rest;
        }
        self.partial.extend_from_slice(chunk);
        while self.partial.len() >= MAX_LINE {
            let rest = self.partial.split_off(MAX_LINE);
            emit(&self.partial);
            self.partial = rest;
        }
    }

    /// Ends the stream: emits the unfinished last line, if any.
    pub(crate) fn finish(&mut self, mut emit: impl FnMut(&[u8])) {
        if !self.partial.is_empty() {
            emit(trim_cr(&self.partial));
            self.partial.clear();
        }
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&byte| byte == needle)
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<String> {
        let mut splitter = LineSplitter::default();
        let mut lines = Vec::new();
        let mut emit = |line: &[u8]| lines.push(String::from_utf8_lossy(line).into_owned());
        for chunk in chunks {
            splitter.push(chunk, &mut emit);
        }
        splitter.finish(&mut emit);
        lines
    }

    #[test]
    fn lines_split_across_chunks_are_joined() {
        assert_eq!(split(&[b"hel", b"lo\nwor", b"ld\n"]), ["hello", "world"]);
    }

    #[test]
    fn crlf_endings_and_empty_lines_are_kept_as_lines() {
        assert_eq!(split(&[b"a\r\n\nb\n"]), ["a", "", "b"]);
    }

    #[test]
    fn an_unfinished_last_line_is_delivered_at_the_end() {
        assert_eq!(split(&[b"a\nno newline"]), ["a", "no newline"]);
    }

    #[test]
    fn a_line_longer_than_the_limit_is_delivered_in_pieces() {
        let long = vec![b'x'; MAX_LINE + 10];
        let lines = split(&[&long, b"\n"]);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_LINE);
        assert_eq!(lines[1].len(), 10);
    }
}
