use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::context::Exports;
use crate::driver::ConnectionInfo;
use crate::error::Phase;
use crate::host::Interface;
use crate::status::{Status, Transition};

/// Everything that happened in one environment's run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The environment's name.
    pub environment: String,
    /// Passed unless the start failed, a case failed, or teardown failed.
    pub outcome: Outcome,
    /// When the start began.
    #[serde(with = "super::rfc3339_opt")]
    pub started_at: Option<SystemTime>,
    /// How long the start took.
    #[serde(with = "super::seconds_opt")]
    pub setup: Option<Duration>,
    /// How long the stop took.
    #[serde(with = "super::seconds_opt")]
    pub teardown: Option<Duration>,
    /// The run's directory.
    pub runpath: PathBuf,
    /// The emulated network the drivers ran on, if the environment had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkReport>,
    /// The remote hosts the environment connected (its SSH hosts), in the order declared:
    /// each one's remote runpath and the local copy fetched at stop.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostReport>,
    /// Each driver, in the order they were added.
    pub drivers: Vec<DriverReport>,
    /// Each test case (the `run` body is one, named `body`).
    pub cases: Vec<CaseReport>,
    /// Environment-level errors (start and stop failures), in order.
    pub errors: Vec<String>,
}

/// One driver's part of the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriverReport {
    /// Its name.
    pub name: String,
    /// Its type ("TcpServer").
    pub kind: String,
    /// The host of the environment's network it ran on; `None`: this machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Its final status.
    pub status: Status,
    /// Every status change, with timestamps.
    pub transitions: Vec<Transition>,
    /// How long its last start took.
    #[serde(with = "super::seconds_opt")]
    pub setup: Option<Duration>,
    /// How long its last stop took.
    #[serde(with = "super::seconds_opt")]
    pub teardown: Option<Duration>,
    /// What it exported when it started.
    pub exports: Exports,
    /// Where it listened or connected.
    pub connections: Vec<ConnectionInfo>,
    /// Errors recorded for it.
    pub errors: Vec<RecordedError>,
    /// The end of its logs.
    pub log_tail: Vec<String>,
    /// Its directory.
    pub runpath: PathBuf,
    /// The CPU time its processes used, where measured (an `App` in a cgroup: the program and
    /// every descendant, over all its runs).
    #[serde(default, with = "super::seconds_opt")]
    pub cpu_time: Option<Duration>,
    /// Counts the driver keeps (a fault proxy's connections and bytes each way…), by name;
    /// filled by [`Driver::report`](crate::Driver::report).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counters: BTreeMap<String, u64>,
    /// What the report points out without it being an error, one line each: e.g. processes
    /// still alive after its program ended, or cgroups not available to hold them.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// When its own work ended while it stayed started (a task that exited as
    /// expected); see [`Driver::report`](crate::Driver::report).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::rfc3339_opt"
    )]
    pub finished_at: Option<SystemTime>,
}

/// The emulated network of an environment: its hosts and their interfaces, as declared
/// (addresses given or assigned from the subnets).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkReport {
    /// The network's name.
    pub name: String,
    /// Each host's interfaces, by host name.
    pub hosts: BTreeMap<String, Vec<Interface>>,
}

/// A remote host of an environment (an SSH host it connected at start and closed at stop).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostReport {
    /// Its name.
    pub name: String,
    /// What kind of host: `ssh`.
    pub kind: String,
    /// Where it was reached (`user@address`).
    pub destination: String,
    /// The address the connection arrived at, once connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Its remote runpath (a directory on the remote host), once connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_runpath: Option<PathBuf>,
    /// Whether the remote runpath was left on the remote host (else removed at stop).
    pub remote_runpath_kept: bool,
    /// Where the remote runpath was copied at stop, here (`<runpath>/hosts/<name>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched_into: Option<PathBuf>,
    /// The files copied, relative to `fetched_into`.
    #[serde(default)]
    pub files: Vec<PathBuf>,
    /// What went wrong with it: connecting, fetching, closing.
    #[serde(default)]
    pub errors: Vec<String>,
}

/// One test case's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseReport {
    /// The case's name.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
    /// How long it ran.
    #[serde(with = "super::seconds")]
    pub duration: Duration,
    /// The failure message, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When it began (set by [`Environment::record_case`](crate::Environment::record_case)
    /// from the duration when not given).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::rfc3339_opt"
    )]
    pub started_at: Option<SystemTime>,
}

/// An error kept for the report.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RecordedError {
    /// When it happened.
    #[serde(with = "super::rfc3339")]
    pub at: SystemTime,
    /// The lifecycle step.
    pub phase: Phase,
    /// The full message (including the log tail, when there is one).
    pub message: String,
}

/// How something ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// It worked.
    Passed,
    /// It failed.
    Failed,
    /// It was not run (e.g. the environment did not start).
    NotRun,
}

impl Report {
    /// The outcome of a run with these environment-level `errors` and `cases`: failed if
    /// there is an error or a failed case.
    pub(crate) fn outcome_of(errors: &[String], cases: &[CaseReport]) -> Outcome {
        if !errors.is_empty() || cases.iter().any(|case| case.outcome == Outcome::Failed) {
            Outcome::Failed
        } else {
            Outcome::Passed
        }
    }
}
