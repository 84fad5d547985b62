use std::net::SocketAddr;
use std::time::SystemTime;

use serde::Serialize;

use super::Stream;

/// How a proxied connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// Connecting to the upstream.
    Connecting,
    /// Carrying data.
    Open,
    /// Closed with a FIN (by a peer, a toxic, `disable` or stop).
    Closed,
    /// Closed with a RST (by `reset_peer`, or a peer's reset passed on).
    Reset,
    /// The upstream refused or did not answer; the client was closed.
    UpstreamFailed,
}

/// One proxied connection: its client, bytes each way and what happened to it.
#[derive(Clone, Debug, Serialize)]
pub struct ConnectionStats {
    /// The proxy's number for it, from 0 in arrival order.
    pub id: u64,
    /// The client's address.
    pub client: SocketAddr,
    /// The proxy's own address on its connection to the upstream (what the server
    /// sees as its peer), once connected.
    pub upstream_local: Option<SocketAddr>,
    /// When it was accepted.
    pub opened_at: SystemTime,
    /// When it ended, if it has.
    pub closed_at: Option<SystemTime>,
    /// Bytes delivered to the upstream (client → server).
    pub bytes_upstream: u64,
    /// Bytes delivered to the client (server → client).
    pub bytes_downstream: u64,
    /// Its state.
    pub state: ConnectionState,
    /// The toxics that applied to it (their toxicity draw came up), in order.
    pub toxics: Vec<String>,
}

/// Something that happened on a proxy, for tests and the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProxyEvent {
    /// A client connected.
    Opened {
        /// The connection.
        connection: u64,
        /// The client's address.
        client: SocketAddr,
    },
    /// A connection reached the upstream.
    UpstreamConnected {
        /// The connection.
        connection: u64,
        /// The proxy's address on it: what the upstream sees as its peer.
        local: SocketAddr,
    },
    /// A toxic applied to a connection.
    ToxicApplied {
        /// The connection.
        connection: u64,
        /// The toxic's name.
        toxic: String,
        /// Its stream.
        stream: Stream,
    },
    /// A connection closed (FIN).
    Closed {
        /// The connection.
        connection: u64,
    },
    /// A connection was reset (RST).
    Reset {
        /// The connection.
        connection: u64,
    },
    /// The upstream could not be reached for a connection.
    UpstreamFailed {
        /// The connection.
        connection: u64,
        /// Why.
        error: String,
    },
    /// The proxy was disabled: connections closed, new ones refused.
    Disabled,
    /// The proxy was enabled again.
    Enabled,
}

/// A [`ProxyEvent`] and when it happened.
#[derive(Clone, Debug, Serialize)]
pub struct TimedEvent {
    /// When.
    pub at: SystemTime,
    /// What.
    #[serde(flatten)]
    pub event: ProxyEvent,
}
