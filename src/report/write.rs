use std::path::{Path, PathBuf};

use super::Report;
use crate::error::Error;

impl Report {
    /// The report as pretty JSON.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }

    /// Writes `<environment>.json`, `<environment>.junit.xml` and the picture
    /// `<environment>.timeline.svg` into `dir` (created if missing); returns their
    /// paths, in that order.
    pub fn write_to(&self, dir: impl AsRef<Path>) -> Result<Vec<PathBuf>, Error> {
        self.write_named(dir, &self.environment)
    }

    /// Like [`write_to`](Self::write_to), with the files named `<stem>.json`,
    /// `<stem>.junit.xml` and `<stem>.timeline.svg` (a suite run that selected
    /// only some cases names its files after them).
    pub(crate) fn write_named(
        &self,
        dir: impl AsRef<Path>,
        stem: &str,
    ) -> Result<Vec<PathBuf>, Error> {
        let dir = dir.as_ref();
        let report_error = |path: &Path, source| Error::Report {
            path: path.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| report_error(dir, e))?;
        let files = [
            (dir.join(format!("{stem}.json")), self.to_json()),
            (dir.join(format!("{stem}.junit.xml")), self.to_junit_xml()),
            (
                dir.join(format!("{stem}.timeline.svg")),
                self.timeline_svg(),
            ),
        ];
        let mut written = Vec::with_capacity(files.len());
        for (path, text) in files {
            std::fs::write(&path, text).map_err(|e| report_error(&path, e))?;
            written.push(path);
        }
        Ok(written)
    }
}
