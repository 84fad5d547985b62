//! Sizes and bitrates with iperf3's suffixes: a number, or text such as `"10M"`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use testrig_drivers::iperf::units::{parse_bitrate, parse_size};

/// A byte count: a number, or text with a binary suffix (`"128K"`, `"10M"`, `"1G"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RigSize(pub(crate) u64);

/// A bitrate in bits/s: a number, or text with a decimal suffix (`"100M"`, `"1.5G"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RigBitrate(pub(crate) u64);

/// How one of the quantities reads its text.
trait Unit: From<u64> {
    const WHAT: &'static str;
    const EXAMPLES: &'static str;
    fn parse(text: &str) -> Option<u64>;
}

impl From<u64> for RigSize {
    fn from(value: u64) -> Self {
        Self(value)
    }
}

impl From<u64> for RigBitrate {
    fn from(value: u64) -> Self {
        Self(value)
    }
}

impl Unit for RigSize {
    const WHAT: &'static str = "a size in bytes";
    const EXAMPLES: &'static str = "\"128K\", \"10M\" (powers of 1024)";
    fn parse(text: &str) -> Option<u64> {
        parse_size(text)
    }
}

impl Unit for RigBitrate {
    const WHAT: &'static str = "a bitrate in bits/s";
    const EXAMPLES: &'static str = "\"100M\", \"1.5G\" (powers of 1000)";
    fn parse(text: &str) -> Option<u64> {
        parse_bitrate(text)
    }
}

impl<'de> Deserialize<'de> for RigSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(QuantityVisitor(PhantomData))
    }
}

impl<'de> Deserialize<'de> for RigBitrate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(QuantityVisitor(PhantomData))
    }
}

struct QuantityVisitor<T>(PhantomData<T>);

impl<T: Unit> Visitor<'_> for QuantityVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: a number or text such as {}", T::WHAT, T::EXAMPLES)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<T, E> {
        u64::try_from(value)
            .map(T::from)
            .map_err(|_| E::custom(format!("{} cannot be negative, got {value}", T::WHAT)))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<T, E> {
        Ok(T::from(value))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        T::parse(text).map(T::from).ok_or_else(|| {
            E::custom(format!(
                "\"{text}\" is not {}; write a number or text such as {}",
                T::WHAT,
                T::EXAMPLES
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Holder {
        size: Option<RigSize>,
        rate: Option<RigBitrate>,
    }

    fn parse(text: &str) -> Result<Holder, String> {
        toml::from_str::<Holder>(text).map_err(|e| e.message().to_owned())
    }

    #[test]
    fn sizes_are_binary_and_bitrates_decimal() {
        let h = parse("size = \"10M\"\nrate = \"100M\"").unwrap();
        assert_eq!(h.size, Some(RigSize(10 << 20)));
        assert_eq!(h.rate, Some(RigBitrate(100_000_000)));
        assert_eq!(parse("size = 4096").unwrap().size, Some(RigSize(4096)));
    }

    #[test]
    fn bad_text_says_what_to_write() {
        let error = parse("rate = \"fast\"").err().unwrap();
        assert!(
            error.contains("\"fast\" is not a bitrate in bits/s"),
            "{error}"
        );
        let error = parse("size = -1").err().unwrap();
        assert!(error.contains("cannot be negative"), "{error}");
    }
}
