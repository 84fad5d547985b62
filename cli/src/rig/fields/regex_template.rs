use std::collections::BTreeMap;
use std::fmt;

use regex::Regex;
use serde::de::{self, Deserialize, Deserializer, Visitor};
use testrig::{Exports, RefKey, Template, Value, ValueTable};

use super::pattern::compile;

/// What a reference stands for while the regex is checked as the file is read,
/// before any driver exports anything: escaped, any value is a literal, so one
/// non-empty literal shows whether the regex is well formed.
const STAND_IN: &str = "0";

/// A regular expression that may hold `${driver.key}` references, filled in when
/// a step runs with each value **escaped**: `'listening on ${server.address}'`
/// matches the address literally, dots and all. `$$` is a `$`. The regex is
/// checked when the file is read, with the references standing for a literal.
#[derive(Clone, Debug)]
pub(crate) struct RegexTemplate {
    template: Template,
}

/// Why the regex could not be built when the step ran.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum RegexTemplateError {
    /// A reference has no value (its driver exports no such key now).
    #[error("`{template}` cannot be filled in")]
    Unresolved {
        /// The regex as written.
        template: String,
        /// Which reference, and why.
        #[source]
        source: Box<testrig::Error>,
    },
    /// The values made it invalid (an empty value before a `{2}`, …).
    #[error("with its references filled in, {reason}")]
    Invalid {
        /// The regex crate's reason, quoting the filled-in regex.
        reason: String,
    },
}

impl RegexTemplate {
    /// The references it holds, in order.
    pub(crate) fn references(&self) -> Vec<RefKey> {
        self.template.references()
    }

    /// The regex, each reference replaced by its value in `values`, escaped.
    pub(crate) fn regex(&self, values: &ValueTable) -> Result<Regex, RegexTemplateError> {
        let escaped = self
            .filled(|key| {
                values
                    .resolve::<Value>(key)
                    .map(|value| regex::escape(&value.to_string()))
            })
            .map_err(|source| RegexTemplateError::Unresolved {
                template: self.template.to_string(),
                source: Box::new(source),
            })?;
        compile(&escaped, &escaped).map_err(|reason| RegexTemplateError::Invalid { reason })
    }

    /// The text with each reference replaced by `value(reference)`.
    fn filled(
        &self,
        value: impl Fn(&RefKey) -> Result<String, testrig::Error>,
    ) -> Result<String, testrig::Error> {
        let mut by_driver: BTreeMap<String, Exports> = BTreeMap::new();
        for key in self.template.references() {
            let text = value(&key)?;
            by_driver
                .entry(key.driver.clone())
                .or_default()
                .insert(key.key.clone(), Value::Text(text));
        }
        let table = ValueTable::new();
        for (driver, exports) in by_driver {
            table.publish(&driver, exports);
        }
        self.template.render(&table)
    }
}

impl<'de> Deserialize<'de> for RegexTemplate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(RegexTemplateVisitor)
    }
}

struct RegexTemplateVisitor;

impl Visitor<'_> for RegexTemplateVisitor {
    type Value = RegexTemplate;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a regular expression (it may hold references such as \"${server.port}\")")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        let template = RegexTemplate {
            template: Template::parse(text).map_err(E::custom)?,
        };
        let checked = template
            .filled(|_| Ok(STAND_IN.to_owned()))
            .map_err(E::custom)?;
        compile(&checked, text).map_err(E::custom)?;
        Ok(template)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Holder {
        regex: RegexTemplate,
    }

    fn parse(value: &str) -> Result<RegexTemplate, String> {
        toml::from_str::<Holder>(&format!("regex = {value}"))
            .map(|h| h.regex)
            .map_err(|e| e.message().to_owned())
    }

    fn values() -> ValueTable {
        let values = ValueTable::new();
        values.publish(
            "server",
            [
                ("port".to_owned(), 4000u16.into()),
                ("address".to_owned(), Value::Text("127.0.0.1:4000".into())),
            ]
            .into(),
        );
        values
    }

    #[test]
    fn references_are_filled_in_escaped_so_their_values_match_literally() {
        let template = parse(r"'^up on ${server.address} \(port ${server.port}\)$$'").unwrap();
        assert_eq!(
            template
                .references()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["server.address", "server.port"]
        );
        let regex = template.regex(&values()).unwrap();
        assert_eq!(regex.as_str(), r"^up on 127\.0\.0\.1:4000 \(port 4000\)$");
        assert!(regex.is_match("up on 127.0.0.1:4000 (port 4000)"));
        assert!(!regex.is_match("up on 127x0x0x1:4000 (port 4000)"));
    }

    #[test]
    fn a_bad_regex_is_refused_when_read_and_a_missing_value_when_filled_in() {
        assert_eq!(
            parse("'port ('").unwrap_err(),
            "`port (` is not a valid regex: unclosed group"
        );
        assert!(
            parse("'(${server.port}'")
                .unwrap_err()
                .starts_with("`(${server.port}` is not a valid regex: unclosed group")
        );
        assert!(
            parse("'${port}'")
                .unwrap_err()
                .contains("must be `${driver.key}`")
        );
        let missing = parse("'${server.pid}'")
            .unwrap()
            .regex(&values())
            .unwrap_err();
        let missing = testrig::error::full_message(&missing);
        assert!(
            missing.starts_with("`${server.pid}` cannot be filled in: "),
            "{missing}"
        );
    }
}
