use std::path::{Path, PathBuf};

use super::Report;
use crate::error::Error;

/// The files a report was written to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportFiles {
    /// `<dir>/<environment>.json`
    pub json: PathBuf,
    /// `<dir>/<environment>.junit.xml`
    pub junit: PathBuf,
    /// `<dir>/<environment>.timeline.svg`
    pub timeline: PathBuf,
}

impl Report {
    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }

    /// Writes `<environment>.json`, `<environment>.junit.xml` and the picture
    /// `<environment>.timeline.svg` into `dir` (created if missing).
    pub fn write_to(&self, dir: impl AsRef<Path>) -> Result<ReportFiles, Error> {
        self.write_named(dir, &self.environment)
    }

    /// Like [`write_to`](Self::write_to), with the files named `<stem>.json`,
    /// `<stem>.junit.xml` and `<stem>.timeline.svg` (a suite run that selected
    /// only some cases names its files after them).
    pub fn write_named(&self, dir: impl AsRef<Path>, stem: &str) -> Result<ReportFiles, Error> {
        let dir = dir.as_ref();
        let report_error = |path: &Path, source| Error::Report {
            path: path.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| report_error(dir, e))?;
        let files = ReportFiles {
            json: dir.join(format!("{stem}.json")),
            junit: dir.join(format!("{stem}.junit.xml")),
            timeline: dir.join(format!("{stem}.timeline.svg")),
        };
        std::fs::write(&files.json, self.to_json()).map_err(|e| report_error(&files.json, e))?;
        std::fs::write(&files.junit, self.to_junit_xml())
            .map_err(|e| report_error(&files.junit, e))?;
        std::fs::write(&files.timeline, self.timeline_svg())
            .map_err(|e| report_error(&files.timeline, e))?;
        Ok(files)
    }
}
