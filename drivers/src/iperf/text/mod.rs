//! iperf3's human-readable report, as the real iperf3 3.12 prints it. The library prints
//! only a server's report of one test (what a client asking for `--get-server-output`
//! gets); the `iperf3` example prints all of it, and compiles these files itself (they
//! read the library's types through this module's imports, which the example mirrors).

// The client's half of the report, `-f` and `--timestamps` are the `iperf3` example's; the
// library uses the server's half.
#[allow(dead_code)]
pub(crate) mod clock;
#[allow(dead_code)]
pub(crate) mod human;
mod server_report;
pub(crate) mod system;
#[allow(dead_code)]
pub(crate) mod units;

use super::kinds::{Direction, Protocol};
#[cfg(test)]
use super::result::StreamMeasurement;
use super::result::{
    Connection, IntervalReport, IperfResult, Measurement, Role, StreamSummary, TestSettings,
};
pub(crate) use server_report::server_report_text;
