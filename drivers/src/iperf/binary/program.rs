//! Finding the `iperf3` program before running it.

use std::path::Path;

/// The program the binary engine runs unless told otherwise (looked up in `PATH`).
pub const DEFAULT_IPERF3_PROGRAM: &str = "iperf3";

/// Whether `program` can be run: a path (anything with a `/`) to an existing file, or a name
/// found in `PATH`.
pub(crate) fn is_available(program: &Path) -> bool {
    if program.components().count() > 1 || program.is_absolute() {
        return program.is_file();
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_path_or_name_is_not_available() {
        assert!(!is_available(Path::new("/nonexistent/iperf3")));
        assert!(!is_available(Path::new("no-such-program-testrig-xyz")));
        assert!(is_available(Path::new("sh")));
        assert!(is_available(Path::new("/bin/sh")));
    }
}
