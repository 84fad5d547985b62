//! Lines on stderr that never panic. `eprintln!` panics when the write fails,
//! and after SIGHUP the terminal is gone: a message must not cut the teardown
//! or the reports short.

use std::fmt::Display;
use std::io::Write;

/// Writes `text` and a newline to stderr; a failed write is ignored.
pub(crate) fn line(text: impl Display) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}
