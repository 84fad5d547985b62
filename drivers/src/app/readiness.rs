use std::path::{Path, PathBuf};

use regex::Regex;
use testrig::process::{Pattern, Stream};

use super::AppError;

/// When an [`App`](super::App) counts as ready, as given to the builder (the
/// regex not compiled yet).
#[derive(Debug, Clone, Default)]
pub(super) enum ReadinessSpec {
    /// As soon as the program is spawned.
    #[default]
    Immediate,
    /// When a line of its output matches; `None` is either stream.
    Line {
        regex: String,
        stream: Option<Stream>,
    },
    /// When a line appended to a file the program writes matches.
    LogFile { regex: String, path: PathBuf },
}

/// When an [`App`](super::App) counts as ready, validated.
#[derive(Debug, Clone)]
pub(super) enum Readiness {
    Immediate,
    Line {
        regex: Regex,
        stream: Option<Stream>,
    },
    LogFile {
        regex: Regex,
        path: PathBuf,
    },
}

/// Named groups the driver exports under its own keys; a regex may not use them.
pub(super) const RESERVED_GROUPS: &[&str] = &["pid"];

impl ReadinessSpec {
    /// Compiles the regex; errors name `driver`, the field and the regex.
    pub(super) fn parse(&self, driver: &str) -> Result<Readiness, AppError> {
        let (text, field) = match self {
            ReadinessSpec::Immediate => return Ok(Readiness::Immediate),
            ReadinessSpec::Line { regex, stream } => (regex, line_field(*stream)),
            ReadinessSpec::LogFile { regex, .. } => (regex, "readiness on log file"),
        };
        let regex = Regex::new(text).map_err(|source| AppError::InvalidRegex {
            driver: driver.to_owned(),
            field,
            value: text.clone(),
            source,
        })?;
        if let Some(group) = regex
            .capture_names()
            .flatten()
            .find(|name| RESERVED_GROUPS.contains(name))
        {
            return Err(AppError::ReservedGroup {
                driver: driver.to_owned(),
                field,
                value: text.clone(),
                group: group.to_owned(),
            });
        }
        Ok(match self {
            ReadinessSpec::Immediate => Readiness::Immediate,
            ReadinessSpec::Line { stream, .. } => Readiness::Line {
                regex,
                stream: *stream,
            },
            ReadinessSpec::LogFile { path, .. } => Readiness::LogFile {
                regex,
                path: path.clone(),
            },
        })
    }
}

fn line_field(stream: Option<Stream>) -> &'static str {
    match stream {
        Some(Stream::Stdout) => "readiness on stdout",
        Some(Stream::Stderr) => "readiness on stderr",
        None => "readiness on output",
    }
}

impl Readiness {
    /// The named groups of the regex: the values extracted into the exports.
    pub(super) fn groups(&self) -> Vec<String> {
        match self {
            Readiness::Immediate => Vec::new(),
            Readiness::Line { regex, .. } | Readiness::LogFile { regex, .. } => {
                regex.capture_names().flatten().map(str::to_owned).collect()
            }
        }
    }

    /// The pattern the process layer watches its output for, for line readiness.
    pub(super) fn output_pattern(&self) -> Option<Pattern> {
        match self {
            Readiness::Line { regex, stream } => Some(Pattern::from_regex(regex.clone(), *stream)),
            _ => None,
        }
    }

    /// The log file, resolved against the working directory `cwd`.
    pub(super) fn log_file(&self, cwd: &Path) -> Option<PathBuf> {
        match self {
            Readiness::LogFile { path, .. } => Some(cwd.join(path)),
            _ => None,
        }
    }

    /// What readiness waits for, in words, for error messages.
    pub(super) fn describe(&self, log_file: Option<&Path>) -> String {
        match self {
            Readiness::Immediate => "the program to be spawned".to_owned(),
            Readiness::Line { .. } => format!(
                "a line matching {}",
                self.output_pattern()
                    .expect("a line readiness has a pattern")
            ),
            Readiness::LogFile { regex, path } => format!(
                "a line matching `{}` in {}",
                regex.as_str(),
                log_file.unwrap_or(path).display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_regex_names_the_driver_the_field_and_the_value() {
        let spec = ReadinessSpec::Line {
            regex: "port (".to_owned(),
            stream: Some(Stream::Stdout),
        };
        let error = spec.parse("web").unwrap_err().to_string();
        assert!(
            error.starts_with("driver `web`: readiness on stdout `port (` is not a valid regex"),
            "{error}"
        );
    }

    #[test]
    fn named_groups_are_the_extracted_values_and_pid_is_reserved() {
        let spec = ReadinessSpec::LogFile {
            regex: r"(?P<host>\S+):(?P<port>\d+)".to_owned(),
            path: "app.log".into(),
        };
        assert_eq!(spec.parse("web").unwrap().groups(), ["host", "port"]);
        let reserved = ReadinessSpec::Line {
            regex: r"(?P<pid>\d+)".to_owned(),
            stream: None,
        };
        assert!(matches!(
            reserved.parse("web"),
            Err(AppError::ReservedGroup { group, .. }) if group == "pid"
        ));
    }

    #[test]
    fn readiness_describes_what_it_waits_for() {
        let line = ReadinessSpec::Line {
            regex: "ready".to_owned(),
            stream: Some(Stream::Stderr),
        };
        assert_eq!(
            line.parse("x").unwrap().describe(None),
            "a line matching `ready` on stderr"
        );
        let file = ReadinessSpec::LogFile {
            regex: "up".to_owned(),
            path: "logs/app.log".into(),
        }
        .parse("x")
        .unwrap();
        let resolved = file.log_file(Path::new("/run/x")).unwrap();
        assert_eq!(resolved, Path::new("/run/x/logs/app.log"));
        assert_eq!(
            file.describe(Some(&resolved)),
            "a line matching `up` in /run/x/logs/app.log"
        );
    }
}
