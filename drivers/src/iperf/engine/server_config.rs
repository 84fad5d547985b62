//! A native server's settings, and the progress it reports while a test runs.

use std::net::SocketAddr;
use std::time::Duration;

use testrig::Host;
use tokio::sync::mpsc;

use crate::iperf::result::{Connection, IntervalReport, TestSettings};

/// Limits and deadlines of a native server.
#[derive(Debug, Clone)]
#[must_use]
pub struct ServerConfig {
    pub(crate) phase_timeout: Duration,
    pub(crate) grace: Duration,
    pub(crate) max_open_ended_test: Duration,
    pub(crate) max_pending_handshakes: usize,
    pub(crate) interval: Option<Duration>,
    pub(crate) results_capacity: usize,
    pub(crate) zero_copy: bool,
    pub(crate) progress: Option<mpsc::UnboundedSender<ServerProgress>>,
    pub(crate) json_output: bool,
    pub(crate) send_timeout: Option<Duration>,
    pub(crate) receive_timeout: Duration,
    pub(crate) bind_device: Option<String>,
    pub(crate) host: Host,
}

/// What a serving server reports while a test runs (see [`ServerConfig::progress`]); the
/// end of each test comes as a [`ServedTest`](crate::iperf::ServedTest) from
/// [`NativeServer::next_test`](super::NativeServer::next_test), after the test's progress.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ServerProgress {
    /// A test's data connections are made; it is about to start.
    Started {
        /// The client's control-connection address.
        peer: SocketAddr,
        /// What runs.
        test: TestSettings,
        /// The data connections, in the order they were made.
        connections: Vec<Connection>,
        /// The test's cookie.
        cookie: String,
        /// The segment size the client asked for (`-M`), of a TCP test.
        mss: Option<u32>,
    },
    /// An interval of the running test closed.
    Interval(Box<IntervalReport>),
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            phase_timeout: Duration::from_secs(10),
            grace: Duration::from_secs(10),
            max_open_ended_test: Duration::from_secs(600),
            max_pending_handshakes: 64,
            interval: Some(Duration::from_secs(1)),
            results_capacity: 64,
            zero_copy: true,
            progress: None,
            json_output: false,
            send_timeout: None,
            receive_timeout: crate::iperf::stream_options::DEFAULT_RECEIVE_TIMEOUT,
            bind_device: None,
            host: Host::local(),
        }
    }
}

impl ServerConfig {
    /// Whether TCP data the server sends (reverse and bidirectional tests) goes out with
    /// `sendfile(2)` from an in-memory copy of the payload, which spares the kernel copying
    /// it from user memory (iperf3's `-Z`); default on. Off sends with plain writes, as
    /// iperf3 does by default.
    pub fn zero_copy(mut self, enabled: bool) -> Self {
        self.zero_copy = enabled;
        self
    }

    /// Whether this server reports in iperf3's `-J` layout rather than its text (default:
    /// text). It decides what a client asking for the server's report
    /// (`--get-server-output`) gets: the JSON document, or the text iperf3's server prints.
    pub fn json_output(mut self, enabled: bool) -> Self {
        self.json_output = enabled;
        self
    }

    /// How long data the server sends may stay unacknowledged before its TCP gives the
    /// stream up (iperf3's `--snd-timeout` on `-s`, `TCP_USER_TIMEOUT`); default: the
    /// system's.
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.send_timeout = Some(timeout);
        self
    }

    /// How long the server, while it receives, waits for data before it ends the test with
    /// iperf3's "idle timeout for receiving data" (`--rcv-timeout` on `-s`); default 120 s
    /// as in iperf3.
    pub fn receive_timeout(mut self, timeout: Duration) -> Self {
        self.receive_timeout = timeout;
        self
    }

    /// Listen (and bind UDP streams) on this network device only (iperf3's `--bind-dev`
    /// on `-s`, `SO_BINDTODEVICE`).
    pub fn bind_device(mut self, device: impl Into<String>) -> Self {
        self.bind_device = Some(device.into());
        self
    }

    /// The host the server runs on (default [`Host::local`], this machine): the native
    /// server makes its listener and its UDP streams' sockets there, the iperf3-binary
    /// engine runs `iperf3 -s` there. The address to listen on is one of the host's (its
    /// [`address`](Host::address), say). The [`IperfServer`](crate::iperf::IperfServer)
    /// driver sets it to its own placement
    /// ([`DriverSpec::on`](testrig::DriverSpec::on)), whatever was given here.
    pub fn on(mut self, host: Host) -> Self {
        self.host = host;
        self
    }

    /// How long a client may take for each protocol step (cookie, parameters, streams,
    /// results); default 10 s.
    pub fn phase_timeout(mut self, timeout: Duration) -> Self {
        self.phase_timeout = timeout;
        self
    }

    /// How long past its announced duration (plus omit) a test may run before the server
    /// ends it; default 10 s.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The longest a byte- or block-limited test (which announces no duration) may run;
    /// default 10 minutes.
    pub fn max_open_ended_test(mut self, limit: Duration) -> Self {
        self.max_open_ended_test = limit;
        self
    }

    /// Sends each test's progress (its start, then each interval as it closes) on
    /// `progress`, so that a report can be printed as the test goes, as iperf3's server
    /// prints; default none.
    pub fn progress(mut self, progress: mpsc::UnboundedSender<ServerProgress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Interval reports the server records for each test (`None`: none); default 1 s.
    pub fn interval(mut self, interval: Option<Duration>) -> Self {
        self.interval = interval;
        self
    }
}
