use std::io::IsTerminal;

/// Plain text, or text with ANSI colors for a person at a terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    /// No escape codes: output is piped, `NO_COLOR` is set or `TERM=dumb`.
    Plain,
    /// Statuses and verdicts in color.
    Color,
}

/// What a word means, which decides its color.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tone {
    /// Started, ok.
    Good,
    /// Starting, stopping: on the way.
    Busy,
    /// Failed.
    Bad,
    /// Everything else.
    Neutral,
}

impl Style {
    /// Color when stdout is a terminal and nothing asks for plain text.
    pub(crate) fn detect() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        if std::io::stdout().is_terminal() && !no_color && !dumb {
            Style::Color
        } else {
            Style::Plain
        }
    }

    /// `text` padded to `width` characters, in the color of `tone`.
    pub(crate) fn paint(self, text: &str, tone: Tone, width: usize) -> String {
        let padded = format!("{text:width$}");
        let code = match (self, tone) {
            (Style::Plain, _) | (_, Tone::Neutral) => return padded,
            (Style::Color, Tone::Good) => "32",
            (Style::Color, Tone::Busy) => "33",
            (Style::Color, Tone::Bad) => "1;31",
        };
        format!("\x1b[{code}m{padded}\x1b[0m")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_style_pads_without_escape_codes_and_color_wraps_them() {
        assert_eq!(Style::Plain.paint("ok", Tone::Good, 4), "ok  ");
        assert_eq!(
            Style::Color.paint("ok", Tone::Good, 4),
            "\x1b[32mok  \x1b[0m"
        );
        assert_eq!(Style::Color.paint("x", Tone::Neutral, 0), "x");
    }
}
