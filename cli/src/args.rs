use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::exit::EXIT_CODES_HELP;

/// Check, bring up and run rigs — TCP servers, clients and more, declared in a
/// TOML file — and always tear them down.
#[derive(Debug, Parser)]
#[command(name = "testrig", version, after_help = EXIT_CODES_HELP)]
pub(crate) struct Args {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Validate a rig file (syntax, keys, types, kinds, references,
    /// dependencies, steps) without starting anything.
    #[command(after_help = EXIT_CODES_HELP)]
    Check {
        /// The rig file.
        rig: PathBuf,
    },
    /// Start a rig, print each driver's exports and connection info, and keep
    /// it up until Ctrl-C (SIGINT), SIGTERM or SIGHUP; then tear it down.
    #[command(after_help = EXIT_CODES_HELP)]
    Up {
        /// The rig file.
        rig: PathBuf,
        /// Where to write the reports: JSON, JUnit, timeline SVG (default: the run's directory);
        /// created if missing, and checked writable before anything starts.
        #[arg(long, value_name = "DIR")]
        report_dir: Option<PathBuf>,
        /// Serve Toxiproxy's HTTP API for the rig's `fault_proxy` drivers while it is up, so
        /// an existing Toxiproxy client drives them (default address 127.0.0.1:8474).
        #[arg(long, value_name = "ADDRESS", num_args = 0..=1, default_missing_value = "127.0.0.1:8474")]
        toxiproxy_api: Option<SocketAddr>,
    },
    /// Start a rig, run its steps, print the summary, write the reports, and
    /// tear it down.
    #[command(after_help = EXIT_CODES_HELP)]
    Run {
        /// The rig file.
        rig: PathBuf,
        /// Where to write the reports: JSON, JUnit, timeline SVG (default: the run's directory);
        /// created if missing, and checked writable before anything starts.
        #[arg(long, value_name = "DIR")]
        report_dir: Option<PathBuf>,
    },
    /// The resident agent of an SSH host (started there by testrig over the connection):
    /// spawns and signals programs on request from stdin, streams their output and ends on
    /// stdout, and kills them all when stdin closes.
    #[command(hide = true)]
    Agent,
    /// The `ProxyCommand` of an SSH host's master (run by ssh, for testrig): passes on the
    /// connection testrig made, offered on the Unix socket given.
    #[command(hide = true, name = "ssh-dial")]
    SshDial {
        /// The Unix socket testrig offers the connection on.
        socket: PathBuf,
    },
    /// iperf3's command line on testrig's native engine: `testrig iperf3 -s`,
    /// `testrig iperf3 -c HOST -t 1 -J`; iperf3's flags and output (`testrig iperf3 --help`).
    #[command(disable_help_flag = true)]
    Iperf3 {
        /// iperf3's arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
}
