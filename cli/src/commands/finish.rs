use std::io::Write;
use std::path::Path;

use testrig::Environment;

use crate::stderr;

/// Prints the environment's summary and writes its reports (JSON, JUnit, the
/// timeline picture) to `report_dir` (default: the run's directory). Returns
/// whether they were written: reports that were asked for and lost fail the
/// command.
#[must_use = "reports that could not be written fail the command"]
pub(crate) fn finish(env: &Environment, report_dir: Option<&Path>) -> bool {
    let report = env.report();
    let dir = report_dir.unwrap_or_else(|| env.runpath());
    let written = report.write_to(dir);
    // The teardown is done; a closed stdout must not turn the outcome into a panic.
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{}", report.summary());
    match written {
        Ok(files) => {
            let _ = writeln!(
                out,
                "reports: {}",
                files
                    .iter()
                    .map(|file| file.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            true
        }
        Err(error) => {
            stderr::line(format_args!(
                "error: the reports could not be written: {error:#}"
            ));
            false
        }
    }
}
