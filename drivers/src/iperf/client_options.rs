//! What a client measures, apart from where: the one options type of an iperf client,
//! shared by the engines, [`IperfClient`](super::IperfClient),
//! [`IperfTest`](super::IperfTest), the rig and the iperf3 command line.

use std::net::IpAddr;
use std::time::Duration;

use super::error::IperfError;
use super::kinds::{AddressFamily, Direction, Protocol, TestLength};
use super::protocol::{
    MAX_DURATION_SECS, MAX_STREAMS, MAX_TCP_BLOCK, MAX_UDP_BLOCK, MIN_UDP_BLOCK,
};
use super::stream_options::StreamOptions;

/// The measurement options of an iperf client; defaults are iperf3's (TCP, forward, one
/// stream, 10 seconds, 1-second intervals). Every value is checked when a measurement
/// starts, or at once with [`check`](Self::check).
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
/// options.check()?;
/// assert_eq!(options.planned_duration(), Some(Duration::from_secs(1)));
/// assert!(ClientOptions::new().parallel(0).check().is_err());
/// # Ok::<(), testrig_drivers::iperf::IperfError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct ClientOptions {
    pub(crate) protocol: Protocol,
    pub(crate) direction: Direction,
    pub(crate) streams: u32,
    pub(crate) length: TestLength,
    pub(crate) block_size: Option<u32>,
    pub(crate) bitrate: Option<u64>,
    pub(crate) omit: Duration,
    pub(crate) interval: Option<Duration>,
    pub(crate) bind: Option<IpAddr>,
    pub(crate) connect_timeout: Duration,
    pub(crate) phase_timeout: Duration,
    pub(crate) max_open_ended: Duration,
    pub(crate) get_server_output: bool,
    pub(crate) zero_copy: bool,
    /// Boxed: it is large and rarely set, and options travel by value.
    pub(crate) stream_options: Box<StreamOptions>,
    pub(crate) family: AddressFamily,
    pub(crate) client_port: Option<u16>,
    pub(crate) extra_data: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) udp_counters_64bit: bool,
    pub(crate) bind_device: Option<String>,
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
            phase_timeout: Duration::from_secs(10),
            max_open_ended: Duration::from_secs(600),
            get_server_output: false,
            zero_copy: true,
            stream_options: Box::default(),
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

    /// Run until the test is interrupted, as iperf3 does with `-t 0`: for
    /// [`NativeClient::run_with_interrupt`](crate::iperf::engine::NativeClient::run_with_interrupt),
    /// whose interrupt is the test's end (the result is then
    /// [`IperfError::Interrupted`]'s partial one, as iperf3 prints it), and for
    /// `testrig iperf3 -c … -t 0`. The server is told a test of 0 seconds. The
    /// [`max_open_ended`](Self::max_open_ended) limit still applies. A measurement that
    /// cannot be interrupted (the [`IperfClient`](crate::iperf::IperfClient) driver's, or a
    /// run without an interrupt) refuses it, naming the `duration` field.
    pub fn until_interrupted(mut self) -> Self {
        self.length = TestLength::UntilInterrupted;
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
        self.stream_options = Box::new(options);
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

    /// How long to wait for the server at each step of the protocol (default 10 s).
    pub fn phase_timeout(mut self, timeout: Duration) -> Self {
        self.phase_timeout = timeout;
        self
    }

    /// The longest a byte- or block-limited test may run before it fails with a timeout
    /// (a stalled peer would otherwise never let it finish); default 10 minutes.
    pub fn max_open_ended(mut self, limit: Duration) -> Self {
        self.max_open_ended = limit;
        self
    }

    /// Whether TCP data this client sends goes out with `sendfile(2)` from an in-memory
    /// copy of the payload, which spares the kernel copying it from user memory (iperf3's
    /// `-Z`); default on. Off sends with plain writes, as iperf3 does by default — the
    /// choice for measuring what an application that copies its data would see.
    pub fn zero_copy(mut self, enabled: bool) -> Self {
        self.zero_copy = enabled;
        self
    }

    /// Checks every option, naming the option and the value that is wrong; a measurement
    /// checks them too when it starts.
    pub fn check(&self) -> Result<(), IperfError> {
        let c = self;
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
        Ok(())
    }

    /// The longest a test with these options should take, before any deadline margin: the
    /// duration plus omit, or `None` for a test limited by bytes or blocks.
    pub fn planned_duration(&self) -> Option<Duration> {
        match self.length {
            TestLength::Duration(d) => Some(d + self.omit),
            TestLength::Bytes(_) | TestLength::Blocks(_) | TestLength::UntilInterrupted => None,
        }
    }

    /// An error naming the `duration` when the test only ends when interrupted
    /// ([`until_interrupted`](Self::until_interrupted)) and the measurement cannot be
    /// (`why`).
    pub(crate) fn check_it_ends(&self, why: &str) -> Result<(), IperfError> {
        if self.length != TestLength::UntilInterrupted {
            return Ok(());
        }
        Err(IperfError::invalid(
            "duration",
            "until interrupted",
            &format!("{why}; give it a duration, a byte count or a block count"),
        ))
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
