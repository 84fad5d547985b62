//! The kinds of driver a rig can declare.
//!
//! Each kind is a struct of its options in its own file (serde,
//! `deny_unknown_fields`) that implements [`DriverKind`] to build a
//! `DriverSpec`. Adding a kind is that file and one row of [`KINDS`].

mod app;
mod driver_kind;
mod endpoint;
mod fault_proxy;
mod invalid_option;
mod iperf_client;
mod iperf_engine;
mod iperf_server;
mod reconnect;
mod socket;
mod tcp_client;
mod tcp_server;

use serde::de::DeserializeOwned;
use toml::de::ValueDeserializer;

pub(crate) use app::AppOptions;
pub(crate) use driver_kind::DriverKind;
pub(crate) use fault_proxy::FaultProxyOptions;
pub(crate) use invalid_option::InvalidOption;
pub(crate) use iperf_client::IperfClientOptions;
pub(crate) use iperf_server::IperfServerOptions;
pub(crate) use reconnect::ReconnectOptions;
pub(crate) use tcp_client::TcpClientOptions;
pub(crate) use tcp_server::TcpServerOptions;

use super::kinds::{Declared, Kind};

/// Every kind a rig can use, in the order messages list them.
pub(crate) const KINDS: &[Kind<dyn DriverKind>] = &[
    Kind::new("tcp_server", read::<TcpServerOptions>),
    Kind::new("tcp_client", read::<TcpClientOptions>),
    Kind::new("app", read::<AppOptions>),
    Kind::new("iperf_server", read::<IperfServerOptions>),
    Kind::new("iperf_client", read::<IperfClientOptions>),
    Kind::new("fault_proxy", read::<FaultProxyOptions>),
];

/// Kinds documented but not available in this build yet.
pub(crate) const COMING: &[&str] = &[];

/// The options of one `[[driver]]`, with its kind.
pub(crate) type DriverOptions = Declared<dyn DriverKind>;

/// Reads the own keys of a driver of kind `O`: each row's reader.
fn read<O: DriverKind + DeserializeOwned + 'static>(
    table: ValueDeserializer<'_>,
) -> Result<Box<dyn DriverKind>, toml::de::Error> {
    Ok(Box::new(O::deserialize(table)?))
}
