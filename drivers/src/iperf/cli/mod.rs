//! An iperf3-compatible command line: iperf3's flags parsed into engine configurations, and
//! iperf3's human-readable report format. `cargo run --release --example iperf3 -- <flags>`
//! runs it.

mod args;
mod human;
mod server_report;
mod units;

pub use args::{CliCommand, CliError, ClientCommand, ServerCommand, USAGE, parse_args};
pub use human::{HumanReport, format_bitrate, format_bytes};
pub use server_report::server_report_text;
pub use units::{parse_bitrate, parse_size};
