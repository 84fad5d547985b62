use serde::{Deserialize, Serialize};

/// An endpoint a driver listens on or connects to, shown in reports.
///
/// In a report's JSON: `{"direction": "listening", "protocol": "tcp", "address": "127.0.0.1:4000"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "direction", rename_all = "snake_case")]
pub enum ConnectionInfo {
    /// The driver accepts connections here.
    Listening {
        /// The protocol ("tcp", "udp").
        protocol: String,
        /// The address, e.g. `127.0.0.1:4000`.
        address: String,
    },
    /// The driver connects to this address.
    Connecting {
        /// The protocol ("tcp", "udp").
        protocol: String,
        /// The address, e.g. `127.0.0.1:4000`.
        address: String,
    },
}

impl ConnectionInfo {
    /// A listening endpoint.
    pub fn listening(protocol: &str, address: impl ToString) -> Self {
        Self::Listening {
            protocol: protocol.to_owned(),
            address: address.to_string(),
        }
    }

    /// A connecting endpoint.
    pub fn connecting(protocol: &str, address: impl ToString) -> Self {
        Self::Connecting {
            protocol: protocol.to_owned(),
            address: address.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_json_names_the_direction_then_protocol_and_address() {
        let listening = ConnectionInfo::listening("tcp", "127.0.0.1:4000");
        let json = serde_json::to_string(&listening).unwrap();
        assert_eq!(
            json,
            r#"{"direction":"listening","protocol":"tcp","address":"127.0.0.1:4000"}"#
        );
        assert_eq!(
            serde_json::from_str::<ConnectionInfo>(&json).unwrap(),
            listening
        );

        let connecting = ConnectionInfo::connecting("udp", "10.0.0.1:53");
        let json = serde_json::to_string(&connecting).unwrap();
        assert_eq!(
            json,
            r#"{"direction":"connecting","protocol":"udp","address":"10.0.0.1:53"}"#
        );
        assert_eq!(
            serde_json::from_str::<ConnectionInfo>(&json).unwrap(),
            connecting
        );
    }
}
