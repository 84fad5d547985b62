use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::{Exports, Param, Ref, RefKey};

/// Where a driver listens or connects: a host and a port, each a value or a reference to
/// another driver's export.
///
/// A server driver binds its endpoint (by default its own host's address, port 0: the kernel
/// picks) and exports `host`, `port` and `address` ([`Endpoint::EXPORT_KEYS`]); a client
/// driver takes the endpoint to connect to, often [`Endpoint::of`] a server.
///
/// An endpoint made from a port alone ([`Default`], `From<u16>`, `From<Ref<u16>>`) means
/// that port on the driver's own host: `127.0.0.1` on this machine
/// ([`Host::local`](crate::Host::local)), the host's `address` on a host of an emulated
/// network ([`Host::address`](crate::Host::address)); never all interfaces unless asked
/// (`Endpoint::new("0.0.0.0", port)`).
///
/// # Examples
/// ```
/// use testrig::{Endpoint, Ref};
///
/// let fixed = Endpoint::from(8080); // 127.0.0.1:8080
/// assert!(fixed.references().is_empty());
///
/// // The host and port `server` exports, resolved when the driver holding it starts.
/// let wired = Endpoint::of("server");
/// let keys: Vec<String> = wired.references().iter().map(ToString::to_string).collect();
/// assert_eq!(keys, ["server.host", "server.port"]);
///
/// // Any mix: a given host, a port from another driver.
/// let mixed = Endpoint::new("::1", Ref::export("server", "port"));
/// assert_eq!(mixed.references().len(), 1);
///
/// let exports = Endpoint::exports("127.0.0.1:4000".parse().unwrap());
/// assert_eq!(exports["address"].to_string(), "127.0.0.1:4000");
/// assert_eq!(exports.len(), Endpoint::EXPORT_KEYS.len());
/// ```
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub(crate) host: Param<String>,
    pub(crate) port: Param<u16>,
    /// No host was given: the driver's own host's address.
    pub(crate) own_host: bool,
}

impl Endpoint {
    /// What a driver bound to an endpoint exports ([`Endpoint::exports`]): `host` (the IP
    /// address), `port`, and `address` (`ip:port`).
    pub const EXPORT_KEYS: [&str; 3] = ["host", "port", "address"];

    /// `host:port`; each may be a value or a [`Ref`].
    pub fn new(host: impl Into<Param<String>>, port: impl Into<Param<u16>>) -> Self {
        Self {
            host: host.into(),
            port: port.into(),
            own_host: false,
        }
    }

    /// The `host` and `port` that `driver` exports (a `TcpServer`, an `IperfServer`, or any
    /// driver exporting [`Endpoint::EXPORT_KEYS`]).
    pub fn of(driver: &str) -> Self {
        Self::new(Ref::export(driver, "host"), Ref::export(driver, "port"))
    }

    /// `port` on the driver's own host.
    fn own_host(port: impl Into<Param<u16>>) -> Self {
        Self {
            own_host: true,
            ..Self::new(Ipv4Addr::LOCALHOST.to_string(), port)
        }
    }

    /// The references this endpoint makes, for [`Driver::references`](crate::Driver::references).
    pub fn references(&self) -> Vec<RefKey> {
        [self.host.references(), self.port.references()].concat()
    }

    /// What a driver bound to `address` exports under [`Endpoint::EXPORT_KEYS`].
    pub fn exports(address: SocketAddr) -> Exports {
        [
            ("host".to_owned(), address.ip().into()),
            ("port".to_owned(), address.port().into()),
            ("address".to_owned(), address.into()),
        ]
        .into()
    }
}

/// Port 0 (the kernel picks) on the driver's own host: `127.0.0.1` on this machine, never
/// all interfaces unless asked.
impl Default for Endpoint {
    fn default() -> Self {
        Self::from(0)
    }
}

/// This port on the driver's own host (`127.0.0.1` on this machine).
impl From<u16> for Endpoint {
    fn from(port: u16) -> Self {
        Self::own_host(port)
    }
}

/// The port a driver exports, e.g. `Ref::export("server", "port")`, on the driver's own
/// host.
impl From<Ref<u16>> for Endpoint {
    fn from(port: Ref<u16>) -> Self {
        Self::own_host(port)
    }
}

/// This port, given or a reference, on the driver's own host.
impl From<Param<u16>> for Endpoint {
    fn from(port: Param<u16>) -> Self {
        Self::own_host(port)
    }
}

impl From<SocketAddr> for Endpoint {
    fn from(address: SocketAddr) -> Self {
        Self::new(address.ip().to_string(), address.port())
    }
}

impl From<(IpAddr, u16)> for Endpoint {
    fn from((ip, port): (IpAddr, u16)) -> Self {
        Self::new(ip.to_string(), port)
    }
}

impl From<(&str, u16)> for Endpoint {
    fn from((host, port): (&str, u16)) -> Self {
        Self::new(host, port)
    }
}
