use std::ops::Range;
use std::path::{Path, PathBuf};

use super::{Location, RigError};

/// A rig file's path and text, kept to turn byte spans into `file:line:column`.
#[derive(Clone, Debug)]
pub(crate) struct Source {
    path: PathBuf,
    text: String,
}

impl Source {
    pub(crate) fn new(path: &Path, text: String) -> Self {
        Self {
            path: path.to_owned(),
            text,
        }
    }

    /// The source of a file's `bytes`, which must be UTF-8 text: otherwise an
    /// error at the line and column of the first byte that is not.
    pub(crate) fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self, RigError> {
        let error = match String::from_utf8(bytes) {
            Ok(text) => return Ok(Self::new(path, text)),
            Err(error) => error,
        };
        let at = error.utf8_error().valid_up_to();
        let byte = error.as_bytes()[at];
        // Everything before `at` is valid, so the lossy text keeps its offsets;
        // the bad byte shows as the replacement character in the snippet.
        let shown = Self::new(path, String::from_utf8_lossy(error.as_bytes()).into_owned());
        Err(RigError::Invalid {
            location: shown.locate(at..at + 1),
            context: String::new(),
            message: format!(
                "the file is not UTF-8 text: byte 0x{byte:02X} here is not valid UTF-8 (a rig file must be UTF-8)"
            ),
        })
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The directory of the rig file, from which its relative paths are taken;
    /// absolute (from the current directory when the file was named relatively),
    /// so it means the same wherever a program it runs is started.
    pub(crate) fn dir(&self) -> PathBuf {
        let dir = match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        std::path::absolute(dir)
            .map(|dir| dir.components().collect())
            .unwrap_or_else(|_| dir.to_owned())
    }

    /// Where `span` starts. A span past the end points at the end of the file.
    pub(crate) fn locate(&self, span: Range<usize>) -> Location {
        let start = floor_char_boundary(&self.text, span.start.min(self.text.len()));
        let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        let line_text = self.text[line_start..line_end].trim_end_matches('\r');
        let end = floor_char_boundary(&self.text, span.end.clamp(start, line_end));
        Location {
            path: self.path.clone(),
            line: self.text[..line_start].matches('\n').count() + 1,
            column: self.text[line_start..start].chars().count() + 1,
            line_text: line_text.to_owned(),
            width: self.text[start..end].chars().count().max(1),
        }
    }
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_becomes_line_and_column_counted_in_characters() {
        let source = Source::new(Path::new("r.toml"), "a = 1\n# é\nport = 70000\n".into());
        let at = source.text().find("70000").unwrap();
        let location = source.locate(at..at + 5);
        assert_eq!((location.line, location.column, location.width), (3, 8, 5));
        assert_eq!(location.to_string(), "r.toml:3:8");
        assert_eq!(
            location.snippet(),
            "  |\n3 | port = 70000\n  |        ^^^^^"
        );
        let accent = source.text().find('é').unwrap();
        assert_eq!(source.locate(accent..accent + 2).column, 3);
    }

    #[test]
    fn the_directory_of_a_rig_file_is_absolute_wherever_it_was_named_from() {
        let cwd = std::env::current_dir().unwrap();
        let dir = |path: &str| Source::new(Path::new(path), String::new()).dir();
        assert_eq!(dir("/rigs/echo.toml"), Path::new("/rigs"));
        assert_eq!(dir("echo.toml"), cwd);
        assert_eq!(dir("./rigs/echo.toml"), cwd.join("rigs"));
    }

    #[test]
    fn a_span_at_the_end_of_the_file_points_at_the_last_line() {
        let source = Source::new(Path::new("r.toml"), "a = \"".into());
        let location = source.locate(5..9);
        assert_eq!((location.line, location.column, location.width), (1, 6, 1));
    }

    #[test]
    fn a_long_line_is_shown_cut_around_the_span() {
        let line = format!(
            "args = [{}\"oops\"{}]",
            "\"a\", ".repeat(100),
            ", \"b\"".repeat(100)
        );
        let source = Source::new(Path::new("r.toml"), line.clone());
        let at = line.find("oops").unwrap();
        let snippet = source.locate(at..at + 4).snippet();
        let [_, shown, marker] = snippet.lines().collect::<Vec<_>>()[..] else {
            panic!("three lines: {snippet}")
        };
        assert!(
            shown.starts_with("1 | …") && shown.ends_with('…'),
            "{shown}"
        );
        assert!(shown.chars().count() < 130, "{shown}");
        let under = marker.chars().position(|c| c == '^').unwrap();
        let marked: String = shown.chars().skip(under).take(4).collect();
        assert_eq!(marked, "oops", "{snippet}");
        assert!(marker.ends_with("^^^^"), "{snippet}");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused_at_their_line_and_column() {
        let bytes = b"[rig]\nname = \"caf\xE9\"\n".to_vec();
        let error = Source::from_bytes(Path::new("r.toml"), bytes).unwrap_err();
        assert_eq!(
            error.to_string(),
            "r.toml:2:12: the file is not UTF-8 text: byte 0xE9 here is not valid UTF-8 (a rig file must be UTF-8)"
        );
        assert_eq!(
            error.render().lines().nth(2),
            Some("2 | name = \"caf\u{FFFD}\"")
        );
        let bytes = b"[rig]\nname = \"\xF0\x9F\x98".to_vec();
        let error = Source::from_bytes(Path::new("r.toml"), bytes).unwrap_err();
        assert!(error.to_string().starts_with("r.toml:2:9: "), "{error}");
    }
}
