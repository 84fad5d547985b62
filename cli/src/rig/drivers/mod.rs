//! The kinds of driver a rig can declare.
//!
//! Each kind is a struct of its options in its own file (serde,
//! `deny_unknown_fields`) that builds a [`DriverSpec`]. Adding a kind is that
//! file, a variant of [`DriverOptions`] and one arm in each of its matches.

mod app;
mod invalid_option;
mod iperf_client;
mod iperf_engine;
mod iperf_server;
mod reconnect;
mod socket;
mod tcp_client;
mod tcp_server;

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use testrig::DriverSpec;
use toml::de::ValueDeserializer;

pub(crate) use app::AppOptions;
pub(crate) use invalid_option::InvalidOption;
pub(crate) use iperf_client::IperfClientOptions;
pub(crate) use iperf_server::IperfServerOptions;
pub(crate) use reconnect::ReconnectOptions;
pub(crate) use tcp_client::TcpClientOptions;
pub(crate) use tcp_server::TcpServerOptions;

/// The options of one `[[driver]]`, by kind.
#[derive(Debug, Clone)]
pub(crate) enum DriverOptions {
    /// `kind = "tcp_server"`
    TcpServer(TcpServerOptions),
    /// `kind = "tcp_client"`
    TcpClient(TcpClientOptions),
    /// `kind = "iperf_server"`
    IperfServer(IperfServerOptions),
    /// `kind = "iperf_client"`
    /// (Boxed: it has many optional keys.)
    IperfClient(Box<IperfClientOptions>),
    /// `kind = "app"`
    App(AppOptions),
}

impl DriverOptions {
    /// Every kind a rig can use, as written in `kind = "..."`.
    pub(crate) const KINDS: &[&str] = &[
        "tcp_server",
        "tcp_client",
        "app",
        "iperf_server",
        "iperf_client",
    ];

    /// Kinds documented but not available in this build yet.
    pub(crate) const COMING: &[&str] = &[];

    /// Reads the options of a driver of `kind` (the table without the keys every
    /// driver has); `None` when no such kind exists.
    pub(crate) fn deserialize(
        kind: &str,
        table: ValueDeserializer<'_>,
    ) -> Option<Result<Self, toml::de::Error>> {
        Some(match kind {
            "tcp_server" => TcpServerOptions::deserialize(table).map(Self::TcpServer),
            "tcp_client" => TcpClientOptions::deserialize(table).map(Self::TcpClient),
            "iperf_server" => IperfServerOptions::deserialize(table).map(Self::IperfServer),
            "iperf_client" => IperfClientOptions::deserialize(table)
                .map(|options| Self::IperfClient(Box::new(options))),
            "app" => AppOptions::deserialize(table).map(Self::App),
            _ => return None,
        })
    }

    /// The kind, as written in the rig file.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::TcpServer(_) => "tcp_server",
            Self::TcpClient(_) => "tcp_client",
            Self::IperfServer(_) => "iperf_server",
            Self::IperfClient(_) => "iperf_client",
            Self::App(_) => "app",
        }
    }

    /// The driver, ready to add to an environment. `stop_timeout` is the rig's
    /// key every driver has, for kinds whose driver has a stop deadline of its
    /// own (an app's delay before `SIGKILL`); `rig_dir` is the directory of the
    /// rig file, from which relative paths are taken.
    pub(crate) fn spec(
        &self,
        name: &str,
        stop_timeout: Option<Duration>,
        rig_dir: &Path,
    ) -> Result<DriverSpec, InvalidOption> {
        match self {
            Self::TcpServer(options) => options.spec(name),
            Self::TcpClient(options) => options.spec(name),
            Self::IperfServer(options) => options.spec(name, rig_dir),
            Self::IperfClient(options) => options.spec(name, rig_dir),
            Self::App(options) => options.spec(name, stop_timeout, rig_dir),
        }
    }

    /// The engine's stop deadline for the rig's `stop_timeout`: the same, except
    /// for kinds that enforce it themselves and need time after it to kill.
    /// Saturating: the loader bounds durations, but a deadline must never panic.
    pub(crate) fn stop_deadline(&self, stop_timeout: Duration) -> Duration {
        match self {
            Self::App(_) => stop_timeout.saturating_add(app::KILL_GRACE),
            _ => stop_timeout,
        }
    }
}
