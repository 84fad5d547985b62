//! A host taking part in a measurement.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

/// A host taking part in an [`IperfTest`](super::IperfTest): a name for messages and
/// reports, and the address its iperf side uses. The receiving peer's server listens on
/// its address; the sending peer's client connects to it, bound to its own address
/// (unless that is unspecified, `0.0.0.0` or `::`).
///
/// # Examples
///
/// ```
/// use testrig_drivers::iperf::Peer;
///
/// let dut = Peer::new("dut", "127.0.0.1".parse().unwrap());
/// assert_eq!(dut.to_string(), "dut (127.0.0.1)");
/// assert_eq!(Peer::loopback("peer").to_string(), "peer (127.0.0.1)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    name: String,
    address: IpAddr,
}

impl Peer {
    /// A peer named `name` at `address`.
    pub fn new(name: impl Into<String>, address: IpAddr) -> Self {
        Self {
            name: name.into(),
            address,
        }
    }

    /// A peer on this host's loopback, `127.0.0.1`.
    pub fn loopback(name: impl Into<String>) -> Self {
        Self::new(name, IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    /// Its name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Its address.
    pub(crate) fn address(&self) -> IpAddr {
        self.address
    }

    /// The address a client on this peer binds, if any.
    pub(crate) fn bind_address(&self) -> Option<IpAddr> {
        (!self.address.is_unspecified()).then_some(self.address)
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.address)
    }
}
