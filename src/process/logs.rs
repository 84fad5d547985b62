//! `LogFiles`: where a process's stdout and stderr are written, and archiving the previous run's.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// The files in the runpath that receive a process's output, byte for byte:
/// `<name>.stdout.log` and `<name>.stderr.log`.
///
/// When a process with the same name is spawned again in the same runpath (a restart), the
/// previous files are kept as `<name>.stdout.<n>.log` / `<name>.stderr.<n>.log`, `n` counting
/// up from 1 (the oldest run).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct LogFiles {
    stdout: PathBuf,
    stderr: PathBuf,
}

impl LogFiles {
    /// The paths for a process named `name` in `runpath` (nothing is created).
    pub(crate) fn in_runpath(runpath: &Path, name: &str) -> LogFiles {
        let stem = file_stem(name);
        LogFiles {
            stdout: runpath.join(format!("{stem}.stdout.log")),
            stderr: runpath.join(format!("{stem}.stderr.log")),
        }
    }

    /// The file receiving stdout.
    pub(crate) fn stdout(&self) -> &Path {
        &self.stdout
    }

    /// The file receiving stderr.
    pub(crate) fn stderr(&self) -> &Path {
        &self.stderr
    }

    /// The archived files of run `n` (1 is the oldest).
    pub(crate) fn archived(&self, n: u32) -> LogFiles {
        LogFiles {
            stdout: numbered(&self.stdout, n),
            stderr: numbered(&self.stderr, n),
        }
    }

    /// The log files of program `name` in `runpath`, made ready for a run ([`create`]):
    /// their paths and the files opened.
    ///
    /// [`create`]: Self::create
    pub(crate) fn open_for(
        runpath: &Path,
        name: &str,
    ) -> Result<(LogFiles, File, File), super::ProcessError> {
        let logs = LogFiles::in_runpath(runpath, name);
        let (stdout, stderr) =
            logs.create()
                .map_err(|(path, source)| super::ProcessError::Logs {
                    name: name.to_owned(),
                    path,
                    source,
                })?;
        Ok((logs, stdout, stderr))
    }

    /// Creates `runpath` if needed, archives the files of a previous run, and opens fresh files.
    /// On error, returns the path that failed.
    pub(crate) fn create(&self) -> Result<(File, File), (PathBuf, io::Error)> {
        if let Some(dir) = self.stdout.parent() {
            fs::create_dir_all(dir).map_err(|error| (dir.to_path_buf(), error))?;
        }
        self.archive_previous()?;
        let open = |path: &Path| File::create(path).map_err(|error| (path.to_path_buf(), error));
        Ok((open(&self.stdout)?, open(&self.stderr)?))
    }

    fn archive_previous(&self) -> Result<(), (PathBuf, io::Error)> {
        if !self.stdout.exists() && !self.stderr.exists() {
            return Ok(());
        }
        let free = (1..)
            .map(|n| self.archived(n))
            .find(|archive| !archive.stdout.exists() && !archive.stderr.exists())
            .expect("some archive number is free");
        for (current, archive) in [(&self.stdout, &free.stdout), (&self.stderr, &free.stderr)] {
            match fs::rename(current, archive) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => {
                    return Err((current.clone(), error));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// `name` made safe as a file name.
fn file_stem(name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| if c == '/' || c == '\0' { '_' } else { c })
        .collect();
    match stem.as_str() {
        "" | "." | ".." => format!("process{stem}"),
        _ => stem,
    }
}

/// `dir/x.stdout.log` → `dir/x.stdout.<n>.log`.
fn numbered(path: &Path, n: u32) -> PathBuf {
    let file_name = path
        .file_name()
        .expect("log paths end in a file name")
        .to_string_lossy();
    let base = file_name.strip_suffix(".log").unwrap_or(&file_name);
    path.with_file_name(format!("{base}.{n}.log"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_files_are_named_after_the_process() {
        let logs = LogFiles::in_runpath(Path::new("/run/x"), "web/server");
        assert_eq!(logs.stdout(), Path::new("/run/x/web_server.stdout.log"));
        assert_eq!(logs.stderr(), Path::new("/run/x/web_server.stderr.log"));
        assert_eq!(
            logs.archived(2).stdout(),
            Path::new("/run/x/web_server.stdout.2.log")
        );
    }

    #[test]
    fn a_name_that_is_no_file_name_gets_a_prefix() {
        let logs = LogFiles::in_runpath(Path::new("/r"), "..");
        assert_eq!(logs.stdout(), Path::new("/r/process...stdout.log"));
    }
}
