use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use testrig::Template;

/// Text with `${driver.key}` placeholders, filled in when a step runs.
#[derive(Clone, Debug)]
pub(crate) struct TemplateText(pub(crate) Template);

impl<'de> Deserialize<'de> for TemplateText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TemplateVisitor)
    }
}

struct TemplateVisitor;

impl Visitor<'_> for TemplateVisitor {
    type Value = TemplateText;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("text (it may hold references such as \"${server.port}\")")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Template::parse(text).map(TemplateText).map_err(E::custom)
    }
}
