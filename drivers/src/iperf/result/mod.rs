//! Typed iperf results — per interval and summary, per stream and summed — produced by the
//! native engine and by parsing real `iperf3 -J` output.

mod iperf3_json;
mod measurement;
mod report;
mod throughput_svg;

pub use iperf3_json::Iperf3JsonError;
pub(crate) use measurement::loss_percent;
pub use measurement::{Measurement, StreamMeasurement};
pub use report::{
    Connection, CpuUtilization, DirectionSummary, IntervalReport, IperfResult, Role, StartInfo,
    StreamSummary, Summary, TestSettings,
};
