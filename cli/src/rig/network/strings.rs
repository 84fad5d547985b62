use std::fmt;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

/// One string or a list of them (`subnet = "10.0.0.0/24"` or
/// `subnet = ["10.0.0.0/24", "fd00::/64"]`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Strings(pub(crate) Vec<String>);

impl Strings {
    /// The strings, in file order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StringsVisitor)
    }
}

struct StringsVisitor;

impl<'de> Visitor<'de> for StringsVisitor {
    type Value = Strings;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a list of strings")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Strings(vec![value.to_owned()]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut strings = Vec::new();
        while let Some(item) = seq.next_element::<String>()? {
            strings.push(item);
        }
        Ok(Strings(strings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Holder {
        subnet: Strings,
    }

    #[test]
    fn one_string_or_a_list_of_strings_are_read_and_others_refused() {
        let one: Holder = toml::from_str("subnet = '10.0.0.0/24'").unwrap();
        assert_eq!(one.subnet.values().collect::<Vec<_>>(), ["10.0.0.0/24"]);
        let text = "subnet = ['10.0.0.0/24', 'fd00::/64']";
        let list: Holder = toml::from_str(text).unwrap();
        assert_eq!(
            list.subnet.values().collect::<Vec<_>>(),
            ["10.0.0.0/24", "fd00::/64"]
        );
        let error = toml::from_str::<Holder>("subnet = 3").err().unwrap();
        assert!(
            error.message().contains("a string or a list of strings"),
            "{error}"
        );
    }
}
