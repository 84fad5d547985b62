//! The kinds a test comes in: transport, direction, address family and length. Shared by
//! the client configuration, the engine and the typed results.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The transport the data streams use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    /// TCP streams (iperf3's default).
    #[default]
    Tcp,
    /// UDP streams with a target bitrate (`-u`).
    Udp,
}

/// Which way data flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The client sends, the server receives (iperf3's default).
    #[default]
    Forward,
    /// The server sends, the client receives (`-R`).
    Reverse,
    /// Both send at once on separate streams (`--bidir`).
    Bidirectional,
}

/// Which IP version the client connects with (`-4`, `-6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AddressFamily {
    /// Whichever the host name resolves to first (iperf3's default).
    #[default]
    Any,
    /// IPv4 only (`-4`).
    V4,
    /// IPv6 only (`-6`).
    V6,
}

/// When a test ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TestLength {
    /// After this long (`-t`); iperf3's default is 10 s.
    Duration(Duration),
    /// After this many bytes in total (`-n`).
    Bytes(u64),
    /// After this many blocks in total (`-k`).
    Blocks(u64),
    /// When it is interrupted (`-t 0`).
    UntilInterrupted,
}

impl Default for TestLength {
    fn default() -> Self {
        Self::Duration(Duration::from_secs(10))
    }
}
