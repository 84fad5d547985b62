//! A client's checked configuration: the target and the [`ClientOptions`], every value
//! validated, as the engines read it.

use super::client_options::ClientOptions;
use super::error::IperfError;
use super::kinds::Protocol;
use super::protocol::DEFAULT_UDP_RATE;

/// iperf3's default port.
pub const DEFAULT_PORT: u16 = 5201;

/// A validated client test configuration: a target and its checked options.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClientConfig {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Checked by [`ClientConfig::new`].
    pub(crate) options: ClientOptions,
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
        Ok(Self {
            host,
            port,
            options: options.clone(),
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
        self.options.protocol
    }

    /// The target bitrate in bits/s per stream, if any (UDP defaults to 1 Mbit/s).
    pub(crate) fn bitrate(&self) -> Option<u64> {
        match (self.options.bitrate, self.options.protocol) {
            (Some(0), _) => None,
            (Some(rate), _) => Some(rate),
            (None, Protocol::Udp) => Some(DEFAULT_UDP_RATE),
            (None, Protocol::Tcp) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::iperf::kinds::{Direction, TestLength};

    #[test]
    fn defaults_are_iperf3_defaults() {
        let c = ClientConfig::new("h", DEFAULT_PORT, &ClientOptions::new()).unwrap();
        assert_eq!(c.protocol(), Protocol::Tcp);
        assert_eq!(c.options.direction, Direction::Forward);
        assert_eq!(c.options.streams, 1);
        assert_eq!(
            c.options.length,
            TestLength::Duration(Duration::from_secs(10))
        );
        assert_eq!(c.options.interval, Some(Duration::from_secs(1)));
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
