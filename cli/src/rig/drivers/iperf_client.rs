use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use testrig::{DriverSpec, Param};
use testrig_drivers::iperf::{
    AddressFamily, ClientOptions, IperfClient, IperfError, StreamOptions,
};

use super::endpoint::endpoint;
use super::iperf_engine::{EngineName, engine};
use super::{DriverKind, InvalidOption};
use crate::rig::fields::{PortParam, Program, RigBitrate, RigDuration, RigSize, TextParam};

/// `kind = "iperf_client"`: an [`IperfClient`], measuring on each `iperf` step. Exports
/// `host` and `port` (the target).
///
/// ```toml
/// [[driver]]
/// name = "iperf-client"
/// kind = "iperf_client"
/// port = "${iperf-server.port}"   # required: a number or a reference
/// duration = "1s"                 # or bytes = "10M", or blocks = 100
/// parallel = 2
/// congestion = "reno"             # and window, no_delay, mss, tos/dscp, fq_rate, …
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IperfClientOptions {
    host: Option<TextParam>,
    port: PortParam,
    engine: Option<EngineName>,
    iperf3_program: Option<Program>,
    duration: Option<RigDuration>,
    bytes: Option<RigSize>,
    blocks: Option<u64>,
    parallel: Option<u32>,
    reverse: Option<bool>,
    bidir: Option<bool>,
    udp: Option<bool>,
    bitrate: Option<RigBitrate>,
    block_size: Option<RigSize>,
    omit: Option<RigDuration>,
    interval: Option<RigDuration>,
    bind: Option<String>,
    connect_timeout: Option<RigDuration>,
    get_server_output: Option<bool>,
    window: Option<RigSize>,
    no_delay: Option<bool>,
    mss: Option<u32>,
    congestion: Option<String>,
    tos: Option<i64>,
    dscp: Option<String>,
    fq_rate: Option<RigBitrate>,
    pacing_timer: Option<RigDuration>,
    send_timeout: Option<RigDuration>,
    receive_timeout: Option<RigDuration>,
    burst: Option<u32>,
    repeating_payload: Option<bool>,
    dont_fragment: Option<bool>,
    ip_version: Option<u8>,
    client_port: Option<u16>,
    extra_data: Option<String>,
    title: Option<String>,
    udp_counters_64bit: Option<bool>,
    bind_device: Option<String>,
}

impl IperfClientOptions {
    pub(crate) fn spec(&self, name: &str, rig_dir: &Path) -> Result<DriverSpec, InvalidOption> {
        if matches!(self.port.0, Param::Value(0)) {
            return Err(InvalidOption::new(
                "port",
                "a client needs the server's port, not 0",
            ));
        }
        let options = self.options()?;
        options.check().map_err(|error| match error {
            IperfError::InvalidConfig {
                field,
                value,
                reason,
                ..
            } => {
                // The rig key of each option the engine checks.
                let key = match field {
                    "timeout" => "connect_timeout",
                    other => other,
                };
                InvalidOption::new(key, format!("{value} is refused: {reason}"))
            }
            other => InvalidOption::new("kind", other.to_string()),
        })?;
        let client = IperfClient::new(name, endpoint(self.host.as_ref(), Some(&self.port)))
            .engine(engine(self.engine, self.iperf3_program.as_ref(), rig_dir)?)
            .options(options);
        Ok(DriverSpec::new(client))
    }

    fn options(&self) -> Result<ClientOptions, InvalidOption> {
        let mut options = ClientOptions::new();
        options = match (self.duration, self.bytes, self.blocks) {
            (None, None, None) => options,
            (Some(duration), None, None) => options.duration(duration.0),
            (None, Some(bytes), None) => options.bytes(bytes.0),
            (None, None, Some(blocks)) => options.blocks(blocks),
            _ => {
                let second = if self.duration.is_some() && self.bytes.is_some() {
                    "bytes"
                } else {
                    "blocks"
                };
                return Err(InvalidOption::new(
                    second,
                    "give one of `duration`, `bytes` and `blocks`: a test ends on one of them",
                ));
            }
        };
        match (self.reverse.unwrap_or(false), self.bidir.unwrap_or(false)) {
            (true, true) => {
                return Err(InvalidOption::new(
                    "bidir",
                    "`reverse` and `bidir` exclude each other: with `bidir` both sides send",
                ));
            }
            (true, false) => options = options.reverse(),
            (false, true) => options = options.bidirectional(),
            (false, false) => {}
        }
        if self.udp.unwrap_or(false) {
            options = options.udp();
        }
        if let Some(streams) = self.parallel {
            options = options.parallel(streams);
        }
        if let Some(rate) = self.bitrate {
            options = options.bitrate(rate.0);
        }
        if let Some(size) = self.block_size {
            let size = u32::try_from(size.0).map_err(|_| {
                InvalidOption::new("block_size", format!("{} bytes is too large", size.0))
            })?;
            options = options.block_size(size);
        }
        if let Some(omit) = self.omit {
            options = options.omit(omit.0);
        }
        if let Some(interval) = self.interval {
            options = options.interval((interval.0 > Duration::ZERO).then_some(interval.0));
        }
        if let Some(timeout) = self.connect_timeout {
            options = options.connect_timeout(timeout.0);
        }
        if let Some(enabled) = self.get_server_output {
            options = options.get_server_output(enabled);
        }
        if let Some(bind) = &self.bind {
            let address: IpAddr = bind.parse().map_err(|_| {
                InvalidOption::new(
                    "bind",
                    format!("\"{bind}\" is not a local IP address, such as \"127.0.0.1\""),
                )
            })?;
            options = options.bind(address);
        }
        options = options.stream_options(self.stream_options()?);
        match self.ip_version {
            None => {}
            Some(4) => options = options.family(AddressFamily::V4),
            Some(6) => options = options.family(AddressFamily::V6),
            Some(other) => {
                return Err(InvalidOption::new(
                    "ip_version",
                    format!("{other} is refused: 4 (IPv4 only, `-4`) or 6 (IPv6 only, `-6`)"),
                ));
            }
        }
        if let Some(port) = self.client_port {
            options = options.client_port(port);
        }
        if let Some(title) = &self.title {
            options = options.title(title.clone());
        }
        if let Some(text) = &self.extra_data {
            options = options.extra_data(text.clone());
        }
        if let Some(enabled) = self.udp_counters_64bit {
            options = options.udp_counters_64bit(enabled);
        }
        if let Some(device) = &self.bind_device {
            options = options.bind_device(device.clone());
        }
        Ok(options)
    }

    /// The data streams' options (`-w -N -M -C -S/--dscp --fq-rate --pacing-timer
    /// -b rate/burst --repeating-payload --dont-fragment`).
    fn stream_options(&self) -> Result<StreamOptions, InvalidOption> {
        let mut o = StreamOptions::new();
        if let Some(window) = self.window {
            o = o.window(window.0);
        }
        if let Some(enabled) = self.no_delay {
            o = o.no_delay(enabled);
        }
        if let Some(mss) = self.mss {
            o = o.mss(mss);
        }
        if let Some(algorithm) = &self.congestion {
            o = o.congestion(algorithm.clone());
        }
        let tos = match (self.tos, &self.dscp) {
            (Some(_), Some(_)) => {
                return Err(InvalidOption::new(
                    "dscp",
                    "`tos` and `dscp` both set the TOS byte: give one",
                ));
            }
            (Some(tos), None) => Some(u8::try_from(tos).map_err(|_| {
                InvalidOption::new(
                    "tos",
                    format!("{tos} is refused: bad TOS value (must be between 0 and 255 inclusive)"),
                )
            })?),
            (None, Some(dscp)) => Some(StreamOptions::dscp_tos(dscp).ok_or_else(|| {
                InvalidOption::new(
                    "dscp",
                    format!("\"{dscp}\" is refused: a DSCP 0-63 or a name such as \"af11\", \"ef\", \"cs1\""),
                )
            })?),
            (None, None) => None,
        };
        if let Some(tos) = tos {
            o = o.tos(tos);
        }
        if let Some(rate) = self.fq_rate {
            o = o.fq_rate(rate.0);
        }
        if let Some(tick) = self.pacing_timer {
            o = o.pacing_timer(tick.0);
        }
        if let Some(timeout) = self.send_timeout {
            o = o.send_timeout(timeout.0);
        }
        if let Some(timeout) = self.receive_timeout {
            o = o.receive_timeout(timeout.0);
        }
        if let Some(burst) = self.burst {
            o = o.burst(burst);
        }
        if let Some(enabled) = self.repeating_payload {
            o = o.repeating_payload(enabled);
        }
        if let Some(enabled) = self.dont_fragment {
            o = o.dont_fragment(enabled);
        }
        Ok(o)
    }
}

impl DriverKind for IperfClientOptions {
    fn spec(
        &self,
        name: &str,
        _stop_timeout: Option<Duration>,
        rig_dir: &Path,
    ) -> Result<DriverSpec, InvalidOption> {
        Self::spec(self, name, rig_dir)
    }
}
