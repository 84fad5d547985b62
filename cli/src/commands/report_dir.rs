use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use crate::exit::Outcome;
use crate::stderr;

/// Makes sure the reports can be written to `--report-dir` before anything
/// starts: creates the directory (and its parents) and writes and removes a
/// probe file. A directory that cannot be written is a bad command line (exit
/// code 4), found in a moment rather than after a whole run whose reports are
/// then lost.
pub(crate) fn prepare_report_dir(dir: &Path) -> Result<(), Outcome> {
    probe(dir).map_err(|problem| {
        stderr::line(format_args!(
            "error: --report-dir {}: the reports cannot be written there: {problem}",
            dir.display()
        ));
        Outcome::Usage
    })
}

/// What is wrong with `dir`, in words.
fn probe(dir: &Path) -> Result<(), String> {
    if dir.exists() && !dir.is_dir() {
        return Err("it exists and is not a directory".to_owned());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create it: {e}"))?;
    let probe = dir.join(format!(".testrig-probe-{}", std::process::id()));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|mut file| file.write_all(b"testrig checks it can write here\n"));
    // Removed even when the write failed half-way; a removal that fails leaves
    // only a small file named for what it is.
    let _ = std::fs::remove_file(&probe);
    written.map_err(|e| format!("cannot create a file in it: {e}"))
}
