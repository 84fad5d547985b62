use std::fmt;

use super::{RefKey, ValueTable};
use crate::error::{BuildError, Error};

/// Text with `${driver.key}` placeholders, filled in from other drivers' exports.
///
/// `$$` stands for a literal `$`. Used for process arguments and environment
/// values and for rig files.
///
/// # Examples
/// ```
/// use testrig::{Template, ValueTable};
///
/// let t = Template::parse("--port=${server.port}").unwrap();
/// assert_eq!(t.references()[0].to_string(), "server.port");
///
/// let values = ValueTable::new();
/// values.publish("server", [("port".to_owned(), 4000u16.into())].into());
/// assert_eq!(t.render(&values).unwrap(), "--port=4000");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Ref(RefKey),
}

impl Template {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Self, BuildError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(i) = rest.find('$') {
            literal.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                literal.push('$');
                offset += i + 2;
                rest = tail;
            } else if let Some(body) = after.strip_prefix('{') {
                let end = body
                    .find('}')
                    .ok_or_else(|| BuildError::UnclosedPlaceholder {
                        text: text.to_owned(),
                        at: offset + i,
                    })?;
                let inner = &body[..end];
                let key = split_key(inner).ok_or_else(|| BuildError::MalformedPlaceholder {
                    text: text.to_owned(),
                    inner: inner.to_owned(),
                })?;
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(Part::Ref(key));
                offset += i + 2 + end + 1;
                rest = &body[end + 1..];
            } else {
                literal.push('$');
                offset += i + 1;
                rest = after;
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Self { parts })
    }

    /// The references this template needs, in order of appearance.
    pub fn references(&self) -> Vec<RefKey> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Ref(key) => Some(key.clone()),
                Part::Text(_) => None,
            })
            .collect()
    }

    /// Fills in every placeholder from `values`.
    pub fn render(&self, values: &ValueTable) -> Result<String, Error> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Ref(key) => out.push_str(&values.get(key)?.to_string()),
            }
        }
        Ok(out)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Text(t) => f.write_str(&t.replace('$', "$$"))?,
                Part::Ref(key) => write!(f, "${{{key}}}")?,
            }
        }
        Ok(())
    }
}

fn split_key(inner: &str) -> Option<RefKey> {
    let (driver, key) = inner.trim().split_once('.')?;
    let valid = |s: &str| !s.is_empty() && !s.contains(char::is_whitespace);
    (valid(driver) && valid(key)).then(|| RefKey {
        driver: driver.to_owned(),
        key: key.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_dollars_and_text_are_parsed() {
        let t = Template::parse("a $$ b ${x.port}:${y.host} $c").unwrap();
        let refs: Vec<String> = t.references().iter().map(|r| r.to_string()).collect();
        assert_eq!(refs, ["x.port", "y.host"]);
        let values = ValueTable::new();
        values.publish("x", [("port".to_owned(), 1u16.into())].into());
        values.publish("y", [("host".to_owned(), "h".into())].into());
        assert_eq!(t.render(&values).unwrap(), "a $ b 1:h $c");
    }

    #[test]
    fn bad_placeholders_name_the_problem() {
        assert_eq!(
            Template::parse("x ${a.b").unwrap_err().to_string(),
            "`x ${a.b`: `${` at byte 2 is never closed"
        );
        assert_eq!(
            Template::parse("${port}").unwrap_err().to_string(),
            "`${port}`: placeholder `${port}` must be `${driver.key}`"
        );
    }
}
