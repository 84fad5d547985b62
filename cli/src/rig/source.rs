use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A rig file's path and text, kept to turn byte spans into `file:line:column`.
#[derive(Clone, Debug)]
pub(crate) struct Source {
    path: PathBuf,
    text: String,
}

/// A place in a rig file, with the line it is on, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Location {
    /// The file as the user named it.
    pub(crate) path: PathBuf,
    /// 1-based line.
    pub(crate) line: usize,
    /// 1-based column, in characters.
    pub(crate) column: usize,
    /// The text of that line.
    pub(crate) line_text: String,
    /// How many characters of the line the span covers (at least 1).
    pub(crate) width: usize,
}

impl Source {
    pub(crate) fn new(path: &Path, text: String) -> Self {
        Self {
            path: path.to_owned(),
            text,
        }
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

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.column)
    }
}

impl Location {
    /// The line with a `^^^` marker under the span, as compilers show it.
    pub(crate) fn snippet(&self) -> String {
        let number = self.line.to_string();
        let pad = " ".repeat(number.len());
        let indent: String = self
            .line_text
            .chars()
            .take(self.column - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!(
            "{pad} |\n{number} | {}\n{pad} | {indent}{}",
            self.line_text,
            "^".repeat(self.width)
        )
    }
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
}
