//! A log file the program writes: read incrementally for readiness, archived before a
//! new run, and its last lines shown in errors.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// How much of the end of the file is read for its last lines in errors.
const TAIL_BYTES: u64 = 64 * 1024;

/// Reads the lines appended to a file since the previous read, never reading a byte
/// twice.
///
/// Only complete lines (ended by `\n`) are returned: a line still being written is
/// kept until its end arrives, so a half-written `port 80` is never taken for
/// `port 8080`. A file that does not exist yet has no lines; a file replaced by
/// another (a new inode) or truncated is read again from its start.
#[derive(Debug)]
pub(super) struct LogFileReader {
    path: PathBuf,
    open: Option<Opened>,
    partial: Vec<u8>,
}

#[derive(Debug)]
struct Opened {
    file: File,
    inode: u64,
    position: u64,
}

impl LogFileReader {
    /// A reader of `path`, at its start.
    pub(super) fn new(path: PathBuf) -> LogFileReader {
        LogFileReader {
            path,
            open: None,
            partial: Vec::new(),
        }
    }

    /// The complete lines appended since the previous call, without line endings.
    pub(super) fn new_lines(&mut self) -> io::Result<Vec<String>> {
        let inode = match fs::metadata(&self.path) {
            Ok(metadata) => metadata.ino(),
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        if self.open.as_ref().is_none_or(|open| open.inode != inode) {
            let file = match File::open(&self.path) {
                Ok(file) => file,
                Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(error) => return Err(error),
            };
            let inode = file.metadata()?.ino();
            self.open = Some(Opened {
                file,
                inode,
                position: 0,
            });
            self.partial.clear();
        }
        let open = self.open.as_mut().expect("opened above");
        if open.file.metadata()?.len() < open.position {
            open.position = open.file.seek(SeekFrom::Start(0))?;
            self.partial.clear();
        }
        let mut appended = Vec::new();
        let read = open.file.read_to_end(&mut appended)?;
        open.position += read as u64;
        Ok(self.split(&appended))
    }

    fn split(&mut self, appended: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        let mut rest = appended;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&rest[..end]);
            if self.partial.last() == Some(&b'\r') {
                self.partial.pop();
            }
            lines.push(String::from_utf8_lossy(&self.partial).into_owned());
            self.partial.clear();
            rest = &rest[end + 1..];
        }
        self.partial.extend_from_slice(rest);
        lines
    }
}

/// Moves an existing `path` aside so the new run writes a fresh file:
/// `app.log` becomes `app.1.log` (then `app.2.log`…, 1 the oldest), as the
/// stdout/stderr logs are archived. Returns the archive's path, if there was a file.
pub(super) fn archive(path: &Path) -> io::Result<Option<PathBuf>> {
    if !path.exists() {
        return Ok(None);
    }
    let archive = (1..)
        .map(|n| numbered(path, n))
        .find(|candidate| !candidate.exists())
        .expect("some archive number is free");
    fs::rename(path, &archive)?;
    Ok(Some(archive))
}

/// `dir/app.log` → `dir/app.<n>.log`; `dir/app` → `dir/app.<n>`.
pub(super) fn numbered(path: &Path, n: u32) -> PathBuf {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let name = match path.extension() {
        Some(extension) => format!("{stem}.{n}.{}", extension.to_string_lossy()),
        None => format!("{stem}.{n}"),
    };
    path.with_file_name(name)
}

/// The last `count` lines of `path` (read from its last 64 KiB); none if it cannot
/// be read.
pub(super) fn last_lines(path: &Path, count: usize) -> Vec<String> {
    let Ok(mut file) = File::open(path) else {
        return Vec::new();
    };
    let Ok(len) = file.metadata().map(|m| m.len()) else {
        return Vec::new();
    };
    let start = len.saturating_sub(TAIL_BYTES);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<&str> = text.lines().collect();
    if start > 0 && !lines.is_empty() {
        lines.remove(0); // most likely cut in the middle
    }
    let skip = lines.len().saturating_sub(count);
    lines[skip..]
        .iter()
        .map(|line| (*line).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("testrig-log-file-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn only_appended_complete_lines_are_read_each_once() {
        let dir = scratch("appended");
        let path = dir.join("app.log");
        let mut reader = LogFileReader::new(path.clone());
        assert!(reader.new_lines().unwrap().is_empty(), "no file yet");
        let mut file = File::create(&path).unwrap();
        file.write_all(b"one\r\ntwo\nlistening on port 80").unwrap();
        assert_eq!(reader.new_lines().unwrap(), ["one", "two"]);
        file.write_all(b"80\n").unwrap();
        assert_eq!(reader.new_lines().unwrap(), ["listening on port 8080"]);
        assert!(reader.new_lines().unwrap().is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_replaced_or_truncated_file_is_read_from_its_start() {
        let dir = scratch("replaced");
        let path = dir.join("app.log");
        let mut reader = LogFileReader::new(path.clone());
        fs::write(&path, "first run, a long line\n").unwrap();
        assert_eq!(reader.new_lines().unwrap(), ["first run, a long line"]);
        fs::write(&path, "short\n").unwrap(); // truncated, same inode
        assert_eq!(reader.new_lines().unwrap(), ["short"]);
        fs::rename(&path, dir.join("old.log")).unwrap();
        fs::write(&path, "new file\n").unwrap();
        assert_eq!(reader.new_lines().unwrap(), ["new file"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn archiving_numbers_previous_files_oldest_first() {
        let dir = scratch("archive");
        let path = dir.join("app.log");
        assert_eq!(archive(&path).unwrap(), None);
        fs::write(&path, "run 1").unwrap();
        assert_eq!(archive(&path).unwrap(), Some(dir.join("app.1.log")));
        fs::write(&path, "run 2").unwrap();
        assert_eq!(archive(&path).unwrap(), Some(dir.join("app.2.log")));
        assert_eq!(fs::read_to_string(dir.join("app.1.log")).unwrap(), "run 1");
        assert!(!path.exists());
        assert_eq!(numbered(Path::new("/x/trace"), 3), Path::new("/x/trace.3"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn last_lines_are_the_end_of_the_file() {
        let dir = scratch("last");
        let path = dir.join("app.log");
        fs::write(&path, "a\nb\nc\n").unwrap();
        assert_eq!(last_lines(&path, 2), ["b", "c"]);
        assert!(last_lines(&dir.join("missing.log"), 2).is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
