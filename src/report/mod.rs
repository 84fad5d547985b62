//! Reports: what happened in a run, as JSON, JUnit XML and a terminal summary.

mod junit;
mod model;
mod summary;
mod time;
mod timeline;
mod write;

pub use model::{
    CaseReport, DriverReport, HostReport, NetworkReport, Outcome, RecordedError, Report,
};
pub(crate) use time::{rfc3339, rfc3339_opt, seconds, seconds_opt};
