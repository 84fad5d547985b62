use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use testrig::{BoxError, Environment};
use testrig_drivers::iperf::units;
use testrig_drivers::iperf::{IntervalReport, IperfClient, IperfResult};
use toml::Spanned;

use super::{StepCheck, StepKind, StepRun};
use crate::progress::Notes;
use crate::rig::Problem;
use crate::rig::fields::{RigBitrate, RigDuration};

/// A rate in iperf3's units, without iperf3's column padding.
fn format_bitrate(bits_per_second: f64) -> String {
    units::format_bitrate(bits_per_second).trim().to_owned()
}

/// A byte count in iperf3's units, without iperf3's column padding.
fn format_bytes(bytes: f64) -> String {
    units::format_bytes(bytes).trim().to_owned()
}

/// `kind = "iperf"`: the `iperf_client` runs one measurement against its server, within
/// `timeout` (default: the test's duration plus 30 s). The step's result lists the summary
/// and one line per interval; the whole result is written as JSON
/// (`iperf-result-N.json`) in the client's directory of the run. With `min_bitrate`,
/// a receiver throughput below it fails the step; with `max_bitrate`, one above it
/// (a link's shaping that did not take effect).
///
/// ```toml
/// [[step]]
/// kind = "iperf"
/// client = "iperf-client"
/// min_bitrate = "100M"   # optional
/// max_bitrate = "1G"     # optional
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Iperf {
    client: Spanned<String>,
    timeout: Option<RigDuration>,
    min_bitrate: Option<RigBitrate>,
    max_bitrate: Option<Spanned<RigBitrate>>,
}

/// A measurement outside the bounds the step sets.
#[derive(Debug, thiserror::Error)]
#[error("`{client}` measured {measured}, {bound} {wanted}; the result is in {}", path.display())]
struct OutOfBounds {
    client: String,
    measured: String,
    /// "below min_bitrate", "above max_bitrate".
    bound: &'static str,
    wanted: String,
    path: PathBuf,
}

impl Iperf {
    pub(crate) fn check(&self, check: &StepCheck) -> Result<(), Problem> {
        check.driver(&self.client, &["iperf_client"])?;
        if let (Some(min), Some(max)) = (self.min_bitrate, &self.max_bitrate)
            && max.get_ref().0 < min.0
        {
            return Err(Problem::new(
                max.span(),
                format!(
                    "max_bitrate {} is below min_bitrate {}: no measurement could pass",
                    format_bitrate(max.get_ref().0 as f64),
                    format_bitrate(min.0 as f64)
                ),
            ));
        }
        Ok(())
    }

    pub(crate) async fn run(&self, env: &Environment, notes: Notes) -> Result<String, BoxError> {
        let name = self.client.get_ref();
        let client = env.get::<IperfClient>(name)?;
        let timeout = self
            .timeout
            .map_or_else(|| client.client_options().suggested_deadline(), |t| t.0);
        // Each interval is shown as it closes (the iperf3 binary engine reports
        // them when its run ends).
        let result = client
            .run_with_intervals(timeout, |interval| {
                notes.live(&format!(
                    "{} now",
                    format_bitrate(interval.sum.bits_per_second)
                ));
                notes.note(&format!("  {name}  {}", interval_line(interval)))
            })
            .await?;
        // With a report directory the result goes with the reports (the run's own
        // directory is removed after a clean run); else next to the client's files.
        let dir = match env.report_dir() {
            Some(reports) => reports.join(name),
            None => env.resource(name)?.report().runpath,
        };
        let path = write_result(&dir, name, &result)?;
        let received = result.received_bits_per_second();
        let out_of_bounds = |bound, wanted: RigBitrate| OutOfBounds {
            client: name.clone(),
            measured: format_bitrate(received),
            bound,
            wanted: format_bitrate(wanted.0 as f64),
            path: path.clone(),
        };
        if let Some(wanted) = self.min_bitrate
            && received < wanted.0 as f64
        {
            return Err(out_of_bounds("below min_bitrate", wanted).into());
        }
        if let Some(wanted) = self.max_bitrate.as_ref().map(|max| *max.get_ref())
            && received > wanted.0 as f64
        {
            return Err(out_of_bounds("above max_bitrate", wanted).into());
        }
        Ok(summary(&result, &path))
    }
}

/// "1.23 Gbits/sec received (1.25 Gbits/sec sent), 147 MBytes, 0 retransmits; result in …".
fn summary(result: &IperfResult, path: &Path) -> String {
    let mut text = format!(
        "{} received ({} sent), {}",
        format_bitrate(result.received_bits_per_second()),
        format_bitrate(result.sent_bits_per_second()),
        format_bytes(result.bytes_received() as f64)
    );
    if let Some(retransmits) = result.retransmits() {
        text += &format!(", {retransmits} retransmits");
    }
    if let Some(lost) = result.lost_percent() {
        text += &format!(", {lost:.2}% lost");
    }
    if let Some(jitter) = result.jitter_ms() {
        text += &format!(", {jitter:.3} ms jitter");
    }
    text + &format!("; result in {}", path.display())
}

/// "0.00-1.00 s  1.23 Gbits/sec".
fn interval_line(interval: &IntervalReport) -> String {
    let sum = &interval.sum;
    format!(
        "{:.2}-{:.2} s  {}",
        sum.start,
        sum.end,
        format_bitrate(sum.bits_per_second)
    )
}

/// Writes `result` as `iperf-result-N.json` (the first free N) in `dir`, and its
/// throughput over time next to it as `iperf-result-N.throughput.svg`.
fn write_result(dir: &Path, client: &str, result: &IperfResult) -> Result<PathBuf, BoxError> {
    std::fs::create_dir_all(dir)?;
    let path = (1..)
        .map(|n| dir.join(format!("iperf-result-{n}.json")))
        .find(|path| !path.exists())
        .expect("some file number is free");
    std::fs::write(&path, serde_json::to_vec_pretty(result)?)?;
    let file = path.file_stem().unwrap_or_default().to_string_lossy();
    let title = format!("iperf throughput of `{client}` ({file})");
    std::fs::write(
        path.with_extension("throughput.svg"),
        result.throughput_svg(&title),
    )?;
    Ok(path)
}

impl StepKind for Iperf {
    fn check(&self, _table: Range<usize>, check: &StepCheck) -> Result<(), Problem> {
        Self::check(self, check)
    }

    fn run<'a>(&'a self, env: &'a Environment, notes: Notes) -> StepRun<'a> {
        Box::pin(Self::run(self, env, notes))
    }
}
