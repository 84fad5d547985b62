use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A value a driver exports to others: a port, a host, a pid, a path.
///
/// Values are small and untyped on the wire; [`FromValue`] turns them back into
/// the type a reference asks for, with an error naming what did not fit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A boolean.
    Bool(bool),
    /// An integer (ports, pids, counts).
    Int(i64),
    /// Text (hosts, addresses, paths).
    Text(String),
}

/// The values a driver exports, by key.
pub type Exports = BTreeMap<String, Value>;

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Text(t) => f.write_str(t),
        }
    }
}

macro_rules! int_value {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::Int(i64::from(v))
            }
        }
        impl FromValue for $t {
            fn from_value(value: &Value) -> Result<Self, String> {
                let int = match value {
                    Value::Int(i) => *i,
                    Value::Text(t) => t
                        .trim()
                        .parse::<i64>()
                        .map_err(|_| format!("`{t}` is not an integer"))?,
                    Value::Bool(b) => return Err(format!("`{b}` is not an integer")),
                };
                <$t>::try_from(int)
                    .map_err(|_| format!("{int} does not fit in {}", stringify!($t)))
            }
        }
    )*};
}
int_value!(u8, u16, u32, i32, i64);

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        i64::try_from(v).map_or_else(|_| Value::Text(v.to_string()), Value::Int)
    }
}

impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::from(v as u64)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<PathBuf> for Value {
    fn from(v: PathBuf) -> Self {
        Value::Text(v.to_string_lossy().into_owned())
    }
}

impl From<SocketAddr> for Value {
    fn from(v: SocketAddr) -> Self {
        Value::Text(v.to_string())
    }
}

impl From<IpAddr> for Value {
    fn from(v: IpAddr) -> Self {
        Value::Text(v.to_string())
    }
}

/// Conversion from an exported [`Value`] to the type a reference asks for.
pub trait FromValue: Sized {
    /// Converts, or says in a few words why the value does not fit.
    fn from_value(value: &Value) -> Result<Self, String>;
}

impl FromValue for Value {
    fn from_value(value: &Value) -> Result<Self, String> {
        Ok(value.clone())
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Result<Self, String> {
        Ok(value.to_string())
    }
}

impl FromValue for PathBuf {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Text(t) => Ok(PathBuf::from(t)),
            other => Err(format!("`{other}` is not a path")),
        }
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Bool(b) => Ok(*b),
            Value::Text(t) if t == "true" => Ok(true),
            Value::Text(t) if t == "false" => Ok(false),
            other => Err(format!("`{other}` is not a boolean")),
        }
    }
}

macro_rules! parsed_value {
    ($($t:ty => $what:literal),*) => {$(
        impl FromValue for $t {
            fn from_value(value: &Value) -> Result<Self, String> {
                let text = value.to_string();
                text.parse().map_err(|_| format!("`{text}` is not {}", $what))
            }
        }
    )*};
}
parsed_value!(SocketAddr => "a socket address", IpAddr => "an IP address");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_round_trips_and_a_too_large_one_is_refused() {
        assert_eq!(u16::from_value(&Value::from(8080u16)), Ok(8080));
        assert_eq!(u16::from_value(&Value::Text("80".into())), Ok(80));
        assert_eq!(
            u16::from_value(&Value::Int(70000)),
            Err("70000 does not fit in u16".into())
        );
    }

    #[test]
    fn values_serialize_untagged() {
        let exports: Exports = [("port".to_owned(), Value::from(80u16))].into();
        assert_eq!(serde_json::to_string(&exports).unwrap(), r#"{"port":80}"#);
    }
}
