//! A host taking part in a measurement.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use testrig::Host;

/// A host taking part in an [`IperfTest`](super::IperfTest): a name for messages and
/// reports, the address its iperf side uses, and where that side runs: this machine, or
/// a [`Host`] ([`Peer::on`]: a host of an emulated network, or a remote one over SSH).
/// The receiving peer's server listens on its address; the sending peer's client connects
/// to it, bound to its own address (unless that is unspecified, `0.0.0.0` or `::`).
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
#[derive(Debug, Clone)]
pub struct Peer {
    name: String,
    address: IpAddr,
    host: Option<Host>,
}

impl Peer {
    /// A peer named `name` at `address`.
    pub fn new(name: impl Into<String>, address: IpAddr) -> Self {
        Self {
            name: name.into(),
            address,
            host: None,
        }
    }

    /// `host` as a peer: its iperf side runs there (in the namespace of an emulated
    /// network's host, or on a remote host over SSH, the engine's program started through
    /// the connection), named like the host, at the host's address. (A host named `server`
    /// or `client` is refused: those are the names of the test's drivers.)
    ///
    /// ```no_run
    /// # async fn demo(a: testrig::Host, b: testrig::Host) -> Result<(), testrig_drivers::iperf::IperfError> {
    /// use testrig_drivers::iperf::{ClientOptions, IperfTest, Peer};
    ///
    /// // `a` and `b`: hosts of a started `Network`, or connected with `Host::ssh(..)`.
    /// let result = IperfTest::new(ClientOptions::new())
    ///     .upstream(&Peer::on(&a), &Peer::on(&b))
    ///     .await?;
    /// println!("{:.0} Mbit/s", result.received_bits_per_second() / 1e6);
    /// # Ok(()) }
    /// ```
    pub fn on(host: &Host) -> Self {
        Self {
            name: host.name().to_owned(),
            address: host.address(),
            host: Some(host.clone()),
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

    /// The host its iperf side runs on; `None`: this machine.
    pub(crate) fn host(&self) -> Option<&Host> {
        self.host.as_ref()
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
