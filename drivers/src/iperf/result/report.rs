//! A whole test's results: what ran, each interval, and the end summary.

use serde::{Deserialize, Serialize};

use super::{Measurement, StreamMeasurement};
use crate::iperf::kinds::{Direction, Protocol};

/// Whose view a result is: iperf3 reports differ slightly between client and server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The side that started the test (`-c`).
    #[default]
    Client,
    /// The side that served it (`-s`).
    Server,
}

/// What ran (iperf3's `start.test_start`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TestSettings {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// Which way data flowed.
    pub direction: Direction,
    /// Parallel streams per direction.
    pub num_streams: u32,
    /// Bytes per write/datagram.
    pub blksize: u32,
    /// Omitted warm-up, seconds.
    pub omit: f64,
    /// Planned duration in seconds (0 when the test was limited by bytes or blocks).
    pub duration: f64,
    /// Byte limit (0 if none).
    pub bytes: u64,
    /// Block limit (0 if none).
    pub blocks: u64,
    /// Target bitrate per stream in bits/s (0 if unlimited).
    pub target_bitrate: u64,
}

/// A data connection (iperf3's `start.connected[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    /// Stream id (iperf3: socket number).
    pub socket: u32,
    /// Local address.
    pub local_host: String,
    /// Local port.
    pub local_port: u16,
    /// Remote address.
    pub remote_host: String,
    /// Remote port.
    pub remote_port: u16,
}

/// One reporting interval (iperf3's `intervals[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct IntervalReport {
    /// Each stream, as the reporting host counted it.
    pub streams: Vec<StreamMeasurement>,
    /// The streams of the test's main direction summed (client → server, or server → client
    /// with `-R`).
    pub sum: Measurement,
    /// Bidirectional tests: the server → client streams summed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sum_bidir_reverse: Option<Measurement>,
}

/// This side's byte counts at one instant of a test, summed per direction: taken every
/// millisecond at first and less often as the test goes on, so a test of any length keeps
/// about a thousand of them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct FineSample {
    /// Seconds since measuring started (after any omitted warm-up).
    pub seconds: f64,
    /// Bytes moved since measuring started on the main direction's streams (client →
    /// server, or server → client with `-R`), as this side counted them.
    pub main_bytes: u64,
    /// Bidirectional tests: the same for the server → client streams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverse_bytes: Option<u64>,
}

/// One stream's totals as its sender and its receiver counted them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct StreamSummary {
    /// The stream (iperf3: the reporting host's socket number).
    pub id: u32,
    /// The sending side's count (with TCP retransmits, UDP packets sent).
    pub sender: Measurement,
    /// The receiving side's count (with UDP jitter and loss).
    pub receiver: Measurement,
}

/// Totals of one direction, as sent and as received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct DirectionSummary {
    /// What the senders counted (iperf3's `sum_sent`).
    pub sent: Measurement,
    /// What the receivers counted (iperf3's `sum_received`).
    pub received: Measurement,
}

/// The end of the test (iperf3's `end`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Summary {
    /// Per stream.
    pub streams: Vec<StreamSummary>,
    /// The main direction (client → server, or server → client with `-R`).
    pub main: DirectionSummary,
    /// Bidirectional tests: the server → client direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bidir_reverse: Option<DirectionSummary>,
}

/// CPU use during the test, in percent of one core (iperf3's `cpu_utilization_percent`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CpuUtilization {
    /// Reporting host, user + system.
    pub host_total: f64,
    /// Reporting host, user.
    pub host_user: f64,
    /// Reporting host, system.
    pub host_system: f64,
    /// The peer, user + system.
    pub remote_total: f64,
    /// The peer, user.
    pub remote_user: f64,
    /// The peer, system.
    pub remote_system: f64,
}

/// The results of one iperf test, from one side's view.
///
/// # Examples
///
/// ```no_run
/// use testrig_drivers::iperf::IperfResult;
///
/// let json = std::fs::read_to_string("iperf3-output.json")?;
/// let result = IperfResult::from_iperf3_json(&json)?;
/// println!("{:.1} Gbit/s", result.received_bits_per_second() / 1e9);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct IperfResult {
    /// Whose view this is.
    pub role: Role,
    /// What ran.
    pub test: TestSettings,
    /// The data connections, when known.
    #[serde(default)]
    pub connected: Vec<Connection>,
    /// When the test started, seconds since the Unix epoch, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u64>,
    /// Interval reports in order.
    pub intervals: Vec<IntervalReport>,
    /// The native engine's fine byte counts while the test ran, oldest first, for the
    /// throughput picture of a test too short for its intervals to show anything (a 16 MiB
    /// transfer on loopback takes milliseconds). Empty from the iperf3 binary; never part of
    /// the `-J` document.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fine_samples: Vec<FineSample>,
    /// The end summary.
    pub summary: Summary,
    /// CPU use, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuUtilization>,
    /// TCP congestion control of the sender, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_tcp_congestion: Option<String>,
    /// TCP congestion control of the receiver, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver_tcp_congestion: Option<String>,
    /// What iperf3 writes at the start besides the settings, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_info: Option<StartInfo>,
    /// The server's own report of the test, when the client asked for it
    /// (`--get-server-output`) and the server sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_output: Option<ServerOutput>,
}

/// The server's report of a test as it sends it to a client that asked for it
/// (`--get-server-output`): its `-J` document, or the text it printed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServerOutput {
    /// A server running with `-J`: its JSON document (iperf3's `server_output_json`).
    Json(serde_json::Value),
    /// A server printing text: what it printed for the test (iperf3's
    /// `server_output_text`).
    Text(String),
}

/// The other end of a test's control connection, as iperf3 names it in `start`: where a
/// client connected (`connecting_to`, the host as given) or whom a server accepted
/// (`accepted_connection`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlPeer {
    /// The host: as the client was given it, or the address the server saw.
    pub host: String,
    /// The port.
    pub port: u16,
}

/// What iperf3 writes in `start` besides the test's settings: the test's cookie, the host
/// it ran on and its sockets' sizes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StartInfo {
    /// The test's cookie (36 characters).
    pub cookie: String,
    /// The host, as `uname -a` prints it without the OS name at the end.
    pub system_info: String,
    /// The control connection's MSS (TCP tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_mss_default: Option<u32>,
    /// The MSS the test asked for (`-M`; iperf3 writes it instead of `tcp_mss_default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_mss: Option<u32>,
    /// The target bitrate asked for, bits/s (0: none).
    pub target_bitrate: u64,
    /// The socket buffer size asked for (`-w`), bytes (0: the system's).
    pub sock_bufsize: u64,
    /// A data socket's send buffer, as the kernel reports it.
    pub sndbuf_actual: u64,
    /// A data socket's receive buffer, as the kernel reports it.
    pub rcvbuf_actual: u64,
    /// The other end of the control connection, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_peer: Option<ControlPeer>,
    /// The IP TOS byte the test asked for (`-S`/`--dscp`; `test_start.tos`).
    #[serde(default)]
    pub tos: u8,
    /// The client's `--extra-data` text (iperf3 writes it at the top of the document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_data: Option<String>,
    /// The client's `-T` title (iperf3 writes it at the top of the document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

impl StartInfo {
    /// This host as iperf3 describes it: `uname`'s system, node, release, version and
    /// machine, space-separated.
    pub(crate) fn this_system() -> String {
        crate::iperf::text::system::this_system()
    }
}

impl IperfResult {
    /// Main-direction throughput as the receivers counted it (what iperf3 prints as
    /// "receiver"), in bits/s.
    pub fn received_bits_per_second(&self) -> f64 {
        self.summary.main.received.bits_per_second
    }

    /// Main-direction throughput as the senders counted it, in bits/s.
    pub fn sent_bits_per_second(&self) -> f64 {
        self.summary.main.sent.bits_per_second
    }

    /// Main-direction bytes as the senders counted them.
    pub fn bytes_sent(&self) -> u64 {
        self.summary.main.sent.bytes
    }

    /// Main-direction bytes as the receivers counted them.
    pub fn bytes_received(&self) -> u64 {
        self.summary.main.received.bytes
    }

    /// Sender retransmits in the main direction, when known.
    pub fn retransmits(&self) -> Option<u64> {
        self.summary.main.sent.retransmits
    }

    /// UDP: main-direction loss in percent, when known.
    pub fn lost_percent(&self) -> Option<f64> {
        self.summary.main.received.lost_percent
    }

    /// UDP: main-direction jitter in milliseconds, when known.
    pub fn jitter_ms(&self) -> Option<f64> {
        self.summary.main.received.jitter_ms
    }
}
