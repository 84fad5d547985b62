use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use testrig::process::Signal;

/// Signals that do not end a program, refused as a stop signal.
const NOT_ENDING: &[&str] = &["SIGSTOP", "SIGCONT", "SIGTSTP", "SIGCHLD"];

/// The signal that stops a program: a name such as `"SIGTERM"`, `"TERM"` or
/// `"int"` (case and the `SIG` prefix do not matter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StopSignal(pub(crate) Signal);

impl<'de> Deserialize<'de> for StopSignal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(SignalVisitor)
    }
}

struct SignalVisitor;

impl Visitor<'_> for SignalVisitor {
    type Value = StopSignal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a signal name such as \"SIGTERM\", \"TERM\" or \"INT\"")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        let upper = text.trim().to_ascii_uppercase();
        let wanted = match upper.strip_prefix("SIG") {
            Some(_) => upper.clone(),
            None => format!("SIG{upper}"),
        };
        // The standard signals are 1 to 31; `Signal::name` knows the common ones.
        let signal = (1..32)
            .map(Signal::from_raw)
            .find(|signal| signal.name() == Some(wanted.as_str()))
            .ok_or_else(|| {
                E::custom(format!(
                    "unknown signal `{text}`; write a name such as \"SIGTERM\", \"TERM\" or \"INT\""
                ))
            })?;
        if NOT_ENDING.contains(&wanted.as_str()) {
            return Err(E::custom(format!(
                "{signal} does not end a program, so it cannot stop one; use SIGTERM (the default), SIGINT, SIGHUP, SIGQUIT or SIGKILL"
            )));
        }
        Ok(StopSignal(signal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Holder {
        signal: StopSignal,
    }

    fn parse(value: &str) -> Result<Signal, String> {
        toml::from_str::<Holder>(&format!("signal = {value}"))
            .map(|h| h.signal.0)
            .map_err(|e| e.message().to_owned())
    }

    #[test]
    fn a_signal_is_named_with_or_without_sig_in_any_case() {
        assert_eq!(parse("'SIGTERM'"), Ok(Signal::TERM));
        assert_eq!(parse("'INT'"), Ok(Signal::INT));
        assert_eq!(parse("'sigkill'"), Ok(Signal::KILL));
        assert_eq!(parse("' hup '"), Ok(Signal::HUP));
    }

    #[test]
    fn unknown_names_and_signals_that_do_not_end_a_program_are_refused() {
        assert!(
            parse("'SIGFOO'")
                .unwrap_err()
                .starts_with("unknown signal `SIGFOO`")
        );
        assert!(
            parse("'STOP'")
                .unwrap_err()
                .starts_with("SIGSTOP does not end a program")
        );
        assert!(parse("15").unwrap_err().contains("expected a signal name"));
    }
}
