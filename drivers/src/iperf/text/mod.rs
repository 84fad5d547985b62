//! iperf3's human-readable report, as the real iperf3 3.12 prints it. The library prints
//! only a server's report of one test (what a client asking for `--get-server-output`
//! gets); `testrig iperf3` (the CLI) prints all of it through this module, public for it but
//! hidden: not part of the library's API.

// The client's half of the report, `-f` and `--timestamps` are `testrig iperf3`'s; the
// library uses the server's half.
#[allow(missing_docs)]
pub mod clock;
#[allow(missing_docs)]
pub mod human;
mod server_report;
pub(crate) mod system;
#[allow(missing_docs)]
pub mod units;

use super::kinds::{Direction, Protocol};
#[cfg(test)]
use super::result::StreamMeasurement;
use super::result::{
    Connection, IntervalReport, IperfResult, Measurement, Role, StreamSummary, TestSettings,
};
pub(crate) use server_report::server_report_text;
