//! Typed iperf results — per interval and summary, per stream and summed — produced by the
//! native engine and by parsing real `iperf3 -J` output.

mod cjson_text;
mod iperf3_json;
mod measurement;
mod report;
mod throughput_svg;

pub use cjson_text::iperf3_json_text;
pub use iperf3_json::iperf3_error_json;
pub(crate) use measurement::loss_percent;
pub use measurement::{Measurement, StreamMeasurement};
pub use report::{
    Connection, ControlPeer, CpuUtilization, DirectionSummary, FineSample, IntervalReport,
    IperfResult, Role, ServerOutput, StartInfo, StreamSummary, Summary, TestSettings,
};
