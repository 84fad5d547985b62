use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// The longest duration a rig accepts: one year (`"1y"`, 365.25 days as
/// humantime counts it). Anything longer is a typo rather than a plan, and the
/// bound keeps every deadline computed from a rig (now + timeout, timeout + a
/// grace period) far from overflowing.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(31_557_600);

/// A duration in a rig file: text such as `"500ms"`, `"2s"`, `"1m 30s"`, or a
/// number of seconds (`2`, `0.5`); at most [`MAX_DURATION`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RigDuration(pub(crate) Duration);

impl<'de> Deserialize<'de> for RigDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = RigDuration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as \"500ms\" or \"2s\", or a number of seconds")
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        let secs = u64::try_from(value)
            .map_err(|_| E::custom(format!("a duration cannot be negative, got {value}")))?;
        self.visit_u64(secs)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        bounded(Duration::from_secs(value), &format!("{value} seconds"))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        if value < 0.0 {
            return Err(E::custom(format!(
                "a duration cannot be negative, got {value}"
            )));
        }
        let duration = Duration::try_from_secs_f64(value)
            .map_err(|_| E::custom(format!("{value} is not a usable number of seconds")))?;
        bounded(duration, &format!("{value} seconds"))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        let duration = humantime::parse_duration(text).map_err(|e| {
            E::custom(format!(
                "\"{text}\" is not a duration ({e}); write e.g. \"500ms\", \"2s\" or a number of seconds"
            ))
        })?;
        bounded(duration, &format!("\"{text}\""))
    }
}

/// `duration`, unless it is longer than [`MAX_DURATION`]; `written` is how the
/// rig wrote it, for the message.
fn bounded<E: de::Error>(duration: Duration, written: &str) -> Result<RigDuration, E> {
    if duration > MAX_DURATION {
        return Err(E::custom(format!(
            "{written} is too long: a duration in a rig is at most 1 year (\"1y\", 365.25 days)"
        )));
    }
    Ok(RigDuration(duration))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Holder {
        d: RigDuration,
    }

    fn parse(value: &str) -> Result<Duration, String> {
        toml::from_str::<Holder>(&format!("d = {value}"))
            .map(|h| h.d.0)
            .map_err(|e| e.message().to_owned())
    }

    #[test]
    fn text_and_seconds_are_durations() {
        assert_eq!(parse("\"250ms\""), Ok(Duration::from_millis(250)));
        assert_eq!(parse("\"1m 30s\""), Ok(Duration::from_secs(90)));
        assert_eq!(parse("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("0.5"), Ok(Duration::from_millis(500)));
    }

    #[test]
    fn negative_and_malformed_durations_are_refused_with_the_value() {
        assert_eq!(
            parse("-1"),
            Err("a duration cannot be negative, got -1".into())
        );
        assert!(
            parse("\"soon\"")
                .unwrap_err()
                .starts_with("\"soon\" is not a duration")
        );
        assert!(
            parse("true")
                .unwrap_err()
                .contains("expected a duration such as")
        );
    }

    #[test]
    fn durations_longer_than_a_year_are_refused_with_the_value() {
        assert_eq!(parse("\"1y\""), Ok(MAX_DURATION));
        assert_eq!(parse("31557600"), Ok(MAX_DURATION));
        for (written, shown) in [
            ("\"18446744073709551615s\"", "\"18446744073709551615s\""),
            ("\"1y 1s\"", "\"1y 1s\""),
            ("31557601", "31557601 seconds"),
            ("1e15", "1000000000000000 seconds"),
        ] {
            let message = parse(written).unwrap_err();
            assert_eq!(
                message,
                format!(
                    "{shown} is too long: a duration in a rig is at most 1 year (\"1y\", 365.25 days)"
                ),
                "{written}"
            );
        }
        assert!(parse("1e300").unwrap_err().contains("not a usable number"));
        assert!(parse("nan").unwrap_err().contains("not a usable number"));
        assert!(parse("inf").unwrap_err().contains("not a usable number"));
    }
}
