use serde::{Deserialize, Serialize};

/// An endpoint a driver listens on or connects to, shown in reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionInfo {
    /// Listening or connecting.
    pub direction: Direction,
    /// The protocol ("tcp", "udp").
    pub protocol: String,
    /// The address, e.g. `127.0.0.1:4000`.
    pub address: String,
}

/// Which way a connection goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The driver accepts connections here.
    Listening,
    /// The driver connects to this address.
    Connecting,
}

impl ConnectionInfo {
    /// A listening endpoint.
    pub fn listening(protocol: &str, address: impl ToString) -> Self {
        Self {
            direction: Direction::Listening,
            protocol: protocol.to_owned(),
            address: address.to_string(),
        }
    }

    /// A connecting endpoint.
    pub fn connecting(protocol: &str, address: impl ToString) -> Self {
        Self {
            direction: Direction::Connecting,
            protocol: protocol.to_owned(),
            address: address.to_string(),
        }
    }
}
