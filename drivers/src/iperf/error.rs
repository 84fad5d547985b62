//! What can go wrong in an iperf test, said so a test author understands it.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use std::path::PathBuf;

use testrig::process::{Exit, ProcessError, Tail};

use crate::iperf::result::IperfResult;

/// The phase of an iperf3 test a failure happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Opening the control connection.
    Connect,
    /// Sending or receiving the 37-byte test cookie.
    Cookie,
    /// Exchanging the test parameters (`PARAM_EXCHANGE`).
    ParamExchange,
    /// Opening the data streams (`CREATE_STREAMS`).
    CreateStreams,
    /// Starting the test (`TEST_START`, `TEST_RUNNING`).
    TestStart,
    /// Moving data.
    TestRunning,
    /// Ending the test (`TEST_END`).
    TestEnd,
    /// Exchanging the results documents (`EXCHANGE_RESULTS`).
    ExchangeResults,
    /// Waiting for `DISPLAY_RESULTS` / `IPERF_DONE`.
    Done,
    /// A server handle waiting for the next test to be served.
    WaitingForTest,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connecting",
            Self::Cookie => "exchanging the test cookie",
            Self::ParamExchange => "exchanging parameters",
            Self::CreateStreams => "creating data streams",
            Self::TestStart => "starting the test",
            Self::TestRunning => "running the test",
            Self::TestEnd => "ending the test",
            Self::ExchangeResults => "exchanging results",
            Self::Done => "finishing the test",
            Self::WaitingForTest => "waiting for a client to run a test",
        })
    }
}

/// An iperf engine error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IperfError {
    /// A configuration value is out of range or inconsistent.
    #[error("iperf: invalid {field} {value:?}: {reason}")]
    InvalidConfig {
        /// The option (e.g. `"parallel"`, `"block_size"`).
        field: &'static str,
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// The server host name did not resolve.
    #[error("iperf: cannot resolve server {host:?}")]
    Resolve {
        /// The host as given.
        host: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// The control or a data connection could not be opened.
    #[error("iperf: cannot connect to {addr}")]
    Connect {
        /// The server address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The server could not bind its address.
    #[error("iperf: cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The peer did not make progress within the phase's deadline.
    #[error("iperf: timed out after {after:?} while {phase}")]
    Timeout {
        /// What was being waited for.
        phase: Phase,
        /// The deadline that expired.
        after: Duration,
    },
    /// The server is already running a test (iperf3's `ACCESS_DENIED`).
    #[error("iperf: the server is busy running a test; try again later")]
    AccessDenied,
    /// The server reported an error (iperf3's `SERVER_ERROR` with its two codes).
    #[error("iperf: the server reported an error: {message} (iperf3 error {code}, errno {errno})")]
    ServerError {
        /// iperf3's error number (`i_errno`).
        code: i32,
        /// The server's `errno`.
        errno: i32,
        /// iperf3's text for `code`.
        message: String,
    },
    /// The server ended the test early (`SERVER_TERMINATE`).
    #[error("iperf: the server terminated the test while {phase}")]
    ServerTerminated {
        /// Where the client was.
        phase: Phase,
    },
    /// The client ended the test early (`CLIENT_TERMINATE`).
    #[error("iperf: the client terminated the test while {phase}")]
    ClientTerminated {
        /// Where the server was.
        phase: Phase,
        /// The server's view of the test up to then, when it was running: its intervals
        /// and its counts so far, as iperf3's server prints them.
        partial: Option<Box<IperfResult>>,
    },
    /// The client was interrupted (iperf3's `SIGINT`, `SIGTERM` or `SIGHUP`): it told the
    /// server (`CLIENT_TERMINATE`) and stopped its streams. Never a full measurement: the
    /// peer's counts were not exchanged.
    #[error("iperf: the client was interrupted while {phase}")]
    Interrupted {
        /// Where the client was.
        phase: Phase,
        /// The client's view of the test up to the interrupt, when it was running: the
        /// intervals (the last one partial) and a summary of what this side moved, with
        /// the peer's counts 0, as iperf3 reports an interrupted test.
        partial: Option<Box<IperfResult>>,
    },
    /// The peer closed the control connection.
    #[error("iperf: the peer closed the control connection while {phase}")]
    PeerClosed {
        /// Where this side was.
        phase: Phase,
    },
    /// The peer sent a control message that is not valid here.
    #[error("iperf: unexpected control message {code} from the peer while {phase}")]
    UnexpectedState {
        /// Where this side was.
        phase: Phase,
        /// The signed code received.
        code: i8,
    },
    /// The peer broke the protocol (bad JSON, oversized message, missing key, unknown stream).
    #[error("iperf: protocol error while {phase}: {detail}")]
    Protocol {
        /// Where this side was.
        phase: Phase,
        /// What was wrong.
        detail: String,
    },
    /// The control connection failed.
    #[error("iperf: I/O error while {phase}")]
    Io {
        /// Where this side was.
        phase: Phase,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A data stream failed.
    #[error("iperf: data stream {stream} failed")]
    Stream {
        /// The stream id (1, 3, 4, …).
        stream: u32,
        /// Whether this side sends on it (else it receives).
        sending: bool,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Nothing arrived on the streams this side receives for the receive timeout (iperf3's
    /// `--rcv-timeout`, `IENOMSG`).
    #[error("iperf: idle timeout for receiving data: nothing received for {after:?}")]
    ReceiveIdle {
        /// The timeout.
        after: Duration,
    },
    /// A data socket could not be set up as the test asks (iperf3's `IESET…` errors).
    #[error("iperf: {message} (asked for {option} {value})")]
    SocketOption {
        /// The option (`"congestion"`, `"window"`, `"tos"`, …).
        option: &'static str,
        /// The value asked for.
        value: String,
        /// iperf3's error number for this failure.
        code: i32,
        /// iperf3's text for it.
        message: String,
        /// The OS error, if the kernel refused the option.
        #[source]
        source: Option<io::Error>,
    },
    /// iperf3 printed nothing where its JSON output (`-J`) was expected.
    #[error("iperf3 printed no JSON (empty output)")]
    EmptyOutput,
    /// iperf3's JSON output stops early, e.g. iperf3 was killed mid-test.
    #[error("iperf3's JSON output is truncated after {len} bytes")]
    TruncatedOutput {
        /// How much was there.
        len: usize,
        /// The JSON parser's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// iperf3's output is not JSON at all.
    #[error("iperf3's output is not JSON; it starts with {start:?}")]
    NotJson {
        /// The first characters of the output.
        start: String,
        /// The JSON parser's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// iperf3 ran but reported a failure in its JSON output's `error` key.
    #[error("iperf3 reported an error: {message}")]
    Iperf3Reported {
        /// iperf3's message, e.g. "unable to connect to server: Connection refused".
        message: String,
    },
    /// A key of iperf3's JSON output that is needed is missing or has the wrong type.
    #[error("iperf3's JSON has no usable {path}: {detail}")]
    MissingJson {
        /// Where, e.g. `end.sum_sent`.
        path: String,
        /// What was wrong.
        detail: String,
    },

    /// The iperf3 program is not installed (or the configured path does not exist).
    #[error(
        "the iperf3 program `{}` was not found: install the `iperf3` package \
         (Debian/Ubuntu: `sudo apt-get install iperf3`), point the engine at the binary, \
         or use the native engine, which needs no binary",
        program.display()
    )]
    NotInstalled {
        /// The program as configured.
        program: PathBuf,
    },
    /// The program an engine runs on an SSH host could not be run there (the remote shell
    /// or `setsid` answered 127: no such program).
    #[error(
        "the program `{}` could not be run on SSH host `{host}`: {detail}; install it there \
         (for iperf3, Debian/Ubuntu: `apt-get install iperf3`) or point the engine at it",
        program.display()
    )]
    NotInstalledOn {
        /// The program as configured (a remote path, or a name looked up in the remote `PATH`).
        program: PathBuf,
        /// The host's name.
        host: String,
        /// What the remote side said (its standard error), or the exit status.
        detail: String,
    },
    /// The native engine on an SSH host runs the `testrig` binary there, and it could not be
    /// found here or copied there.
    #[error("the native engine on SSH host `{host}` runs the `testrig` binary there: {detail}")]
    EngineProgram {
        /// The host's name.
        host: String,
        /// What was searched or what failed.
        detail: String,
    },
    /// Spawning or supervising the iperf3 process failed.
    #[error(transparent)]
    Process(#[from] ProcessError),
    /// The iperf3 client's output was not a usable result; the message carries the
    /// program's standard error, the source says what was wrong with the output (one of
    /// [`EmptyOutput`](Self::EmptyOutput), [`TruncatedOutput`](Self::TruncatedOutput),
    /// [`NotJson`](Self::NotJson), [`Iperf3Reported`](Self::Iperf3Reported),
    /// [`MissingJson`](Self::MissingJson)).
    #[error("iperf3 client {exit} without a usable result{}", stderr_note(stderr))]
    Output {
        /// How the process ended.
        exit: Exit,
        /// What was wrong with the output.
        #[source]
        source: Box<IperfError>,
        /// The process's standard error lines.
        stderr: Vec<String>,
    },
    /// The iperf3 client's output file could not be read.
    #[error("cannot read iperf3's output file {}", path.display())]
    ReadOutput {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The iperf3 client ran past its deadline and was stopped.
    #[error("iperf3 client (pid {pid}) did not finish within {after:?}; it was stopped\n{tail}")]
    ProcessTimeout {
        /// The process id.
        pid: u32,
        /// The deadline.
        after: Duration,
        /// The last lines it printed.
        tail: Tail,
    },
    /// Every port an iperf3 server tried was in use.
    #[error(
        "iperf3 server could not listen on {host}: {tried} was already in use \
         ({attempts} attempt(s))"
    )]
    AddressInUse {
        /// The listening host.
        host: String,
        /// The port(s) tried.
        tried: String,
        /// How many starts were tried.
        attempts: u32,
    },
    /// No free port could be found for an iperf3 server.
    #[error("cannot find a free port on {host} for iperf3")]
    NoFreePort {
        /// The listening host.
        host: String,
        /// The cause.
        #[source]
        source: io::Error,
    },

    /// An option of a driver is invalid.
    #[error("driver `{driver}`: option `{field}` = {value}: {reason}")]
    InvalidOption {
        /// The driver.
        driver: String,
        /// The option.
        field: &'static str,
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// A measurement or a served test was asked of a driver that is not started.
    #[error("driver `{driver}` is not started")]
    NotStarted {
        /// The driver.
        driver: String,
    },
    /// A driver's engine failed.
    #[error("driver `{driver}` failed")]
    Driver {
        /// The driver.
        driver: String,
        /// What failed.
        #[source]
        source: Box<IperfError>,
    },
    /// A driver's measurement did not finish within its deadline.
    #[error("driver `{driver}`: the iperf measurement did not finish within {after:?}")]
    MeasurementTimeout {
        /// The driver.
        driver: String,
        /// The deadline.
        after: Duration,
    },
    /// A driver was stopped while it measured.
    #[error("driver `{driver}`: the iperf measurement was cancelled because the driver stopped")]
    Cancelled {
        /// The driver.
        driver: String,
    },
    /// What was asked is not available with the driver's engine.
    #[error("driver `{driver}`: {what} is not available with the {engine} engine")]
    Unsupported {
        /// The driver.
        driver: String,
        /// What was asked.
        what: &'static str,
        /// The engine.
        engine: String,
    },

    /// An [`IperfTest`](super::IperfTest)'s gate did not open in time; the client was not
    /// started.
    #[error(
        "iperf test {sender} → {receiver}: gate `{gate}` did not open within {after:?}; \
         the client was not started"
    )]
    GateTimeout {
        /// The sending endpoint.
        sender: String,
        /// The receiving endpoint.
        receiver: String,
        /// The gate's name.
        gate: String,
        /// Its timeout.
        after: Duration,
    },
    /// An [`IperfTest`](super::IperfTest)'s measurement failed.
    #[error("iperf test {sender} → {receiver} failed")]
    Test {
        /// The sending endpoint.
        sender: String,
        /// The receiving endpoint.
        receiver: String,
        /// What failed.
        #[source]
        source: Box<IperfError>,
    },
    /// An [`IperfTest`](super::IperfTest)'s environment (its server and client drivers)
    /// failed.
    #[error("iperf test {sender} → {receiver} failed")]
    Environment {
        /// The sending endpoint.
        sender: String,
        /// The receiving endpoint.
        receiver: String,
        /// What failed.
        #[source]
        source: Box<testrig::Error>,
    },
}

fn stderr_note(lines: &[String]) -> String {
    lines
        .iter()
        .map(|line| format!("\n  stderr| {line}"))
        .collect()
}

impl From<IperfError> for testrig::Error {
    fn from(error: IperfError) -> Self {
        testrig::Error::other(error)
    }
}

impl IperfError {
    /// This failure in iperf3 3.12's words where iperf3 has them (what it writes in a `-J`
    /// document's `error` key and after `iperf3: error - `), e.g. "unable to connect to
    /// server: Connection refused"; else this error's own message.
    pub fn iperf3_message(&self) -> String {
        match self {
            Self::Connect { source, .. } => {
                format!("unable to connect to server: {}", os_text(source))
            }
            Self::Resolve { source, .. } => {
                format!("unable to connect to server: {}", os_text(source))
            }
            Self::Bind { source, .. } => format!(
                "unable to start listener for connections: {}",
                os_text(source)
            ),
            // iperf3's server reads a missing cookie as an empty one and then fails on the
            // parameters, with no OS error to name.
            Self::PeerClosed {
                phase: Phase::Cookie | Phase::ParamExchange,
            } => "unable to receive parameters from client: ".to_owned(),
            Self::PeerClosed { .. } => "control socket has closed unexpectedly".to_owned(),
            Self::ClientTerminated { .. } | Self::Interrupted { .. } => {
                "the client has terminated".to_owned()
            }
            Self::ServerTerminated { .. } => "the server has terminated".to_owned(),
            Self::AccessDenied => "the server is busy running a test. try again later".to_owned(),
            Self::ServerError { message, .. } => message.clone(),
            Self::Stream {
                sending: true,
                source,
                ..
            } => format!("unable to write to stream socket: {}", os_text(source)),
            Self::Stream {
                sending: false,
                source,
                ..
            } => format!("unable to read from stream socket: {}", os_text(source)),
            other => {
                let text = other.to_string();
                let mut text = text.strip_prefix("iperf: ").unwrap_or(&text).to_owned();
                let mut cause = std::error::Error::source(other);
                while let Some(error) = cause {
                    text.push_str(": ");
                    text.push_str(&error.to_string());
                    cause = error.source();
                }
                text
            }
        }
    }

    /// This error as driver `driver`'s: an invalid option names it, any other failure is
    /// wrapped.
    pub(crate) fn in_driver(self, driver: &str) -> Self {
        match self {
            Self::InvalidConfig {
                field,
                value,
                reason,
            } => Self::InvalidOption {
                driver: driver.to_owned(),
                field,
                value,
                reason,
            },
            source => Self::Driver {
                driver: driver.to_owned(),
                source: Box::new(source),
            },
        }
    }

    pub(crate) fn io(phase: Phase) -> impl FnOnce(io::Error) -> Self {
        move |source| Self::Io { phase, source }
    }

    pub(crate) fn protocol(phase: Phase, detail: impl Into<String>) -> Self {
        Self::Protocol {
            phase,
            detail: detail.into(),
        }
    }

    pub(crate) fn invalid(field: &'static str, value: impl fmt::Display, reason: &str) -> Self {
        Self::InvalidConfig {
            field,
            value: value.to_string(),
            reason: reason.to_owned(),
        }
    }

    pub(crate) fn socket_option(
        option: &'static str,
        value: impl fmt::Display,
        code: i32,
        source: Option<io::Error>,
    ) -> Self {
        Self::SocketOption {
            option,
            value: value.to_string(),
            code,
            message: iperf3_error_text(code).to_owned(),
            source,
        }
    }

    /// The `SERVER_ERROR` error for iperf3 codes, with iperf3's message for the common ones.
    pub(crate) fn server_error(code: i32, errno: i32) -> Self {
        Self::ServerError {
            code,
            errno,
            message: iperf3_error_text(code).to_owned(),
        }
    }
}

/// An OS error as C's `strerror` (or `gai_strerror`) says it, without Rust's
/// " (os error N)" or the resolver's "failed to lookup address information: ".
fn os_text(error: &io::Error) -> String {
    let text = error.to_string();
    let text = text
        .strip_prefix("failed to lookup address information: ")
        .unwrap_or(&text);
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_owned(),
        _ => text.to_owned(),
    }
}

/// iperf3's error numbers this engine sends or explains (iperf_api.h).
pub(crate) mod iperf3_code {
    pub(crate) const DURATION: i32 = 5;
    pub(crate) const NUM_STREAMS: i32 = 6;
    pub(crate) const BLOCK_SIZE: i32 = 7;
    pub(crate) const BUF_SIZE: i32 = 8;
    pub(crate) const MSS: i32 = 10;
    pub(crate) const BURST: i32 = 15;
    pub(crate) const BAD_TOS: i32 = 21;
    pub(crate) const UDP_BLOCK_SIZE: i32 = 20;
    pub(crate) const REVERSE_BIDIR: i32 = 25;
    pub(crate) const RECV_PARAMS: i32 = 114;
    pub(crate) const SET_NODELAY: i32 = 122;
    pub(crate) const SET_MSS: i32 = 123;
    pub(crate) const SET_BUF: i32 = 124;
    pub(crate) const SET_TOS: i32 = 125;
    pub(crate) const SET_COS: i32 = 126;
    pub(crate) const PROTOCOL: i32 = 131;
    pub(crate) const AFFINITY: i32 = 132;
    pub(crate) const SET_CONGESTION: i32 = 134;
    pub(crate) const SET_BUF2: i32 = 141;
    pub(crate) const SET_DONT_FRAGMENT: i32 = 145;
    pub(crate) const SET_USER_TIMEOUT: i32 = 148;
    pub(crate) const STREAM_LISTEN: i32 = 202;
    pub(crate) const STREAM_ACCEPT: i32 = 204;
}

fn iperf3_error_text(code: i32) -> &'static str {
    match code {
        5 => "test duration too long (maximum 86400 seconds)",
        6 => "number of parallel streams too large (maximum 128)",
        7 => "block size too large",
        8 => "socket buffer size too large (maximum = 536870912 bytes)",
        10 => "TCP MSS too large (maximum = 9216 bytes)",
        15 => "invalid burst count (maximum = 1000)",
        20 => "block size invalid",
        21 => "bad TOS value (must be between 0 and 255 inclusive)",
        25 => "cannot be both reverse and bidirectional",
        27 => "total required bandwidth is larger than server limit",
        101 => "test initialization failed",
        102 => "unable to start listener for connections",
        114 => "unable to receive parameters from client",
        122 => "unable to set TCP/SCTP NODELAY",
        123 => "unable to set TCP/SCTP MSS",
        124 => "unable to set socket buffer size",
        125 => "unable to set IP TOS",
        126 => "unable to set IPv6 traffic class",
        131 => "protocol does not exist",
        132 => "unable to set CPU affinity",
        134 => {
            "unable to set TCP_CONGESTION: Supplied congestion control algorithm not supported \
             on this host"
        }
        141 => "socket buffer size not set correctly",
        145 => "unable to set IP Do-Not-Fragment flag",
        // Sic: iperf3 3.12 says this for TCP_USER_TIMEOUT (our message adds the option).
        148 => "unable to set TCP/SCTP MSS",
        142 => "test authorization failed",
        202 => "unable to start stream listener",
        204 => "unable to accept stream connection",
        _ => "see iperf3's error list (iperf_api.h)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_data_stream_reads_as_iperf3_says_it_by_its_direction() {
        let failed = |sending, errno| IperfError::Stream {
            stream: 1,
            sending,
            source: io::Error::from_raw_os_error(errno),
        };
        assert_eq!(
            failed(true, libc::EPIPE).iperf3_message(),
            "unable to write to stream socket: Broken pipe"
        );
        assert_eq!(
            failed(false, libc::ECONNRESET).iperf3_message(),
            "unable to read from stream socket: Connection reset by peer"
        );
        assert_eq!(
            failed(false, libc::ECONNRESET).to_string(),
            "iperf: data stream 1 failed"
        );
    }
}
