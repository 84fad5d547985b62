//! Parsing iperf3's command-line flags.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::clock::DEFAULT_TIMESTAMP_FORMAT;
use super::units::{UnitFormat, parse_bitrate, parse_size};
use crate::iperf::config::{ClientConfig, DEFAULT_PORT, Direction, Protocol};
use crate::iperf::error::IperfError;

/// Usage text, in iperf3's words for the flags supported here.
pub const USAGE: &str = "\
Usage: iperf3 [-s|-c host] [options]
Server or Client:
  -p, --port      #         server port to listen on/connect to (default 5201)
  -i, --interval  #         seconds between periodic reports (0 disables)
  -B, --bind      <host>    bind to the interface associated with the address <host>
  -f, --format   [kmgtKMGT] format to report: Kbits, Mbits, Gbits, Tbits
  -I, --pidfile file        write PID file
  -V, --verbose             more detailed output
  -J, --json                output in JSON format
  --logfile f               send output to a log file
  --forceflush              force flushing output at every interval (always done here)
  --timestamps<=format>     emit a timestamp at the start of each output line
                            (optional \"=\" and format string as per strftime(3))
  -v, --version             show version information and quit
  -h, --help                show this message and quit
Server specific:
  -s, --server              run in server mode
  -D, --daemon              run the server as a daemon
  -1, --one-off             handle one client connection then exit
Client specific:
  -c, --client    <host>    run in client mode, connecting to <host>
  -u, --udp                 use UDP rather than TCP
  -b, --bitrate   #[KMG]    target bitrate in bits/sec (0 for unlimited; UDP default 1 Mbit/sec)
  -t, --time      #         time in seconds to transmit for (default 10 secs)
  -n, --bytes     #[KMG]    number of bytes to transmit (instead of -t)
  -k, --blockcount #[KMG]   number of blocks (packets) to transmit (instead of -t or -n)
  -l, --length    #[KMG]    length of buffer to read or write (TCP 128 KB, UDP the path MSS)
  -P, --parallel  #         number of parallel client streams to run
  -R, --reverse             run in reverse mode (server sends, client receives)
      --bidir               run in bidirectional mode
  -O, --omit      #         omit the first n seconds
  --get-server-output       get results from server
  -Z, --zerocopy            send with sendfile(2), sparing a copy (the default here)
      --no-zerocopy         send with plain writes, as iperf3 does without -Z
  -T, --title str           prefix every output line with this string
";

/// A parsed command line.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CliCommand {
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
pub struct ServerCommand {
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
}

/// The output-only options (`-V -T -f --logfile --timestamps --forceflush`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReportOptions {
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
pub struct ClientCommand {
    /// The validated test configuration.
    pub config: ClientConfig,
    /// `-J`.
    pub json: bool,
    /// How the text report looks and where it goes.
    pub report: ReportOptions,
    /// `-I`: write the process id here while running.
    pub pidfile: Option<PathBuf>,
}

/// A command line that cannot be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
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
    #[error("parameter error - must either be a client (-c) or server (-s)")]
    NoRole,
    /// Both `-s` and `-c`.
    #[error("parameter error - cannot be both server and client")]
    BothRoles,
    /// A client-only flag given to a server.
    #[error("parameter error - option {flag} is client-only")]
    ClientOnly {
        /// The flag.
        flag: String,
    },
    /// Flags that contradict each other.
    #[error("parameter error - {0}")]
    Conflict(&'static str),
    /// The client configuration was refused.
    #[error(transparent)]
    Config(#[from] IperfError),
}

/// Flags that take a value, long and short spellings.
const VALUED: &[(&str, &str)] = &[
    ("-c", "--client"),
    ("-p", "--port"),
    ("-B", "--bind"),
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
];

/// Parses iperf3-style arguments (without the program name).
///
/// # Examples
///
/// ```
/// use testrig_drivers::iperf::cli::{CliCommand, parse_args};
///
/// let command = parse_args(["-c", "127.0.0.1", "-P", "4", "-t", "2", "-R"])?;
/// let CliCommand::Client(client) = command else { panic!() };
/// assert_eq!(client.config.streams(), 4);
/// # Ok::<(), testrig_drivers::iperf::cli::CliError>(())
/// ```
pub fn parse_args<I, S>(args: I) -> Result<CliCommand, CliError>
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
    let port = match get("--port") {
        Some(v) => parse_number::<u16>("--port", &v, "a port number 1-65535")
            .and_then(|p| non_zero("--port", &v, p))?,
        None => DEFAULT_PORT,
    };
    let bind = match get("--bind") {
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
    match (has("--server"), get("--client")) {
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
            ];
            if let Some((flag, _)) = flags
                .iter()
                .find(|(f, _)| CLIENT_ONLY.contains(&f.as_str()))
            {
                return Err(CliError::ClientOnly { flag: flag.clone() });
            }
            Ok(CliCommand::Server(ServerCommand {
                bind,
                port,
                one_off: has("--one-off"),
                json,
                interval,
                report,
                daemon: has("--daemon"),
                pidfile,
            }))
        }
        (false, Some(host)) => {
            if has("--daemon") {
                return Err(CliError::Conflict("option -D is server-only"));
            }
            let mut b = ClientConfig::builder(host, port).interval(interval);
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
                b = b.duration(Duration::from_secs_f64(secs.clamp(0.0, 1e9)));
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
            Ok(CliCommand::Client(ClientCommand {
                config: b.build()?,
                json,
                report,
                pidfile,
            }))
        }
    }
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
        Some(v) => UnitFormat::from_flag(&v).ok_or(CliError::BadValue {
            flag: "--format".into(),
            value: v.clone(),
            reason: "one of the formats k m g t K M G T",
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
    use crate::iperf::config::TestLength;

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
        assert_eq!(c.config.host(), "10.0.0.1");
        assert_eq!(c.config.port(), 5999);
        assert_eq!(
            c.config.length(),
            TestLength::Duration(Duration::from_secs(3))
        );
        assert_eq!(c.config.streams(), 4);
        assert_eq!(c.config.direction(), Direction::Reverse);
        assert!(c.json);
    }

    #[test]
    fn udp_rates_lengths_and_bytes_take_iperf3_suffixes() {
        let c = client(&["-c", "h", "-u", "-b", "100M", "-l", "1400", "-n", "10M"]);
        assert_eq!(c.config.protocol(), Protocol::Udp);
        assert_eq!(c.config.bitrate(), Some(100_000_000));
        assert_eq!(c.config.length(), TestLength::Bytes(10 * 1024 * 1024));
    }

    #[test]
    fn attached_and_equals_forms_are_accepted() {
        let c = client(&["--client=h", "-t2", "--parallel=3", "--bidir", "-i", "0"]);
        assert_eq!(c.config.streams(), 3);
        assert_eq!(c.config.direction(), Direction::Bidirectional);
        assert_eq!(c.config.interval(), None);
        assert_eq!(
            c.config.length(),
            TestLength::Duration(Duration::from_secs(2))
        );
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
        assert!(!client(&["-c", "h"]).config.get_server_output());
        assert!(
            client(&["-c", "h", "--get-server-output"])
                .config
                .get_server_output()
        );
        let error = parse_args(["-s", "--get-server-output"]).unwrap_err();
        assert!(error.to_string().contains("--get-server-output"), "{error}");
    }

    #[test]
    fn zero_copy_is_the_default_and_no_zerocopy_turns_it_off() {
        assert!(client(&["-c", "h"]).config.zero_copy());
        assert!(client(&["-c", "h", "-Z"]).config.zero_copy());
        assert!(!client(&["-c", "h", "--no-zerocopy"]).config.zero_copy());
        let error = parse_args(["-c", "h", "-Z", "--no-zerocopy"]).unwrap_err();
        assert!(error.to_string().contains("contradict"), "{error}");
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
