use std::fmt;
use std::time::Duration;

use super::panic_capture::PanicSite;
use crate::error::BoxError;

/// How a case body or a hook ended.
#[derive(Debug)]
pub(crate) enum Ending {
    /// It returned `Ok`.
    Passed,
    /// It returned an error (the message includes its causes).
    Failed(String),
    /// It panicked (an `assert!` that failed, usually).
    Panicked(String),
    /// It was still running when its timeout passed and was cancelled.
    TimedOut(Duration),
    /// A signal arrived while it ran; it was cancelled.
    Interrupted(&'static str),
}

impl Ending {
    /// The ending of a step that returned.
    pub(crate) fn returned(result: Result<(), BoxError>) -> Self {
        match result {
            Ok(()) => Ending::Passed,
            Err(error) => Ending::Failed(describe(&*error)),
        }
    }

    /// The ending of a step whose task panicked.
    pub(crate) fn panicked(payload: &(dyn std::any::Any + Send)) -> Self {
        Ending::Panicked(payload_text(payload))
    }

    /// The ending of a step that panicked at `site`: "at FILE:LINE:COL: message", then
    /// the backtrace when one was taken (`RUST_BACKTRACE`).
    pub(crate) fn panicked_at(payload: &(dyn std::any::Any + Send), site: PanicSite) -> Self {
        let mut message = match site.location {
            Some(location) => format!("at {location}: {}", payload_text(payload)),
            None => payload_text(payload),
        };
        if let Some(backtrace) = site.backtrace {
            message.push_str("\nstack backtrace:\n");
            message.push_str(backtrace.trim_end());
        }
        Ending::Panicked(message)
    }

    /// Whether it passed.
    pub(crate) fn passed(&self) -> bool {
        matches!(self, Ending::Passed)
    }
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::Passed => f.write_str("passed"),
            Ending::Failed(message) => f.write_str(message),
            Ending::Panicked(message) => write!(f, "panicked: {message}"),
            Ending::TimedOut(after) => write!(f, "timed out after {after:?} and was cancelled"),
            Ending::Interrupted(signal) => write!(f, "interrupted by {signal} and cancelled"),
        }
    }
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic payload".to_owned())
}

pub(crate) use crate::error::describe;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("outer: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn a_failure_message_lists_the_causes_it_does_not_already_show() {
        let hidden = Ending::returned(Err(Box::new(Outer(std::io::Error::other("inner")))));
        assert_eq!(hidden.to_string(), "outer\n  caused by: inner");
        let shown = Ending::returned(Err(Box::new(Repeats(std::io::Error::other("inner")))));
        assert_eq!(shown.to_string(), "outer: inner");
    }

    #[test]
    fn a_panic_payload_becomes_the_message() {
        let text: Box<dyn std::any::Any + Send> = Box::new(String::from("left != right"));
        assert_eq!(
            Ending::panicked(&*text).to_string(),
            "panicked: left != right"
        );
        let literal: Box<dyn std::any::Any + Send> = Box::new("boom");
        assert_eq!(Ending::panicked(&*literal).to_string(), "panicked: boom");
        let other: Box<dyn std::any::Any + Send> = Box::new(7_u8);
        assert_eq!(
            Ending::panicked(&*other).to_string(),
            "panicked: a non-text panic payload"
        );
    }
}
