//! What a client measures, apart from where: the options of [`ClientConfig`] without the
//! target, shared by [`IperfClient`](super::IperfClient) and
//! [`IperfTest`](crate::iperf::IperfTest).

use std::net::IpAddr;
use std::time::Duration;

use crate::iperf::config::ClientConfig;
use crate::iperf::error::IperfError;
use crate::iperf::kinds::{AddressFamily, Direction, Protocol, TestLength};
use crate::iperf::stream_options::StreamOptions;

/// The measurement options of an iperf client; defaults are iperf3's (TCP, forward, one
/// stream, 10 seconds, 1-second intervals). Checked when a target is known
/// ([`config`](Self::config)) or at once with [`check`](Self::check).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use testrig_drivers::iperf::ClientOptions;
///
/// let options = ClientOptions::new()
///     .duration(Duration::from_secs(1))
///     .parallel(2)
///     .reverse();
/// let config = options.config("127.0.0.1", 5201)?;
/// assert_eq!(config.streams(), 2);
/// assert!(ClientOptions::new().parallel(0).check().is_err());
/// # Ok::<(), testrig_drivers::iperf::IperfError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct ClientOptions {
    protocol: Protocol,
    direction: Direction,
    streams: u32,
    length: TestLength,
    block_size: Option<u32>,
    bitrate: Option<u64>,
    omit: Duration,
    interval: Option<Duration>,
    bind: Option<IpAddr>,
    connect_timeout: Duration,
    get_server_output: bool,
    stream_options: StreamOptions,
    family: AddressFamily,
    client_port: Option<u16>,
    extra_data: Option<String>,
    title: Option<String>,
    udp_counters_64bit: bool,
    bind_device: Option<String>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            protocol: Protocol::Tcp,
            direction: Direction::Forward,
            streams: 1,
            length: TestLength::default(),
            block_size: None,
            bitrate: None,
            omit: Duration::ZERO,
            interval: Some(Duration::from_secs(1)),
            bind: None,
            connect_timeout: Duration::from_secs(10),
            get_server_output: false,
            stream_options: StreamOptions::default(),
            family: AddressFamily::Any,
            client_port: None,
            extra_data: None,
            title: None,
            udp_counters_64bit: false,
            bind_device: None,
        }
    }
}

impl ClientOptions {
    /// iperf3's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Run for this long (`-t`; the iperf3 binary rounds up to whole seconds).
    pub fn duration(mut self, duration: Duration) -> Self {
        self.length = TestLength::Duration(duration);
        self
    }

    /// Run until this many bytes are transferred (`-n`).
    pub fn bytes(mut self, bytes: u64) -> Self {
        self.length = TestLength::Bytes(bytes);
        self
    }

    /// Run until this many blocks are transferred (`-k`).
    pub fn blocks(mut self, blocks: u64) -> Self {
        self.length = TestLength::Blocks(blocks);
        self
    }

    /// When the test ends.
    pub fn length(mut self, length: TestLength) -> Self {
        self.length = length;
        self
    }

    /// Parallel streams per direction, 1 to 128 (`-P`).
    pub fn parallel(mut self, streams: u32) -> Self {
        self.streams = streams;
        self
    }

    /// Which way data flows.
    pub fn direction(mut self, direction: Direction) -> Self {
        self.direction = direction;
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

    /// TCP or UDP.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// UDP (`-u`); the bitrate defaults to 1 Mbit/s as in iperf3.
    pub fn udp(self) -> Self {
        self.protocol(Protocol::Udp)
    }

    /// Target bitrate per stream in bits/s (`-b`); 0 means unlimited.
    pub fn bitrate(mut self, bits_per_second: u64) -> Self {
        self.bitrate = Some(bits_per_second);
        self
    }

    /// Bytes per write or datagram (`-l`).
    pub fn block_size(mut self, bytes: u32) -> Self {
        self.block_size = Some(bytes);
        self
    }

    /// Data in the first `omit` is not counted (`-O`, whole seconds).
    pub fn omit(mut self, omit: Duration) -> Self {
        self.omit = omit;
        self
    }

    /// Report every `interval` (`-i`, 0.1 s to 60 s), or never with `None`.
    pub fn interval(mut self, interval: Option<Duration>) -> Self {
        self.interval = interval;
        self
    }

    /// Bind the client's sockets to this local address (`-B`).
    pub fn bind(mut self, address: IpAddr) -> Self {
        self.bind = Some(address);
        self
    }

    /// Deadline of the control connection's connect (`--connect-timeout`; default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Asks the server for its own report of the test (`--get-server-output`); it comes
    /// back in the result's [`server_output`](crate::iperf::IperfResult::server_output).
    pub fn get_server_output(mut self, enabled: bool) -> Self {
        self.get_server_output = enabled;
        self
    }

    /// Socket buffers, Nagle, MSS, congestion control, TOS, pacing and payload of the data
    /// streams, applied by both sides (`-w -N -M -C -S --fq-rate --pacing-timer
    /// --repeating-payload --dont-fragment`, `-b rate/burst`).
    pub fn stream_options(mut self, options: StreamOptions) -> Self {
        self.stream_options = options;
        self
    }

    /// Connect over IPv4 or IPv6 only (`-4`, `-6`).
    pub fn family(mut self, family: AddressFamily) -> Self {
        self.family = family;
        self
    }

    /// Bind the data streams to local ports from `port` on (`--cport`).
    pub fn client_port(mut self, port: u16) -> Self {
        self.client_port = Some(port);
        self
    }

    /// Text for both sides' `-J` documents (`--extra-data`).
    pub fn extra_data(mut self, text: impl Into<String>) -> Self {
        self.extra_data = Some(text.into());
        self
    }

    /// The test's title (`-T`): `title` in both sides' `-J` documents.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// 64-bit UDP packet counters (`--udp-counters-64bit`).
    pub fn udp_counters_64bit(mut self, enabled: bool) -> Self {
        self.udp_counters_64bit = enabled;
        self
    }

    /// Bind the client's sockets to this network device (`--bind-dev`).
    pub fn bind_device(mut self, device: impl Into<String>) -> Self {
        self.bind_device = Some(device.into());
        self
    }

    /// The data streams' socket and payload options.
    pub fn stream_settings(&self) -> &StreamOptions {
        &self.stream_options
    }

    /// When the test ends.
    pub fn test_length(&self) -> TestLength {
        self.length
    }

    /// The local address the client binds, if any.
    pub fn bound_address(&self) -> Option<IpAddr> {
        self.bind
    }

    /// The configuration for a test against `host:port`, every value checked.
    pub fn config(&self, host: &str, port: u16) -> Result<ClientConfig, IperfError> {
        let mut builder = ClientConfig::builder(host, port)
            .protocol(self.protocol)
            .direction(self.direction)
            .parallel(self.streams)
            .omit(self.omit)
            .interval(self.interval)
            .connect_timeout(self.connect_timeout)
            .get_server_output(self.get_server_output)
            .stream_options(self.stream_options.clone())
            .family(self.family)
            .udp_counters_64bit(self.udp_counters_64bit);
        if let Some(port) = self.client_port {
            builder = builder.client_port(port);
        }
        if let Some(text) = &self.extra_data {
            builder = builder.extra_data(text.clone());
        }
        if let Some(title) = &self.title {
            builder = builder.title(title.clone());
        }
        if let Some(device) = &self.bind_device {
            builder = builder.bind_device(device.clone());
        }
        builder = match self.length {
            TestLength::Duration(d) => builder.duration(d),
            TestLength::Bytes(n) => builder.bytes(n),
            TestLength::Blocks(n) => builder.blocks(n),
        };
        if let Some(len) = self.block_size {
            builder = builder.block_size(len);
        }
        if let Some(rate) = self.bitrate {
            builder = builder.bitrate(rate);
        }
        if let Some(bind) = self.bind {
            builder = builder.bind(bind);
        }
        builder.build()
    }

    /// Checks every option that does not depend on the target.
    pub fn check(&self) -> Result<(), IperfError> {
        self.config("localhost", 1).map(drop)
    }

    /// The longest a test with these options should take, before any deadline margin: the
    /// duration plus omit, or `None` for a test limited by bytes or blocks.
    pub fn planned_duration(&self) -> Option<Duration> {
        match self.length {
            TestLength::Duration(d) => Some(d + self.omit),
            TestLength::Bytes(_) | TestLength::Blocks(_) => None,
        }
    }

    /// A generous deadline for one measurement: the planned duration plus 30 s for
    /// connecting and exchanging results, or 10 minutes for a test limited by bytes or blocks.
    pub fn suggested_deadline(&self) -> Duration {
        match self.planned_duration() {
            Some(planned) => planned + Duration::from_secs(30),
            None => Duration::from_secs(600),
        }
    }
}
