use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A duration in a rig file: text such as `"500ms"`, `"2s"`, `"1m 30s"`, or a
/// number of seconds (`2`, `0.5`).
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
        u64::try_from(value)
            .map(|secs| RigDuration(Duration::from_secs(secs)))
            .map_err(|_| E::custom(format!("a duration cannot be negative, got {value}")))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(RigDuration(Duration::from_secs(value)))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        if value < 0.0 {
            return Err(E::custom(format!(
                "a duration cannot be negative, got {value}"
            )));
        }
        Duration::try_from_secs_f64(value)
            .map(RigDuration)
            .map_err(|_| E::custom(format!("{value} is not a usable number of seconds")))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        humantime::parse_duration(text).map(RigDuration).map_err(|e| {
            E::custom(format!(
                "\"{text}\" is not a duration ({e}); write e.g. \"500ms\", \"2s\" or a number of seconds"
            ))
        })
    }
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
}
