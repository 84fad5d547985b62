use std::fmt;
use std::path::PathBuf;

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

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.column)
    }
}

/// The most characters of a line a snippet shows: a longer line (a minified
/// or binary file) is cut around the span, so an error never prints megabytes.
const SNIPPET_WIDTH: usize = 120;

impl Location {
    /// The line with a `^^^` marker under the span, as compilers show it.
    pub(crate) fn snippet(&self) -> String {
        let number = self.line.to_string();
        let pad = " ".repeat(number.len());
        let chars: Vec<char> = self.line_text.chars().collect();
        let column = self.column - 1;
        let (start, end) = if chars.len() <= SNIPPET_WIDTH {
            (0, chars.len())
        } else {
            let start = column
                .saturating_sub(SNIPPET_WIDTH / 3)
                .min(chars.len() - SNIPPET_WIDTH);
            (start, start + SNIPPET_WIDTH)
        };
        let before = if start > 0 { "…" } else { "" };
        let after = if end < chars.len() { "…" } else { "" };
        let shown: String = chars[start..end].iter().collect();
        let indent: String = before
            .chars()
            .chain(chars[start..column.clamp(start, end)].iter().copied())
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let width = if chars.len() <= SNIPPET_WIDTH {
            self.width
        } else {
            self.width.min(end.saturating_sub(column)).max(1)
        };
        format!(
            "{pad} |\n{number} | {before}{shown}{after}\n{pad} | {indent}{}",
            "^".repeat(width)
        )
    }
}
