use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use testrig::{Param, Ref, Template, ValueTable};

use super::single_reference;

/// Text or one reference, e.g. a host: `"127.0.0.1"` or `"${server.host}"`.
/// `$$` stands for a literal `$`.
#[derive(Clone, Debug)]
pub(crate) struct TextParam(pub(crate) Param<String>);

impl<'de> Deserialize<'de> for TextParam {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TextVisitor)
    }
}

struct TextVisitor;

impl Visitor<'_> for TextVisitor {
    type Value = TextParam;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("text or a reference such as \"${server.host}\"")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        match single_reference(text).map_err(E::custom)? {
            Some(key) => Ok(TextParam(Param::Ref(Ref::export(key.driver, key.key)))),
            None => {
                // Plain text, with `$$` turned into `$`.
                let template = Template::parse(text).map_err(E::custom)?;
                let literal = template.render(&ValueTable::new()).map_err(E::custom)?;
                Ok(TextParam(Param::Value(literal)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Holder {
        host: TextParam,
    }

    #[test]
    fn text_is_literal_with_dollars_unescaped_and_a_reference_is_a_reference() {
        let literal: Holder = toml::from_str("host = 'a$$b'").unwrap();
        assert!(matches!(literal.host.0, Param::Value(ref v) if v == "a$b"));
        let reference: Holder = toml::from_str("host = '${server.host}'").unwrap();
        assert_eq!(
            reference.host.0.reference().unwrap().to_string(),
            "server.host"
        );
        let number = toml::from_str::<Holder>("host = 3").err().unwrap();
        assert!(number.message().contains("expected text or a reference"));
    }
}
