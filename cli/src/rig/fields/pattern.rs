use std::fmt;

use regex::Regex;
use serde::de::{self, Deserialize, Deserializer, Visitor};

use super::without_references;

/// A regular expression in a rig file, compiled when the file is read so a bad
/// one is an error at its line and column. It is fixed before any driver
/// starts (an app's readiness), so it cannot hold references; `$$` is a `$`
/// (the end anchor either way).
#[derive(Clone, Debug)]
pub(crate) struct RigRegex(pub(crate) Regex);

impl<'de> Deserialize<'de> for RigRegex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(RegexVisitor)
    }
}

struct RegexVisitor;

impl Visitor<'_> for RegexVisitor {
    type Value = RigRegex;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a regular expression such as 'listening on port (?P<port>\\d+)'")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        let pattern = without_references(
            text,
            "match the value with a pattern such as `\\d+` instead",
        )
        .map_err(E::custom)?;
        compile(&pattern, text).map(RigRegex).map_err(E::custom)
    }
}

/// Compiles `pattern`; the error says why on one line, quoting the regex as
/// the rig file wrote it (`as_written`).
pub(crate) fn compile(pattern: &str, as_written: &str) -> Result<Regex, String> {
    Regex::new(pattern)
        .map_err(|error| format!("`{as_written}` is not a valid regex: {}", reason(&error)))
}

/// The one-line reason of a regex error: the regex crate's syntax errors repeat
/// the pattern with a marker over several lines, then say `error: ...`.
fn reason(error: &regex::Error) -> String {
    let text = error.to_string();
    text.lines()
        .find_map(|line| line.trim().strip_prefix("error: "))
        .map_or_else(|| text.replace('\n', " "), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Holder {
        regex: RigRegex,
    }

    fn parse(value: &str) -> Result<Regex, String> {
        toml::from_str::<Holder>(&format!("regex = {value}"))
            .map(|h| h.regex.0)
            .map_err(|e| e.message().to_owned())
    }

    #[test]
    fn a_regex_compiles_and_a_bad_one_says_why_on_one_line() {
        let regex = parse(r"'port (?P<port>\d+)'").unwrap();
        assert_eq!(&regex.captures("port 80").unwrap()["port"], "80");
        assert_eq!(
            parse("'port ('").unwrap_err(),
            "`port (` is not a valid regex: unclosed group"
        );
        assert!(
            parse("3")
                .unwrap_err()
                .contains("expected a regular expression")
        );
    }

    #[test]
    fn a_reference_in_a_regex_fixed_before_the_start_is_refused_saying_what_to_write() {
        let error = parse(r"'listening on ${server.port}'").unwrap_err();
        assert!(
            error.contains("cannot hold a reference such as `${server.port}`; match the value with a pattern such as `\\d+` instead"),
            "{error}"
        );
        assert_eq!(parse(r"'done$$'").unwrap().as_str(), "done$");
    }
}
