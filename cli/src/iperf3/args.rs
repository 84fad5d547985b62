//! Parsing iperf3's command-line flags.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use testrig_drivers::iperf::units::{parse_bitrate, parse_size};
use testrig_drivers::iperf::{
    AddressFamily, ClientOptions, DEFAULT_PORT, Direction, IperfError, Protocol, StreamOptions,
};

use testrig_drivers::iperf::text::units::UnitFormat;

/// iperf3's `--timestamps` default format (`TIMESTAMP_FORMAT`): the locale's date and time
/// and a space.
const DEFAULT_TIMESTAMP_FORMAT: &str = "%c ";
/// iperf3's largest `-w` (`MAX_TCP_BUFFER`, 512 MiB).
const MAX_WINDOW: u64 = 512 * 1024 * 1024;
/// iperf3's largest `-M` (`MAX_MSS`, 9 KiB).
const MAX_MSS: u32 = 9 * 1024;
/// iperf3's largest burst (`MAX_BURST`).
const MAX_BURST: u32 = 1000;
/// iperf3's longest test (`MAX_TIME`), in seconds.
const MAX_DURATION_SECS: u64 = 86_400;
/// The starts of iperf3's own words (`iperf_strerror`) for a value it refuses: such a reason
/// is printed alone after `parameter error - `, as iperf3 prints it.
const IPERF3_REASONS: &[&str] = &[
    "socket buffer size too large",
    "TCP MSS too large",
    "bad TOS value",
    "invalid burst count",
    "send timeout value is incorrect",
    "receive timeout value is incorrect",
    "bad format specifier",
];
/// iperf3's most parallel streams (`MAX_STREAMS`).
const MAX_PARALLEL: u32 = 128;
/// iperf3's largest TCP block (`MAX_BLOCKSIZE`).
const MAX_TCP_BLOCK: u64 = 1024 * 1024;

/// Usage text, in iperf3's words for the flags supported here.
pub(crate) const USAGE: &str = "\
Usage: iperf3 [-s|-c host] [options]
       iperf3 [-h|--help] [-v|--version]

Server or Client:
  -p, --port      #         server port to listen on/connect to (default 5201)
  -i, --interval  #         seconds between periodic reports (0 disables)
  -I, --pidfile file        write PID file
  -B, --bind      <host>    bind to the interface associated with the address <host>
  -f, --format   [kmgtKMGT] format to report: Kbits, Mbits, Gbits, Tbits
  -V, --verbose             more detailed output
  -J, --json                output in JSON format
  --logfile f               send output to a log file
  --forceflush              force flushing output at every interval (always done here)
  --timestamps<=format>     emit a timestamp at the start of each output line
                            (optional \"=\" and format string as per strftime(3))
  -v, --version             show version information and quit
      --bind-dev  <dev>     bind to the network interface with SO_BINDTODEVICE
                            (also `-B <host>%<dev>`, `-c <host>%<dev>`)
      --rcv-timeout #       idle timeout for receiving data (default 120000 ms)
      --snd-timeout #       timeout for unacknowledged TCP data (ms, default: the system's)
  -h, --help                show this message and quit
Server specific:
  -s, --server              run in server mode
  -D, --daemon              run the server as a daemon
  -1, --one-off             handle one client connection then exit
Client specific:
  -c, --client    <host>    run in client mode, connecting to <host>
  -u, --udp                 use UDP rather than TCP
      --connect-timeout #   timeout for control connection setup (ms)
  -b, --bitrate #[KMG][/#]  target bitrate in bits/sec (0 for unlimited; UDP default 1 Mbit/sec)
                            (optional slash and packet count for burst mode)
      --pacing-timer #[KMG] set the timing for pacing, in microseconds (default 1000)
      --fq-rate #[KMG]      enable fair-queuing based socket pacing in bits/sec
  -t, --time      #         time in seconds to transmit for (default 10 secs)
  -n, --bytes     #[KMG]    number of bytes to transmit (instead of -t)
  -k, --blockcount #[KMG]   number of blocks (packets) to transmit (instead of -t or -n)
  -l, --length    #[KMG]    length of buffer to read or write (TCP 128 KB, UDP the path MSS)
      --cport     <port>    bind to a specific client port (TCP and UDP, default: ephemeral port)
  -P, --parallel  #         number of parallel client streams to run
  -R, --reverse             run in reverse mode (server sends, client receives)
      --bidir               run in bidirectional mode
  -w, --window    #[KMG]    set send/receive socket buffer sizes
  -C, --congestion <algo>   set TCP congestion control algorithm
  -M, --set-mss   #         set TCP maximum segment size (MTU - 40 bytes)
  -N, --no-delay            set TCP no delay, disabling Nagle's Algorithm
  -4, --version4            only use IPv4
  -6, --version6            only use IPv6
  -S, --tos N               set the IP type of service, 0-255 (52, 064 and 0x34 are the same)
      --dscp N or --dscp val  set the IP dscp value, either 0-63 or symbolic
  -O, --omit      #         omit the first n seconds
  --get-server-output       get results from server
  -Z, --zerocopy            send with sendfile(2), sparing a copy (the default here)
      --no-zerocopy         send with plain writes, as iperf3 does without -Z
  -T, --title str           prefix every output line with this string
      --extra-data str      data string to include in client and server JSON
      --udp-counters-64bit  use 64-bit counters in UDP test packets
      --repeating-payload   use repeating pattern in payload, instead of randomized payload
      --dont-fragment       set IPv4 Don't Fragment flag

Refused by this engine (iperf3 has them): -A (CPU affinity), -L (IPv6 flow label), -F
(file transfer), --sctp, --username/--rsa-public-key-path (authentication).

[KMG] indicates options that support a K/M/G suffix for kilo-, mega-, or giga-
";

/// A parsed command line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CliCommand {
    /// `-h`.
    Help,
    /// `-v`.
    Version,
    /// `-s`.
    Server(ServerCommand),
    /// `-c HOST`.
    Client(ClientCommand),
}

/// What `-s` asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ServerCommand {
    /// `-B`.
    pub bind: Option<IpAddr>,
    /// `-p`.
    pub port: u16,
    /// `-1`.
    pub one_off: bool,
    /// `-J`.
    pub json: bool,
    /// `-i` (`None`: no interval reports).
    pub interval: Option<Duration>,
    /// How the text report looks and where it goes.
    pub report: ReportOptions,
    /// `-D`: fork into the background.
    pub daemon: bool,
    /// `-I`: write the process id here while running.
    pub pidfile: Option<PathBuf>,
    /// `-4`/`-6`: listen on IPv4 or IPv6 only (without `-B`).
    pub family: AddressFamily,
    /// `--snd-timeout`: `TCP_USER_TIMEOUT` on the data streams.
    pub send_timeout: Option<Duration>,
    /// `--rcv-timeout`: how long the server waits for data while it receives.
    pub receive_timeout: Option<Duration>,
    /// `--bind-dev` (or `-B addr%dev`): listen on this network device only.
    pub bind_device: Option<String>,
}

/// The output-only options (`-V -T -f --logfile --timestamps --forceflush`).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ReportOptions {
    /// `-V`.
    pub verbose: bool,
    /// `-T` (client only).
    pub title: Option<String>,
    /// `-f`.
    pub format: UnitFormat,
    /// `--logfile`: append the report to this file instead of standard output.
    pub logfile: Option<PathBuf>,
    /// `--timestamps[=FORMAT]`: the `strftime(3)` format before each line.
    pub timestamps: Option<String>,
    /// `--forceflush` (output is flushed at every report anyway).
    pub force_flush: bool,
}

/// What `-c HOST` asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClientCommand {
    /// The server's host (`-c`).
    pub host: String,
    /// The server's port (`-p`).
    pub port: u16,
    /// What the test measures, every value checked.
    pub options: ClientOptions,
    /// `-l` was given.
    pub block_size_given: bool,
    /// `-M`: the segment size asked for.
    pub mss: Option<u32>,
    /// `-i`: the interval reports' length (`None`: `-i 0`, none).
    pub interval: Option<Duration>,
    /// `-J`.
    pub json: bool,
    /// How the text report looks and where it goes.
    pub report: ReportOptions,
    /// `-I`: write the process id here while running.
    pub pidfile: Option<PathBuf>,
}

impl ClientCommand {
    /// The options the engine runs with: as asked, without a limit on a test that announces
    /// no duration, as iperf3 gives none (`-n`, `-k` and `-t 0` run as long as they take).
    pub(crate) fn engine_options(&self) -> ClientOptions {
        self.options.clone().max_open_ended(Duration::MAX)
    }
}

/// A command line that cannot be run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// A flag this command line does not know.
    #[error("unrecognized option {flag:?} (see --help)")]
    UnknownFlag {
        /// The flag as given.
        flag: String,
    },
    /// A flag that needs a value came last.
    #[error("option {flag} needs a value")]
    MissingValue {
        /// The flag.
        flag: String,
    },
    /// A flag's value is not valid.
    #[error("invalid value {value:?} for {flag}: {reason}")]
    BadValue {
        /// The flag.
        flag: String,
        /// The value given.
        value: String,
        /// What is expected.
        reason: &'static str,
    },
    /// Neither `-s` nor `-c`.
    #[error("must either be a client (-c) or server (-s)")]
    NoRole,
    /// Both `-s` and `-c`.
    #[error("cannot be both server and client")]
    BothRoles,
    /// A client-only flag given to a server.
    #[error("option {flag} is client-only")]
    ClientOnly {
        /// The flag.
        flag: String,
    },
    /// A flag iperf3 has that this engine does not implement.
    #[error("option {flag} is not supported by testrig's native iperf3 engine: {reason}")]
    Unsupported {
        /// The flag.
        flag: String,
        /// What it would do and why it is not done.
        reason: &'static str,
    },
    /// Flags that contradict each other.
    #[error("{0}")]
    Conflict(&'static str),
    /// The client configuration was refused.
    #[error(transparent)]
    Config(#[from] IperfError),
}

impl CliError {
    /// What getopt prints for a flag iperf3 does not know or that lacks its value (iperf3
    /// then prints its usage on standard error); `None` for the errors iperf3 calls
    /// parameter errors.
    pub(crate) fn getopt_message(&self) -> Option<String> {
        let short = |flag: &str| {
            flag.strip_prefix('-')
                .filter(|rest| !rest.starts_with('-'))
                .and_then(|rest| rest.chars().next())
        };
        match self {
            Self::UnknownFlag { flag } => Some(match short(flag) {
                Some(letter) => format!("invalid option -- '{letter}'"),
                None => format!("unrecognized option '{flag}'"),
            }),
            Self::MissingValue { flag } => Some(match short(flag) {
                Some(letter) => format!("option requires an argument -- '{letter}'"),
                None => format!("option '{flag}' requires an argument"),
            }),
            _ => None,
        }
    }

    /// The words after iperf3's `parameter error - `: iperf3's own where iperf3 makes the
    /// same check, this engine's (naming the flag and the value) where iperf3 makes none.
    pub(crate) fn parameter_message(&self) -> String {
        const BAD_PORT: &str = "port number must be between 1 and 65535 inclusive";
        match self {
            Self::BadValue { flag, .. } if matches!(flag.as_str(), "--port" | "--cport") => {
                BAD_PORT.to_owned()
            }
            // iperf3 adds the OS's words for errno to these two, and errno is 0 there: `: `.
            Self::BadValue { reason, .. } if reason.contains("timeout value is incorrect") => {
                format!("{reason}: ")
            }
            Self::BadValue { reason, .. }
                if IPERF3_REASONS.iter().any(|words| reason.starts_with(words)) =>
            {
                (*reason).to_owned()
            }
            Self::Config(IperfError::InvalidConfig {
                field,
                value,
                reason,
            }) => {
                let number = value.parse::<u64>().ok();
                match *field {
                    "port" | "client_port" => BAD_PORT.to_owned(),
                    "parallel" if number.is_some_and(|n| n > u64::from(MAX_PARALLEL)) => {
                        format!("number of parallel streams too large (maximum = {MAX_PARALLEL})")
                    }
                    "block_size" if reason.ends_with("for Udp") => {
                        "block size invalid (minimum = 16 bytes, maximum = 65507 bytes)".to_owned()
                    }
                    "block_size" if number.is_some_and(|n| n > MAX_TCP_BLOCK) => {
                        format!("block size too large (maximum = {MAX_TCP_BLOCK} bytes)")
                    }
                    "interval" => {
                        "invalid report interval (min = 0.1, max = 60 seconds)".to_owned()
                    }
                    "duration" => {
                        format!("test duration too long (maximum = {MAX_DURATION_SECS} seconds)")
                    }
                    _ => self.to_string_without_prefix(),
                }
            }
            _ => self.to_string_without_prefix(),
        }
    }

    /// This error's words without the engine's `iperf: ` prefix.
    fn to_string_without_prefix(&self) -> String {
        match self {
            Self::Config(error) => error.iperf3_message(),
            other => other.to_string(),
        }
    }
}

/// Flags that take a value, long and short spellings.
const VALUED: &[(&str, &str)] = &[
    ("-c", "--client"),
    ("-p", "--port"),
    ("-B", "--bind"),
    ("", "--bind-dev"),
    ("-t", "--time"),
    ("-n", "--bytes"),
    ("-k", "--blockcount"),
    ("-P", "--parallel"),
    ("-b", "--bitrate"),
    ("-l", "--length"),
    ("-i", "--interval"),
    ("-O", "--omit"),
    ("-f", "--format"),
    ("-T", "--title"),
    ("", "--logfile"),
    ("-I", "--pidfile"),
    ("", "--snd-timeout"),
    ("", "--rcv-timeout"),
    ("-w", "--window"),
    ("-M", "--set-mss"),
    ("-C", "--congestion"),
    ("-S", "--tos"),
    ("", "--dscp"),
    ("", "--extra-data"),
    ("", "--connect-timeout"),
    ("", "--fq-rate"),
    ("", "--pacing-timer"),
    ("", "--cport"),
    ("-A", "--affinity"),
    ("-L", "--flowlabel"),
    ("-F", "--file"),
    ("", "--username"),
    ("", "--rsa-public-key-path"),
];

/// Flags without a value.
const SWITCHES: &[(&str, &str)] = &[
    ("-s", "--server"),
    ("-R", "--reverse"),
    ("-u", "--udp"),
    ("-1", "--one-off"),
    ("-J", "--json"),
    ("-h", "--help"),
    ("", "--bidir"),
    ("", "--forceflush"),
    ("-Z", "--zerocopy"),
    ("", "--no-zerocopy"),
    ("-V", "--verbose"),
    ("-v", "--version"),
    ("-D", "--daemon"),
    ("", "--get-server-output"),
    ("-N", "--no-delay"),
    ("-4", "--version4"),
    ("-6", "--version6"),
    ("", "--repeating-payload"),
    ("", "--udp-counters-64bit"),
    ("", "--dont-fragment"),
    ("", "--sctp"),
];

/// iperf3 flags this engine refuses, with what they would do.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "--affinity",
        "CPU affinity; the native engine runs its streams on a shared thread pool",
    ),
    ("--flowlabel", "IPv6 flow labels are not implemented"),
    ("--file", "file transfer (-F) is not implemented"),
    ("--sctp", "SCTP is not implemented"),
    ("--username", "authentication (RSA) is not implemented"),
    (
        "--rsa-public-key-path",
        "authentication (RSA) is not implemented",
    ),
];

/// Parses iperf3-style arguments (without the program name).
pub(crate) fn parse_args<I, S>(args: I) -> Result<CliCommand, CliError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let flags = split_flags(args.into_iter().map(Into::into).collect())?;
    let get = |long: &str| {
        flags
            .iter()
            .rev()
            .find(|(f, _)| f == long)
            .map(|(_, v)| v.clone().unwrap_or_default())
    };
    let has = |long: &str| flags.iter().any(|(f, _)| f == long);
    if has("--help") {
        return Ok(CliCommand::Help);
    }
    if has("--version") {
        return Ok(CliCommand::Version);
    }
    let report = report_options(&flags)?;
    let pidfile = get("--pidfile").map(PathBuf::from);
    if let Some((flag, reason)) = UNSUPPORTED.iter().find(|(flag, _)| has(flag)) {
        return Err(CliError::Unsupported {
            flag: (*flag).to_owned(),
            reason,
        });
    }
    let port = match get("--port") {
        Some(v) => parse_number::<u16>("--port", &v, "a port number 1-65535")
            .and_then(|p| non_zero("--port", &v, p))?,
        None => DEFAULT_PORT,
    };
    // `-B addr%dev` and `-c host%dev` are shorthands for `--bind-dev dev`.
    let (bind_text, bind_dev) = split_device(get("--bind"));
    let (host, host_dev) = split_device(get("--client"));
    let bind_device = get("--bind-dev").or(host_dev).or(bind_dev);
    let bind = match bind_text {
        Some(v) => Some(v.parse::<IpAddr>().map_err(|_| CliError::BadValue {
            flag: "--bind".into(),
            value: v.clone(),
            reason: "an IP address",
        })?),
        None => None,
    };
    let interval = match get("--interval") {
        Some(v) => {
            let secs = parse_number::<f64>("--interval", &v, "seconds, e.g. 0.5")?;
            (secs > 0.0).then(|| Duration::from_secs_f64(secs))
        }
        None => Some(Duration::from_secs(1)),
    };
    let json = has("--json");
    match (has("--server"), host) {
        (true, Some(_)) => Err(CliError::BothRoles),
        (false, None) => Err(CliError::NoRole),
        (true, None) => {
            const CLIENT_ONLY: &[&str] = &[
                "--title",
                "--time",
                "--bytes",
                "--blockcount",
                "--parallel",
                "--bitrate",
                "--length",
                "--omit",
                "--reverse",
                "--bidir",
                "--udp",
                "--client",
                "--zerocopy",
                "--no-zerocopy",
                "--get-server-output",
                "--window",
                "--set-mss",
                "--congestion",
                "--tos",
                "--dscp",
                "--extra-data",
                "--connect-timeout",
                "--fq-rate",
                "--pacing-timer",
                "--no-delay",
                "--repeating-payload",
                "--dont-fragment",
            ];
            if let Some((flag, _)) = flags
                .iter()
                .find(|(f, _)| CLIENT_ONLY.contains(&f.as_str()))
            {
                return Err(CliError::ClientOnly { flag: flag.clone() });
            }
            let family = match (has("--version4"), has("--version6")) {
                (true, true) => return Err(CliError::Conflict("-4 and -6 contradict each other")),
                (true, false) => AddressFamily::V4,
                (false, true) => AddressFamily::V6,
                (false, false) => AddressFamily::Any,
            };
            Ok(CliCommand::Server(ServerCommand {
                bind,
                port,
                one_off: has("--one-off"),
                json,
                interval,
                report,
                daemon: has("--daemon"),
                family,
                pidfile,
                send_timeout: send_timeout(get("--snd-timeout"))?,
                receive_timeout: receive_timeout(get("--rcv-timeout"))?,
                bind_device,
            }))
        }
        (false, Some(host)) => {
            if has("--daemon") {
                return Err(CliError::Conflict("option -D is server-only"));
            }
            let mut b = ClientOptions::new().interval(interval);
            if let Some(device) = &bind_device {
                b = b.bind_device(device.clone());
            }
            if let Some(ip) = bind {
                b = b.bind(ip);
            }
            let limits = ["--time", "--bytes", "--blockcount"]
                .iter()
                .filter(|f| has(f))
                .count();
            if limits > 1 {
                return Err(CliError::Conflict(
                    "only one test end condition (-t, -n, -k) may be specified",
                ));
            }
            if let Some(v) = get("--time") {
                let secs = parse_number::<f64>("--time", &v, "seconds")?;
                b = if secs == 0.0 {
                    // As iperf3: the test runs until it is interrupted.
                    b.until_interrupted()
                } else {
                    b.duration(Duration::from_secs_f64(secs.clamp(0.0, 1e9)))
                };
            }
            if let Some(v) = get("--bytes") {
                b = b.bytes(size("--bytes", &v)?);
            }
            if let Some(v) = get("--blockcount") {
                b = b.blocks(size("--blockcount", &v)?);
            }
            if let Some(v) = get("--parallel") {
                b = b.parallel(parse_number("--parallel", &v, "a number of streams")?);
            }
            if let Some(v) = get("--length") {
                let len = size("--length", &v)?;
                let len = u32::try_from(len).map_err(|_| CliError::BadValue {
                    flag: "--length".into(),
                    value: v.clone(),
                    reason: "a block length below 4G",
                })?;
                b = b.block_size(len);
            }
            if let Some(v) = get("--bitrate") {
                // `-b rate/burst`: the burst count is a stream option (see `client_extras`).
                let v = v
                    .split_once('/')
                    .map_or(v.clone(), |(rate, _)| rate.to_owned());
                let rate = parse_bitrate(&v).ok_or_else(|| CliError::BadValue {
                    flag: "--bitrate".into(),
                    value: v.clone(),
                    reason: "a rate such as 100M or 1.5G",
                })?;
                b = b.bitrate(rate);
            }
            if let Some(v) = get("--omit") {
                let secs = parse_number::<f64>("--omit", &v, "seconds")?;
                b = b.omit(Duration::from_secs_f64(secs.clamp(0.0, 1e9)));
            }
            if has("--udp") {
                b = b.protocol(Protocol::Udp);
            }
            // Zero-copy sending is the default (`-Z` is accepted for iperf3's scripts);
            // `--no-zerocopy` sends with plain writes like iperf3 without `-Z`.
            match (has("--zerocopy"), has("--no-zerocopy")) {
                (true, true) => {
                    return Err(CliError::Conflict(
                        "-Z and --no-zerocopy contradict each other",
                    ));
                }
                (_, no_zero_copy) => b = b.zero_copy(!no_zero_copy),
            }
            let direction = match (has("--reverse"), has("--bidir")) {
                (true, true) => {
                    return Err(CliError::Conflict(
                        "cannot be both reverse and bidirectional",
                    ));
                }
                (true, false) => Direction::Reverse,
                (false, true) => Direction::Bidirectional,
                (false, false) => Direction::Forward,
            };
            b = b.direction(direction);
            b = b.get_server_output(has("--get-server-output"));
            if let Some(title) = &report.title {
                b = b.title(title.clone());
            }
            b = client_extras(b, &get, &has)?;
            b.check()?;
            Ok(CliCommand::Client(ClientCommand {
                host,
                port,
                options: b,
                block_size_given: has("--length"),
                // Checked with the stream options.
                mss: get("--set-mss").and_then(|v| v.parse().ok()),
                interval,
                json,
                report,
                pidfile,
            }))
        }
    }
}

/// The client flags beyond the basic test shape: stream options, address family, ports,
/// extra data, timeouts.
fn client_extras(
    mut b: ClientOptions,
    get: &impl Fn(&str) -> Option<String>,
    has: &impl Fn(&str) -> bool,
) -> Result<ClientOptions, CliError> {
    let bad = |flag: &str, value: &str, reason: &'static str| CliError::BadValue {
        flag: flag.into(),
        value: value.into(),
        reason,
    };
    let mut o = StreamOptions::new();
    if let Some(v) = get("--window") {
        let window = size("--window", &v)?;
        if window > MAX_WINDOW {
            return Err(bad(
                "--window",
                &v,
                "socket buffer size too large (maximum = 536870912 bytes)",
            ));
        }
        o = o.window(window);
    }
    if let Some(v) = get("--set-mss") {
        let mss = parse_number::<u32>("--set-mss", &v, "a segment size in bytes")?;
        if mss > MAX_MSS {
            return Err(bad(
                "--set-mss",
                &v,
                "TCP MSS too large (maximum = 9216 bytes)",
            ));
        }
        o = o.mss(mss);
    }
    if let Some(v) = get("--congestion") {
        o = o.congestion(v);
    }
    if has("--no-delay") {
        o = o.no_delay(true);
    }
    // As in iperf3, the later of -S and --dscp wins; both set the TOS byte.
    let tos_flag = ["--tos", "--dscp"]
        .into_iter()
        .filter_map(|f| get(f).map(|v| (f, v)))
        .last();
    if let Some((flag, v)) = tos_flag {
        let tos = match flag {
            "--tos" => parse_c_integer(&v)
                .and_then(|t| u8::try_from(t).ok())
                .ok_or_else(|| {
                    bad(
                        flag,
                        &v,
                        "bad TOS value (must be between 0 and 255 inclusive)",
                    )
                })?,
            _ => StreamOptions::dscp_tos(&v).ok_or_else(|| {
                bad(
                    flag,
                    &v,
                    "bad TOS value (a DSCP 0-63 or a name such as af11, ef, cs1)",
                )
            })?,
        };
        o = o.tos(tos);
    }
    if let Some(v) = get("--fq-rate") {
        let rate = parse_bitrate(&v).ok_or_else(|| bad("--fq-rate", &v, "a rate such as 100M"))?;
        o = o.fq_rate(rate);
    }
    if let Some(v) = get("--pacing-timer") {
        let micros =
            parse_size(&v).ok_or_else(|| bad("--pacing-timer", &v, "microseconds, e.g. 1000"))?;
        o = o.pacing_timer(Duration::from_micros(micros));
    }
    if let Some(v) = get("--bitrate")
        && let Some((_, burst)) = v.split_once('/')
    {
        let burst =
            parse_number::<u32>("--bitrate", burst, "a rate and a burst count, e.g. 10M/5")?;
        if burst > MAX_BURST {
            return Err(bad("--bitrate", &v, "invalid burst count (maximum = 1000)"));
        }
        o = o.burst(burst);
    }
    if let Some(timeout) = send_timeout(get("--snd-timeout"))? {
        o = o.send_timeout(timeout);
    }
    if let Some(timeout) = receive_timeout(get("--rcv-timeout"))? {
        // A client that only sends is refused when the configuration is built.
        o = o.receive_timeout(timeout);
    }
    o = o
        .repeating_payload(has("--repeating-payload"))
        .dont_fragment(has("--dont-fragment"));
    b = b.stream_options(o);
    b = b.udp_counters_64bit(has("--udp-counters-64bit"));
    match (has("--version4"), has("--version6")) {
        (true, true) => return Err(CliError::Conflict("-4 and -6 contradict each other")),
        (true, false) => b = b.family(AddressFamily::V4),
        (false, true) => b = b.family(AddressFamily::V6),
        (false, false) => {}
    }
    if let Some(v) = get("--cport") {
        let port = parse_number::<u16>(
            "--cport",
            &v,
            "port number must be between 1 and 65535 inclusive",
        )
        .and_then(|p| non_zero("--cport", &v, p))?;
        b = b.client_port(port);
    }
    if let Some(v) = get("--extra-data") {
        b = b.extra_data(v);
    }
    if let Some(v) = get("--connect-timeout") {
        let millis = parse_size(&v)
            .filter(|&ms| ms > 0)
            .ok_or_else(|| bad("--connect-timeout", &v, "milliseconds, more than 0"))?;
        b = b.connect_timeout(Duration::from_millis(millis));
    }
    Ok(b)
}

/// Reads a number as C's `strtol(s, _, 0)` does: decimal, `0x` hex or leading-0 octal.
fn parse_c_integer(text: &str) -> Option<i64> {
    let t = text.trim();
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let value = if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16).ok()?
    } else if t.len() > 1 && t.starts_with('0') {
        i64::from_str_radix(&t[1..], 8).ok()?
    } else {
        t.parse().ok()?
    };
    Some(if negative { -value } else { value })
}

/// Splits iperf3's `<host>%<dev>`; an IPv6 link-local literal keeps its `%scope`.
fn split_device(value: Option<String>) -> (Option<String>, Option<String>) {
    let Some(value) = value else {
        return (None, None);
    };
    match value.split_once('%') {
        Some((host, device))
            if !device.is_empty()
                && !host
                    .parse::<std::net::Ipv6Addr>()
                    .is_ok_and(|ip| ip.is_unicast_link_local()) =>
        {
            (Some(host.to_owned()), Some(device.to_owned()))
        }
        _ => (Some(value), None),
    }
}

/// `--snd-timeout MS`, 0 to 86400000 as iperf3 allows (0: the system's).
fn send_timeout(value: Option<String>) -> Result<Option<Duration>, CliError> {
    let Some(v) = value else {
        return Ok(None);
    };
    let millis = parse_number::<u64>(
        "--snd-timeout",
        &v,
        "send timeout value is incorrect or not in range",
    )?;
    if millis > 86_400_000 {
        return Err(CliError::BadValue {
            flag: "--snd-timeout".into(),
            value: v,
            reason: "send timeout value is incorrect or not in range",
        });
    }
    Ok((millis > 0).then(|| Duration::from_millis(millis)))
}

/// `--rcv-timeout MS`, 100 to 86400000 as iperf3 allows.
fn receive_timeout(value: Option<String>) -> Result<Option<Duration>, CliError> {
    let Some(v) = value else {
        return Ok(None);
    };
    let reason = "receive timeout value is incorrect or not in range";
    let millis = parse_number::<u64>("--rcv-timeout", &v, reason)?;
    if !(100..=86_400_000).contains(&millis) {
        return Err(CliError::BadValue {
            flag: "--rcv-timeout".into(),
            value: v,
            reason,
        });
    }
    Ok(Some(Duration::from_millis(millis)))
}

/// Splits arguments into (long flag, value) pairs, accepting `-t 1`, `-t1`, `--time 1` and
/// `--time=1`.
fn split_flags(args: Vec<String>) -> Result<Vec<(String, Option<String>)>, CliError> {
    let mut flags = Vec::new();
    let mut rest = args.into_iter();
    while let Some(arg) = rest.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let long_of = |table: &[(&str, &str)], name: &str| {
            table
                .iter()
                .find(|(short, long)| (!short.is_empty() && *short == name) || *long == name)
                .map(|(_, long)| (*long).to_owned())
        };
        if name == "--timestamps" {
            // An optional value, attached only (`--timestamps=%s `), as getopt takes it.
            flags.push((name, inline));
        } else if let Some(long) = long_of(VALUED, &name) {
            let value = match inline {
                Some(v) => v,
                None => rest
                    .next()
                    .ok_or(CliError::MissingValue { flag: arg.clone() })?,
            };
            flags.push((long, Some(value)));
        } else if let Some(long) = long_of(SWITCHES, &name) {
            flags.push((long, None));
        } else if arg.len() > 2 && arg.starts_with('-') && !arg.starts_with("--") {
            // `-t5`: a short valued flag with its value attached.
            let (short, value) = arg.split_at(2);
            match long_of(VALUED, short) {
                Some(long) => flags.push((long, Some(value.to_owned()))),
                None => return Err(CliError::UnknownFlag { flag: arg }),
            }
        } else {
            return Err(CliError::UnknownFlag { flag: arg });
        }
    }
    Ok(flags)
}

/// The output-only options, shared by both roles.
fn report_options(flags: &[(String, Option<String>)]) -> Result<ReportOptions, CliError> {
    let last = |long: &str| {
        flags
            .iter()
            .rev()
            .find(|(f, _)| f == long)
            .map(|(_, v)| v.clone())
    };
    let format = match last("--format").flatten() {
        Some(v) => unit_format(&v).ok_or(CliError::BadValue {
            flag: "--format".into(),
            value: v.clone(),
            reason: "bad format specifier (valid formats are in the set [kmgtKMGT])",
        })?,
        None => UnitFormat::AdaptiveBits,
    };
    Ok(ReportOptions {
        verbose: last("--verbose").is_some(),
        title: last("--title").flatten(),
        format,
        logfile: last("--logfile").flatten().map(PathBuf::from),
        timestamps: last("--timestamps")
            .map(|v| v.unwrap_or_else(|| DEFAULT_TIMESTAMP_FORMAT.to_owned())),
        force_flush: last("--forceflush").is_some(),
    })
}

/// The format of `-f LETTER`, if it is one of iperf3's `kmgtKMGT`.
fn unit_format(letter: &str) -> Option<UnitFormat> {
    match letter {
        "k" | "m" | "g" | "t" => letter.chars().next().map(UnitFormat::Bits),
        "K" | "M" | "G" | "T" => letter.chars().next().map(UnitFormat::Bytes),
        _ => None,
    }
}

fn parse_number<T: std::str::FromStr>(
    flag: &str,
    value: &str,
    reason: &'static str,
) -> Result<T, CliError> {
    value.trim().parse().map_err(|_| CliError::BadValue {
        flag: flag.into(),
        value: value.into(),
        reason,
    })
}

fn non_zero(flag: &str, value: &str, port: u16) -> Result<u16, CliError> {
    if port == 0 {
        return Err(CliError::BadValue {
            flag: flag.into(),
            value: value.into(),
            reason: "a port number 1-65535",
        });
    }
    Ok(port)
}

fn size(flag: &str, value: &str) -> Result<u64, CliError> {
    parse_size(value).ok_or_else(|| CliError::BadValue {
        flag: flag.into(),
        value: value.into(),
        reason: "a size such as 10M or 128K",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(args: &[&str]) -> ClientCommand {
        match parse_args(args.iter().copied()) {
            Ok(CliCommand::Client(c)) => c,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn client_flags_map_onto_the_configuration() {
        let c = client(&[
            "-c", "10.0.0.1", "-p", "5999", "-t", "3", "-P", "4", "-R", "-J",
        ]);
        assert_eq!((c.host.as_str(), c.port), ("10.0.0.1", 5999));
        assert_eq!(
            c.options,
            ClientOptions::new()
                .duration(Duration::from_secs(3))
                .parallel(4)
                .direction(Direction::Reverse)
        );
        assert!(c.json);
    }

    #[test]
    fn udp_rates_lengths_and_bytes_take_iperf3_suffixes() {
        let c = client(&["-c", "h", "-u", "-b", "100M", "-l", "1400", "-n", "10M"]);
        assert_eq!(
            c.options,
            ClientOptions::new()
                .protocol(Protocol::Udp)
                .bitrate(100_000_000)
                .block_size(1400)
                .bytes(10 * 1024 * 1024)
        );
        assert!(c.block_size_given);
    }

    #[test]
    fn attached_and_equals_forms_are_accepted() {
        let c = client(&["--client=h", "-t2", "--parallel=3", "--bidir", "-i", "0"]);
        assert_eq!(
            c.options,
            ClientOptions::new()
                .parallel(3)
                .direction(Direction::Bidirectional)
                .interval(None)
                .duration(Duration::from_secs(2))
        );
        assert!(c.interval.is_none());
    }

    #[test]
    fn output_options_are_parsed_for_both_roles() {
        let c = client(&[
            "-c",
            "h",
            "-V",
            "-T",
            "run 1",
            "-f",
            "K",
            "--logfile",
            "/tmp/x.log",
            "--timestamps",
            "--forceflush",
        ]);
        assert!(c.report.verbose);
        assert_eq!(c.report.title.as_deref(), Some("run 1"));
        assert_eq!(c.report.format, UnitFormat::Bytes('K'));
        assert_eq!(c.report.logfile, Some(PathBuf::from("/tmp/x.log")));
        assert_eq!(c.report.timestamps.as_deref(), Some("%c "));
        assert!(c.report.force_flush);
        let c = client(&["-c", "h", "--timestamps=%s "]);
        assert_eq!(c.report.timestamps.as_deref(), Some("%s "));
        let Ok(CliCommand::Server(s)) =
            parse_args(["-s", "-V", "-D", "-I", "/tmp/pid", "--logfile=/tmp/s.log"])
        else {
            panic!("server flags refused")
        };
        assert!(s.report.verbose && s.daemon);
        assert_eq!(s.pidfile, Some(PathBuf::from("/tmp/pid")));
        assert_eq!(s.report.logfile, Some(PathBuf::from("/tmp/s.log")));
        assert!(matches!(parse_args(["-v"]), Ok(CliCommand::Version)));
    }

    #[test]
    fn a_bad_format_a_server_title_and_a_client_daemon_are_refused() {
        let error = parse_args(["-c", "h", "-f", "x"]).unwrap_err().to_string();
        assert!(
            error.contains("--format") && error.contains("\"x\""),
            "{error}"
        );
        assert!(matches!(
            parse_args(["-s", "-T", "t"]),
            Err(CliError::ClientOnly { .. })
        ));
        assert!(matches!(
            parse_args(["-c", "h", "-D"]),
            Err(CliError::Conflict(_))
        ));
    }

    #[test]
    fn get_server_output_is_a_client_switch() {
        assert_eq!(client(&["-c", "h"]).options, ClientOptions::new());
        assert_eq!(
            client(&["-c", "h", "--get-server-output"]).options,
            ClientOptions::new().get_server_output(true)
        );
        let error = parse_args(["-s", "--get-server-output"]).unwrap_err();
        assert!(error.to_string().contains("--get-server-output"), "{error}");
    }

    #[test]
    fn zero_copy_is_the_default_and_no_zerocopy_turns_it_off() {
        assert_eq!(
            client(&["-c", "h"]).options,
            ClientOptions::new().zero_copy(true)
        );
        assert_eq!(
            client(&["-c", "h", "-Z"]).options,
            ClientOptions::new().zero_copy(true)
        );
        assert_eq!(
            client(&["-c", "h", "--no-zerocopy"]).options,
            ClientOptions::new().zero_copy(false)
        );
        let error = parse_args(["-c", "h", "-Z", "--no-zerocopy"]).unwrap_err();
        assert!(error.to_string().contains("contradict"), "{error}");
    }

    #[test]
    fn stream_flags_map_onto_the_stream_options() {
        let c = client(&[
            "-c",
            "h",
            "-w",
            "256K",
            "-N",
            "-M",
            "1200",
            "-C",
            "reno",
            "-S",
            "0x28",
            "--fq-rate",
            "8M",
            "--pacing-timer",
            "2000",
            "--repeating-payload",
            "--dont-fragment",
            "-b",
            "10M/4",
        ]);
        let stream = StreamOptions::new()
            .window(256 * 1024)
            .no_delay(true)
            .mss(1200)
            .congestion("reno")
            .tos(0x28)
            .fq_rate(8_000_000)
            .pacing_timer(Duration::from_micros(2000))
            .repeating_payload(true)
            .dont_fragment(true)
            .burst(4);
        assert_eq!(
            c.options,
            ClientOptions::new()
                .bitrate(10_000_000)
                .stream_options(stream)
        );
        let timed = client(&[
            "-c",
            "h",
            "-R",
            "--snd-timeout",
            "1500",
            "--rcv-timeout",
            "2000",
        ]);
        assert_eq!(
            timed.options,
            ClientOptions::new()
                .direction(Direction::Reverse)
                .stream_options(
                    StreamOptions::new()
                        .send_timeout(Duration::from_millis(1500))
                        .receive_timeout(Duration::from_millis(2000))
                )
        );
    }

    #[test]
    fn connection_flags_map_onto_the_configuration() {
        let c = client(&[
            "-c",
            "h",
            "-4",
            "--cport",
            "5000",
            "--extra-data",
            "run 7",
            "--connect-timeout",
            "1500",
            "-u",
            "--udp-counters-64bit",
        ]);
        assert_eq!(
            c.options,
            ClientOptions::new()
                .family(AddressFamily::V4)
                .client_port(5000)
                .extra_data("run 7")
                .connect_timeout(Duration::from_millis(1500))
                .protocol(Protocol::Udp)
                .udp_counters_64bit(true)
        );
        assert_eq!(c.pidfile, None);
        let with_pidfile = client(&["-c", "h", "-I", "/run/x.pid"]);
        assert_eq!(with_pidfile.pidfile, Some(PathBuf::from("/run/x.pid")));
        assert_eq!(
            client(&["-c", "h", "-6"]).options,
            ClientOptions::new().family(AddressFamily::V6)
        );
    }

    #[test]
    fn a_device_after_percent_or_bind_dev_binds_to_it() {
        let c = client(&["-c", "127.0.0.1%lo"]);
        assert_eq!(c.host, "127.0.0.1");
        assert_eq!(c.options, ClientOptions::new().bind_device("lo"));
        let c = client(&["-c", "h", "-B", "127.0.0.1%lo"]);
        assert_eq!(
            c.options,
            ClientOptions::new()
                .bind_device("lo")
                .bind("127.0.0.1".parse().unwrap())
        );
        let c = client(&["-c", "h", "--bind-dev", "eth0"]);
        assert_eq!(c.options, ClientOptions::new().bind_device("eth0"));
        let c = client(&["-c", "fe80::1%eth0"]);
        assert_eq!(c.host, "fe80::1%eth0");
        assert_eq!(c.options, ClientOptions::new());
        let CliCommand::Server(s) = parse_args(["-s", "--bind-dev", "lo"]).unwrap() else {
            panic!()
        };
        assert_eq!(s.bind_device.as_deref(), Some("lo"));
    }

    #[test]
    fn tos_and_dscp_read_like_iperf3_and_the_last_one_wins() {
        let tos = |args: &[&str], tos: u8| {
            assert_eq!(
                client(args).options,
                ClientOptions::new().stream_options(StreamOptions::new().tos(tos)),
                "{args:?}"
            );
        };
        tos(&["-c", "h", "-S", "52"], 52);
        tos(&["-c", "h", "-S", "064"], 52);
        tos(&["-c", "h", "--dscp", "af11"], 0x28);
        tos(&["-c", "h", "--dscp", "46"], 46 << 2);
        tos(&["-c", "h", "-S", "4", "--dscp", "ef"], 0xb8);
    }

    #[test]
    fn options_iperf3_has_but_this_engine_lacks_are_refused_by_name() {
        for flag in [
            &["-A", "1"][..],
            &["-L", "5"],
            &["-F", "file"],
            &["--sctp"],
            &["--username", "me"],
            &["--rsa-public-key-path", "key.pem"],
        ] {
            let mut args = vec!["-c", "h"];
            args.extend_from_slice(flag);
            let error = parse_args(args.iter().copied()).unwrap_err().to_string();
            assert!(error.contains("not supported"), "{flag:?}: {error}");
        }
    }

    #[test]
    fn bad_stream_option_values_get_iperf3s_reasons() {
        let cases: [(&[&str], &str); 11] = [
            (&["-c", "h", "-S", "300"], "bad TOS value"),
            (&["-c", "h", "--dscp", "64"], "bad TOS value"),
            (&["-c", "h", "-M", "10000"], "TCP MSS too large"),
            (&["-c", "h", "-w", "1G"], "socket buffer size too large"),
            (&["-c", "h", "--cport", "0"], "--cport"),
            (&["-c", "h", "-b", "10M/2000"], "invalid burst count"),
            (&["-c", "h", "-4", "-6"], "contradict"),
            (
                &["-c", "h", "--snd-timeout", "-5"],
                "send timeout value is incorrect",
            ),
            (
                &["-c", "h", "-R", "--rcv-timeout", "50"],
                "receive timeout value is incorrect",
            ),
            (
                &["-c", "h", "--rcv-timeout", "500"],
                "valid only in receiving mode",
            ),
            (&["-s", "-C", "reno"], "option --congestion is client-only"),
        ];
        for (args, expected) in cases {
            let error = parse_args(args.iter().copied()).unwrap_err().to_string();
            assert!(error.contains(expected), "{args:?}: {error}");
        }
    }

    #[test]
    fn format_letters_are_iperf3s() {
        assert_eq!(unit_format("k"), Some(UnitFormat::Bits('k')));
        assert_eq!(unit_format("G"), Some(UnitFormat::Bytes('G')));
        assert_eq!(unit_format("x"), None);
        assert_eq!(unit_format("kk"), None);
    }

    #[test]
    fn c_integers_read_like_strtol() {
        assert_eq!(parse_c_integer("52"), Some(52));
        assert_eq!(parse_c_integer("064"), Some(52));
        assert_eq!(parse_c_integer("0x34"), Some(52));
        assert_eq!(parse_c_integer("0"), Some(0));
        assert_eq!(parse_c_integer("lots"), None);
    }

    #[test]
    fn server_flags_parse() {
        let parsed = parse_args(["-s", "-p", "6000", "-1", "-B", "127.0.0.1"]).unwrap();
        let CliCommand::Server(s) = parsed else {
            panic!("{parsed:?}")
        };
        assert_eq!((s.port, s.one_off), (6000, true));
        assert_eq!(s.bind, Some("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn bad_flags_get_clear_errors() {
        let cases: [(&[&str], &str); 9] = [
            (
                &["-c", "h", "--frobnicate"],
                "unrecognized option \"--frobnicate\"",
            ),
            (&["-c", "h", "-t"], "option -t needs a value"),
            (
                &["-c", "h", "-P", "many"],
                "invalid value \"many\" for --parallel",
            ),
            (
                &["-c", "h", "-b", "fast"],
                "invalid value \"fast\" for --bitrate",
            ),
            (&["-c", "h", "-p", "0"], "invalid value \"0\" for --port"),
            (
                &["-p", "5201"],
                "must either be a client (-c) or server (-s)",
            ),
            (&["-s", "-c", "h"], "cannot be both server and client"),
            (&["-s", "-R"], "option --reverse is client-only"),
            (
                &["-c", "h", "-R", "--bidir"],
                "cannot be both reverse and bidirectional",
            ),
        ];
        for (args, expected) in cases {
            let error = parse_args(args.iter().copied()).unwrap_err().to_string();
            assert!(error.contains(expected), "{args:?}: {error}");
        }
        let error = parse_args(["-c", "h", "-P", "500"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("parallel"), "{error}");
    }
}
