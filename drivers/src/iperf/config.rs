//! A client's checked configuration: the target and the [`ClientOptions`], every value
//! validated, as the engines read it.

use std::net::IpAddr;
use std::time::Duration;

use super::client_options::ClientOptions;
use super::error::IperfError;
use super::kinds::{AddressFamily, Direction, Protocol, TestLength};
use super::protocol::DEFAULT_UDP_RATE;
use super::stream_options::StreamOptions;

/// iperf3's default port.
pub const DEFAULT_PORT: u16 = 5201;

/// A validated client test configuration: a target and its checked options.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClientConfig {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) bind: Option<IpAddr>,
    pub(crate) protocol: Protocol,
    pub(crate) direction: Direction,
    pub(crate) streams: u32,
    pub(crate) length: TestLength,
    pub(crate) block_size: Option<u32>,
    pub(crate) bitrate: Option<u64>,
    pub(crate) omit: Duration,
    pub(crate) interval: Option<Duration>,
    pub(crate) connect_timeout: Duration,
    pub(crate) phase_timeout: Duration,
    pub(crate) max_open_ended: Duration,
    pub(crate) udp_counters_64bit: bool,
    pub(crate) zero_copy: bool,
    pub(crate) get_server_output: bool,
    /// Boxed: it is large and rarely set, and a config travels by value.
    pub(crate) stream_options: Box<StreamOptions>,
    pub(crate) family: AddressFamily,
    pub(crate) client_port: Option<u16>,
    pub(crate) extra_data: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) bind_device: Option<String>,
}

impl ClientConfig {
    /// The configuration for a test against `host:port` with `options`, every value
    /// checked.
    pub(crate) fn new(
        host: impl Into<String>,
        port: u16,
        options: &ClientOptions,
    ) -> Result<Self, IperfError> {
        let host = host.into();
        if host.trim().is_empty() {
            return Err(IperfError::invalid("host", &host, "must not be empty"));
        }
        if port == 0 {
            return Err(IperfError::invalid("port", port, "must be 1 to 65535"));
        }
        options.check()?;
        let o = options.clone();
        Ok(Self {
            host,
            port,
            bind: o.bind,
            protocol: o.protocol,
            direction: o.direction,
            streams: o.streams,
            length: o.length,
            block_size: o.block_size,
            bitrate: o.bitrate,
            omit: o.omit,
            interval: o.interval,
            connect_timeout: o.connect_timeout,
            phase_timeout: o.phase_timeout,
            max_open_ended: o.max_open_ended,
            udp_counters_64bit: o.udp_counters_64bit,
            zero_copy: o.zero_copy,
            get_server_output: o.get_server_output,
            stream_options: o.stream_options,
            family: o.family,
            client_port: o.client_port,
            extra_data: o.extra_data,
            title: o.title,
            bind_device: o.bind_device,
        })
    }

    /// The server host as given.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// The server port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// TCP or UDP.
    pub(crate) fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The target bitrate in bits/s per stream, if any (UDP defaults to 1 Mbit/s).
    pub(crate) fn bitrate(&self) -> Option<u64> {
        match (self.bitrate, self.protocol) {
            (Some(0), _) => None,
            (Some(rate), _) => Some(rate),
            (None, Protocol::Udp) => Some(DEFAULT_UDP_RATE),
            (None, Protocol::Tcp) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_iperf3_defaults() {
        let c = ClientConfig::new("h", DEFAULT_PORT, &ClientOptions::new()).unwrap();
        assert_eq!(c.protocol(), Protocol::Tcp);
        assert_eq!(c.direction, Direction::Forward);
        assert_eq!(c.streams, 1);
        assert_eq!(c.length, TestLength::Duration(Duration::from_secs(10)));
        assert_eq!(c.interval, Some(Duration::from_secs(1)));
        assert_eq!(c.bitrate(), None);
    }

    #[test]
    fn udp_defaults_to_one_megabit_like_iperf3() {
        let c = ClientConfig::new("h", 1, &ClientOptions::new().udp()).unwrap();
        assert_eq!(c.bitrate(), Some(1024 * 1024));
    }

    #[test]
    fn out_of_range_values_are_refused_naming_the_field() {
        let cases = [
            (("h", 1, ClientOptions::new().parallel(0)), "parallel"),
            (("h", 1, ClientOptions::new().parallel(129)), "parallel"),
            (("h", 1, ClientOptions::new().bytes(0)), "bytes"),
            (
                ("h", 1, ClientOptions::new().duration(Duration::ZERO)),
                "duration",
            ),
            (
                ("h", 1, ClientOptions::new().block_size(2 << 20)),
                "block_size",
            ),
            (
                ("h", 1, ClientOptions::new().udp().block_size(8)),
                "block_size",
            ),
            (
                (
                    "h",
                    1,
                    ClientOptions::new().interval(Some(Duration::from_millis(10))),
                ),
                "interval",
            ),
            (("", 1, ClientOptions::new()), "host"),
            (("h", 0, ClientOptions::new()), "port"),
        ];
        for ((host, port, options), field) in cases {
            match ClientConfig::new(host, port, &options) {
                Err(IperfError::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: expected InvalidConfig, got {other:?}"),
            }
        }
    }
}
