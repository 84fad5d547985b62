//! What a client asks for: protocol, direction, streams, how long, how fast.

use std::net::IpAddr;
use std::time::Duration;

use super::error::IperfError;
use super::kinds::{AddressFamily, Direction, Protocol, TestLength};
use super::protocol::{
    DEFAULT_UDP_RATE, MAX_DURATION_SECS, MAX_STREAMS, MAX_TCP_BLOCK, MAX_UDP_BLOCK, MIN_UDP_BLOCK,
};
use super::stream_options::StreamOptions;

/// iperf3's default port.
pub const DEFAULT_PORT: u16 = 5201;

/// A validated client test configuration; build it with [`ClientConfig::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use testrig_drivers::iperf::ClientConfig;
///
/// let config = ClientConfig::builder("127.0.0.1", 5201)
///     .duration(Duration::from_secs(2))
///     .parallel(4)
///     .reverse()
///     .build()?;
/// assert_eq!(config.streams(), 4);
/// # Ok::<(), testrig_drivers::iperf::IperfError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
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
    /// Starts a configuration for a test against `host:port` with iperf3's defaults:
    /// TCP, forward, one stream, 10 seconds, 1-second intervals.
    pub fn builder(host: impl Into<String>, port: u16) -> ClientConfigBuilder {
        ClientConfigBuilder {
            config: ClientConfig {
                host: host.into(),
                port,
                bind: None,
                protocol: Protocol::Tcp,
                direction: Direction::Forward,
                streams: 1,
                length: TestLength::default(),
                block_size: None,
                bitrate: None,
                omit: Duration::ZERO,
                interval: Some(Duration::from_secs(1)),
                connect_timeout: Duration::from_secs(10),
                phase_timeout: Duration::from_secs(10),
                max_open_ended: Duration::from_secs(600),
                udp_counters_64bit: false,
                zero_copy: true,
                get_server_output: false,
                stream_options: Box::default(),
                family: AddressFamily::Any,
                client_port: None,
                extra_data: None,
                title: None,
                bind_device: None,
            },
        }
    }

    /// The server host as given.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The server port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// TCP or UDP.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Which way data flows.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// Parallel streams per direction.
    pub fn streams(&self) -> u32 {
        self.streams
    }

    /// When the test ends.
    pub fn length(&self) -> TestLength {
        self.length
    }

    /// The target bitrate in bits/s per stream, if any (UDP defaults to 1 Mbit/s).
    pub fn bitrate(&self) -> Option<u64> {
        match (self.bitrate, self.protocol) {
            (Some(0), _) => None,
            (Some(rate), _) => Some(rate),
            (None, Protocol::Udp) => Some(DEFAULT_UDP_RATE),
            (None, Protocol::Tcp) => None,
        }
    }

    /// The interval between reports, if any.
    pub fn interval(&self) -> Option<Duration> {
        self.interval
    }

    /// The time at the start whose data is not counted (`-O`).
    pub fn omit(&self) -> Duration {
        self.omit
    }

    /// Whether the server's own report is asked for; see
    /// [`ClientConfigBuilder::get_server_output`].
    pub fn get_server_output(&self) -> bool {
        self.get_server_output
    }

    /// Whether TCP data is sent zero-copy (`sendfile(2)`); see
    /// [`ClientConfigBuilder::zero_copy`].
    pub fn zero_copy(&self) -> bool {
        self.zero_copy
    }

    /// How the data streams' sockets and payload are set up.
    pub fn stream_options(&self) -> &StreamOptions {
        &self.stream_options
    }

    /// The IP version the client connects with.
    pub fn family(&self) -> AddressFamily {
        self.family
    }

    /// The first local port of the data streams (`--cport`), if any.
    pub fn client_port(&self) -> Option<u16> {
        self.client_port
    }

    /// The network device the client's sockets are bound to (`--bind-dev`), if any.
    pub fn bind_device(&self) -> Option<&str> {
        self.bind_device.as_deref()
    }

    /// The text sent as `extra_data` (`--extra-data`), if any.
    pub fn extra_data(&self) -> Option<&str> {
        self.extra_data.as_deref()
    }

    /// The test's title (`-T`), if any.
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }
}

/// Builds a [`ClientConfig`]; every value is checked in [`build`](Self::build).
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientConfigBuilder {
    config: ClientConfig,
}

impl ClientConfigBuilder {
    /// Binds the client's sockets to this local address (`-B`).
    pub fn bind(mut self, addr: IpAddr) -> Self {
        self.config.bind = Some(addr);
        self
    }

    /// TCP or UDP (`-u`).
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.config.protocol = protocol;
        self
    }

    /// Shorthand for `protocol(Protocol::Udp)`.
    pub fn udp(self) -> Self {
        self.protocol(Protocol::Udp)
    }

    /// Which way data flows.
    pub fn direction(mut self, direction: Direction) -> Self {
        self.config.direction = direction;
        self
    }

    /// The server sends (`-R`).
    pub fn reverse(self) -> Self {
        self.direction(Direction::Reverse)
    }

    /// Both sides send (`--bidir`).
    pub fn bidirectional(self) -> Self {
        self.direction(Direction::Bidirectional)
    }

    /// Parallel streams per direction, 1 to 128 (`-P`).
    pub fn parallel(mut self, streams: u32) -> Self {
        self.config.streams = streams;
        self
    }

    /// Run for this long (`-t`). Sub-second durations are honoured by this client; an iperf3
    /// server is told the duration rounded up to whole seconds.
    pub fn duration(mut self, duration: Duration) -> Self {
        self.config.length = TestLength::Duration(duration);
        self
    }

    /// Run until this many bytes are transferred in total (`-n`).
    pub fn bytes(mut self, bytes: u64) -> Self {
        self.config.length = TestLength::Bytes(bytes);
        self
    }

    /// Run until this many blocks are transferred in total (`-k`).
    pub fn blocks(mut self, blocks: u64) -> Self {
        self.config.length = TestLength::Blocks(blocks);
        self
    }

    /// Bytes per write/datagram (`-l`); TCP defaults to 128 KiB, UDP to the control
    /// connection's MSS.
    pub fn block_size(mut self, bytes: u32) -> Self {
        self.config.block_size = Some(bytes);
        self
    }

    /// Target bitrate per stream in bits/s (`-b`); 0 means unlimited.
    pub fn bitrate(mut self, bits_per_second: u64) -> Self {
        self.config.bitrate = Some(bits_per_second);
        self
    }

    /// Data in the first `omit` is not counted (`-O`, whole seconds on the wire).
    pub fn omit(mut self, omit: Duration) -> Self {
        self.config.omit = omit;
        self
    }

    /// Report every `interval` (`-i`, 0.1 s to 60 s), or never with `None`.
    pub fn interval(mut self, interval: Option<Duration>) -> Self {
        self.config.interval = interval;
        self
    }

    /// How long to wait for the control connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// How long to wait for the server at each step of the protocol.
    pub fn phase_timeout(mut self, timeout: Duration) -> Self {
        self.config.phase_timeout = timeout;
        self
    }

    /// The longest a byte- or block-limited test may run before it fails with a timeout
    /// (a stalled peer would otherwise never let it finish); default 10 minutes.
    pub fn max_open_ended(mut self, limit: Duration) -> Self {
        self.config.max_open_ended = limit;
        self
    }

    /// Asks the server for its own report of the test (`--get-server-output`): it comes
    /// back in [`IperfResult::server_output`](crate::iperf::IperfResult::server_output).
    pub fn get_server_output(mut self, enabled: bool) -> Self {
        self.config.get_server_output = enabled;
        self
    }

    /// Use 64-bit UDP packet counters (`--udp-counters-64bit`).
    pub fn udp_counters_64bit(mut self, enabled: bool) -> Self {
        self.config.udp_counters_64bit = enabled;
        self
    }

    /// Whether TCP data this client sends goes out with `sendfile(2)` from an in-memory
    /// copy of the payload, which spares the kernel copying it from user memory (iperf3's
    /// `-Z`); default on. Off sends with plain writes, as iperf3 does by default — the
    /// choice for measuring what an application that copies its data would see.
    pub fn zero_copy(mut self, enabled: bool) -> Self {
        self.config.zero_copy = enabled;
        self
    }

    /// Socket buffers, Nagle, MSS, congestion control, TOS, pacing and payload of the data
    /// streams, which the server applies to its side too (`-w -N -M -C -S --fq-rate
    /// --pacing-timer --repeating-payload --dont-fragment`).
    pub fn stream_options(mut self, options: StreamOptions) -> Self {
        self.config.stream_options = Box::new(options);
        self
    }

    /// Connect over IPv4 only or IPv6 only (`-4`, `-6`).
    pub fn family(mut self, family: AddressFamily) -> Self {
        self.config.family = family;
        self
    }

    /// Bind the data streams to local ports from `port` on (`--cport`), as iperf3 does:
    /// stream *i* uses `port + i`; in a bidirectional test the receiving streams follow the
    /// sending ones. The control connection keeps an ephemeral port.
    pub fn client_port(mut self, port: u16) -> Self {
        self.config.client_port = Some(port);
        self
    }

    /// Text for the server and both `-J` documents (`--extra-data`).
    pub fn extra_data(mut self, text: impl Into<String>) -> Self {
        self.config.extra_data = Some(text.into());
        self
    }

    /// The test's title (`-T`): sent to the server, and `title` in both `-J` documents.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.config.title = Some(title.into());
        self
    }

    /// Bind the client's sockets, control and data, to this network device
    /// (`--bind-dev`, `SO_BINDTODEVICE`; `-c host%dev`).
    pub fn bind_device(mut self, device: impl Into<String>) -> Self {
        self.config.bind_device = Some(device.into());
        self
    }

    /// Checks every value and returns the configuration.
    pub fn build(self) -> Result<ClientConfig, IperfError> {
        let c = self.config;
        if c.host.trim().is_empty() {
            return Err(IperfError::invalid("host", &c.host, "must not be empty"));
        }
        if c.port == 0 {
            return Err(IperfError::invalid("port", c.port, "must be 1 to 65535"));
        }
        if c.streams == 0 || c.streams > MAX_STREAMS {
            return Err(IperfError::invalid(
                "parallel",
                c.streams,
                "must be 1 to 128 streams",
            ));
        }
        match c.length {
            TestLength::Duration(d) if d.is_zero() || d.as_secs() > MAX_DURATION_SECS => {
                return Err(IperfError::invalid(
                    "duration",
                    format!("{d:?}"),
                    "must be more than 0 and at most 86400 seconds",
                ));
            }
            TestLength::Bytes(0) => {
                return Err(IperfError::invalid("bytes", 0, "must be more than 0"));
            }
            TestLength::Blocks(0) => {
                return Err(IperfError::invalid("blocks", 0, "must be more than 0"));
            }
            _ => {}
        }
        if let Some(len) = c.block_size {
            let (min, max) = match c.protocol {
                Protocol::Tcp => (1, MAX_TCP_BLOCK),
                Protocol::Udp => (MIN_UDP_BLOCK, MAX_UDP_BLOCK),
            };
            if len < min || len > max {
                return Err(IperfError::invalid(
                    "block_size",
                    len,
                    &format!("must be {min} to {max} bytes for {:?}", c.protocol),
                ));
            }
        }
        if c.omit.as_secs() > MAX_DURATION_SECS {
            return Err(IperfError::invalid(
                "omit",
                format!("{:?}", c.omit),
                "must be at most 86400 seconds",
            ));
        }
        if let Some(interval) = c.interval
            && (interval < Duration::from_millis(100) || interval > Duration::from_secs(60))
        {
            return Err(IperfError::invalid(
                "interval",
                format!("{interval:?}"),
                "must be 0.1 to 60 seconds (or no interval reports at all)",
            ));
        }
        if c.connect_timeout.is_zero() || c.phase_timeout.is_zero() || c.max_open_ended.is_zero() {
            return Err(IperfError::invalid(
                "timeout",
                format!("{:?}/{:?}", c.connect_timeout, c.phase_timeout),
                "connect, phase and open-ended-test timeouts must be more than 0",
            ));
        }
        c.stream_options.check()?;
        if let Some(device) = &c.bind_device
            && (device.is_empty() || device.len() > 15 || device.contains(['\0', '/']))
        {
            return Err(IperfError::invalid(
                "bind_device",
                device,
                "must be a network device name of 1 to 15 characters, such as \"eth0\"",
            ));
        }
        if let Some(timeout) = c.stream_options.receive_timeout
            && c.direction == Direction::Forward
        {
            return Err(IperfError::invalid(
                "receive_timeout",
                format!("{timeout:?}"),
                "client receive timeout is valid only in receiving mode (reverse or bidirectional)",
            ));
        }
        if let Some(port) = c.client_port {
            let streams = c.streams
                * if c.direction == Direction::Bidirectional {
                    2
                } else {
                    1
                };
            if port == 0 || u32::from(port) + streams - 1 > 65535 {
                return Err(IperfError::invalid(
                    "client_port",
                    port,
                    "port number must be between 1 and 65535 inclusive, for every stream",
                ));
            }
        }
        match (c.family, c.bind) {
            (AddressFamily::V4, Some(ip)) if ip.is_ipv6() => {
                return Err(IperfError::invalid("bind", ip, "is not IPv4, as -4 asks"));
            }
            (AddressFamily::V6, Some(ip)) if ip.is_ipv4() => {
                return Err(IperfError::invalid("bind", ip, "is not IPv6, as -6 asks"));
            }
            _ => {}
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_iperf3_defaults() {
        let c = ClientConfig::builder("h", DEFAULT_PORT).build().unwrap();
        assert_eq!(c.protocol(), Protocol::Tcp);
        assert_eq!(c.direction(), Direction::Forward);
        assert_eq!(c.streams(), 1);
        assert_eq!(c.length(), TestLength::Duration(Duration::from_secs(10)));
        assert_eq!(c.interval(), Some(Duration::from_secs(1)));
        assert_eq!(c.bitrate(), None);
    }

    #[test]
    fn udp_defaults_to_one_megabit_like_iperf3() {
        let c = ClientConfig::builder("h", 1).udp().build().unwrap();
        assert_eq!(c.bitrate(), Some(1024 * 1024));
    }

    #[test]
    fn out_of_range_values_are_refused_naming_the_field() {
        let cases = [
            (ClientConfig::builder("h", 1).parallel(0), "parallel"),
            (ClientConfig::builder("h", 1).parallel(129), "parallel"),
            (ClientConfig::builder("h", 1).bytes(0), "bytes"),
            (
                ClientConfig::builder("h", 1).duration(Duration::ZERO),
                "duration",
            ),
            (
                ClientConfig::builder("h", 1).block_size(2 << 20),
                "block_size",
            ),
            (
                ClientConfig::builder("h", 1).udp().block_size(8),
                "block_size",
            ),
            (
                ClientConfig::builder("h", 1).interval(Some(Duration::from_millis(10))),
                "interval",
            ),
            (ClientConfig::builder("", 1), "host"),
            (ClientConfig::builder("h", 0), "port"),
        ];
        for (builder, field) in cases {
            match builder.build() {
                Err(IperfError::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: expected InvalidConfig, got {other:?}"),
            }
        }
    }
}
