use serde::Serialize;

/// A proxy's totals: connections and how they ended, bytes each way, toxics
/// applied. A driver's add up over all its runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ProxyCounters {
    /// Connections accepted.
    pub connections_opened: u64,
    /// Connections closed with a FIN.
    pub connections_closed: u64,
    /// Connections reset (RST).
    pub connections_reset: u64,
    /// Connections whose upstream could not be reached.
    pub upstream_failures: u64,
    /// Bytes delivered to the upstream (client → server).
    pub bytes_upstream: u64,
    /// Bytes delivered to the clients (server → client).
    pub bytes_downstream: u64,
    /// Toxics applied to a connection (each toxicity draw that came up).
    pub toxics_applied: u64,
}

impl ProxyCounters {
    /// Each counter by its name, in the order above.
    pub fn entries(&self) -> [(&'static str, u64); 7] {
        [
            ("connections_opened", self.connections_opened),
            ("connections_closed", self.connections_closed),
            ("connections_reset", self.connections_reset),
            ("upstream_failures", self.upstream_failures),
            ("bytes_upstream", self.bytes_upstream),
            ("bytes_downstream", self.bytes_downstream),
            ("toxics_applied", self.toxics_applied),
        ]
    }
}

impl std::ops::Add for ProxyCounters {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            connections_opened: self.connections_opened + other.connections_opened,
            connections_closed: self.connections_closed + other.connections_closed,
            connections_reset: self.connections_reset + other.connections_reset,
            upstream_failures: self.upstream_failures + other.upstream_failures,
            bytes_upstream: self.bytes_upstream + other.bytes_upstream,
            bytes_downstream: self.bytes_downstream + other.bytes_downstream,
            toxics_applied: self.toxics_applied + other.toxics_applied,
        }
    }
}
