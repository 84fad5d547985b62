use std::net::SocketAddr;

use super::Exports;

/// The keys [`address_exports`] fills, for a driver's
/// [`export_keys`](crate::Driver::export_keys).
pub const ADDRESS_EXPORT_KEYS: [&str; 3] = ["host", "port", "address"];

/// What a driver bound to `address` exports so others can reach it: `host` (the IP address),
/// `port`, and `address` (`ip:port`).
///
/// # Examples
/// ```
/// use testrig::Value;
/// use testrig::context::{ADDRESS_EXPORT_KEYS, address_exports};
///
/// let exports = address_exports("127.0.0.1:4000".parse().unwrap());
/// assert_eq!(exports["port"], Value::Int(4000));
/// assert_eq!(exports["address"].to_string(), "127.0.0.1:4000");
/// assert_eq!(exports.len(), ADDRESS_EXPORT_KEYS.len());
/// assert!(ADDRESS_EXPORT_KEYS.iter().all(|key| exports.contains_key(*key)));
/// ```
pub fn address_exports(address: SocketAddr) -> Exports {
    [
        ("host".to_owned(), address.ip().into()),
        ("port".to_owned(), address.port().into()),
        ("address".to_owned(), address.into()),
    ]
    .into()
}
