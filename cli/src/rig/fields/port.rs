use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use testrig::{Param, Ref};

use super::single_reference;

/// A port: a number from 0 to 65535 or a reference such as `"${server.port}"`.
#[derive(Clone, Debug)]
pub(crate) struct PortParam(pub(crate) Param<u16>);

impl<'de> Deserialize<'de> for PortParam {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PortVisitor)
    }
}

struct PortVisitor;

impl Visitor<'_> for PortVisitor {
    type Value = PortParam;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a port number (0 to 65535) or a reference such as \"${server.port}\"")
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        u16::try_from(value)
            .map(|port| PortParam(Param::Value(port)))
            .map_err(|_| E::custom(format!("{value} is not a port number (0 to 65535)")))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        u16::try_from(value)
            .map(|port| PortParam(Param::Value(port)))
            .map_err(|_| E::custom(format!("{value} is not a port number (0 to 65535)")))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        match single_reference(text).map_err(E::custom)? {
            Some(key) => Ok(PortParam(Param::Ref(Ref::export(key.driver, key.key)))),
            None if text.trim().parse::<u16>().is_ok() => Err(E::custom(format!(
                "\"{text}\" is text; write the port without quotes: {}",
                text.trim()
            ))),
            None => Err(E::custom(format!(
                "\"{text}\" is not a port number (0 to 65535) or a reference such as \"${{server.port}}\""
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Holder {
        port: PortParam,
    }

    fn parse(value: &str) -> Result<Param<u16>, String> {
        toml::from_str::<Holder>(&format!("port = {value}"))
            .map(|h| h.port.0)
            .map_err(|e| e.message().to_owned())
    }

    #[test]
    fn a_port_is_a_number_or_a_reference() {
        assert!(matches!(parse("8080"), Ok(Param::Value(8080))));
        let reference = parse("\"${server.port}\"").unwrap();
        assert_eq!(reference.reference().unwrap().to_string(), "server.port");
    }

    #[test]
    fn out_of_range_and_quoted_ports_say_what_to_write() {
        assert_eq!(
            parse("70000").unwrap_err(),
            "70000 is not a port number (0 to 65535)"
        );
        assert_eq!(
            parse("-1").unwrap_err(),
            "-1 is not a port number (0 to 65535)"
        );
        assert_eq!(
            parse("\"8080\"").unwrap_err(),
            "\"8080\" is text; write the port without quotes: 8080"
        );
        assert!(parse("1.5").unwrap_err().contains("expected a port number"));
    }
}
