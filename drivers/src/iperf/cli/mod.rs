//! An iperf3-compatible command line: iperf3's flags parsed into engine configurations, and
//! iperf3's human-readable report format. `cargo run --release --example iperf3 -- <flags>`
//! runs it.

mod args;
mod clock;
mod human;
mod output;
mod server_report;
mod text_run;
mod units;

pub use args::{
    CliCommand, CliError, ClientCommand, ReportOptions, ServerCommand, USAGE, parse_args,
};
pub use clock::DEFAULT_TIMESTAMP_FORMAT;
pub use human::{
    HumanReport, Printed, VERSION, format_bitrate, format_bytes, iperf3_socket_number,
};
pub use output::TextOutput;
pub use server_report::server_report_text;
pub use text_run::{ServerText, open_output, run_client_text};
pub use units::{UnitFormat, parse_bitrate, parse_size};
