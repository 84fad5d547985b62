use std::ops::Range;

use testrig::{RefKey, Template};
use toml::de::{DeTable, DeValue};

/// Where the parts of one `[[driver]]` or `[[step]]` table are in the file, kept
/// to point errors found after parsing (bad references, cycles, invalid
/// options) at the key that causes them.
#[derive(Clone, Debug, Default)]
pub(crate) struct TableSpans {
    /// What the table is, for messages: "driver `client`", "step 2 `ping`".
    pub(crate) owner: String,
    /// The table's header (`[[driver]]`).
    pub(crate) table: Range<usize>,
    /// Every key, dotted below the top (`reconnect.max`), with its value's span.
    keys: Vec<(String, Range<usize>)>,
    /// Every `${driver.key}` in the table's strings, with the string's span.
    references: Vec<(RefKey, Range<usize>)>,
}

impl TableSpans {
    pub(crate) fn of(owner: String, table_span: Range<usize>, table: &DeTable<'_>) -> Self {
        let mut spans = Self {
            owner,
            table: table_span,
            ..Self::default()
        };
        spans.walk("", table);
        spans
    }

    fn walk(&mut self, prefix: &str, table: &DeTable<'_>) {
        for (key, value) in table {
            let path = format!("{prefix}{}", key.get_ref());
            self.keys.push((path.clone(), value.span()));
            self.value(&path, value.get_ref(), value.span());
        }
    }

    fn value(&mut self, path: &str, value: &DeValue<'_>, span: Range<usize>) {
        match value {
            DeValue::Table(inner) => self.walk(&format!("{path}."), inner),
            DeValue::Array(items) => {
                for item in items.iter() {
                    self.value(path, item.get_ref(), item.span());
                }
            }
            DeValue::String(text) => {
                if let Ok(template) = Template::parse(text) {
                    for reference in template.references() {
                        self.references.push((reference, span.clone()));
                    }
                }
            }
            _ => {}
        }
    }

    /// The span of the value at `dotted_key`, or the table's when it is absent.
    pub(crate) fn key(&self, dotted_key: &str) -> Range<usize> {
        self.keys
            .iter()
            .find(|(k, _)| k == dotted_key)
            .map_or_else(|| self.table.clone(), |(_, span)| span.clone())
    }

    /// Every key, dotted below the top, with its value's span, in file order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &(String, Range<usize>)> {
        self.keys.iter()
    }

    /// "driver `client`, key `port`" for a span inside the value of `port`;
    /// the owner alone when no key's value covers the span.
    pub(crate) fn context(&self, span: &Range<usize>) -> String {
        let covering = self
            .keys
            .iter()
            .filter(|(_, value)| value.start <= span.start && span.end <= value.end)
            .min_by_key(|(_, value)| value.len());
        match covering {
            Some((key, _)) => format!("{}, key `{key}`", self.owner),
            None => self.owner.clone(),
        }
    }

    /// The span of the first string holding `reference`.
    pub(crate) fn reference(&self, reference: &RefKey) -> Option<Range<usize>> {
        self.references
            .iter()
            .find(|(r, _)| r == reference)
            .map(|(_, span)| span.clone())
    }

    /// The span of the first string referencing any key of `driver`.
    pub(crate) fn reference_to(&self, driver: &str) -> Option<Range<usize>> {
        self.references
            .iter()
            .find(|(r, _)| r.driver == driver)
            .map(|(_, span)| span.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_keys_and_references_in_strings_and_arrays_are_found() {
        let text = "[[driver]]\nport = '${server.port}'\nargs = ['-p', '${a.b}']\n[driver.reconnect]\nmax = 2\n";
        let root = DeTable::parse(text).unwrap();
        let DeValue::Array(items) = root.get_ref().iter().next().unwrap().1.get_ref() else {
            panic!("an array of tables")
        };
        let item = &items[0];
        let DeValue::Table(table) = item.get_ref() else {
            panic!("a table")
        };
        let spans = TableSpans::of("driver #1".into(), item.span(), table);
        assert_eq!(&text[spans.key("reconnect.max")], "2");
        assert_eq!(&text[spans.key("missing")], "[[driver]]");
        let port = RefKey {
            driver: "server".into(),
            key: "port".into(),
        };
        assert_eq!(&text[spans.reference(&port).unwrap()], "'${server.port}'");
        assert_eq!(&text[spans.reference_to("a").unwrap()], "'${a.b}'");
        assert_eq!(
            spans.context(&spans.reference(&port).unwrap()),
            "driver #1, key `port`"
        );
        assert_eq!(
            spans.context(&spans.key("reconnect.max")),
            "driver #1, key `reconnect.max`"
        );
        assert_eq!(spans.context(&spans.table), "driver #1");
    }
}
