//! Finding the `iperf3` program before running it, and telling a program missing on a remote
//! host from one that failed.

use std::path::{Path, PathBuf};

use testrig::Host;
use testrig::process::{Exit, Tail};

use crate::iperf::error::IperfError;

/// The program the binary engine runs unless told otherwise (looked up in `PATH`).
pub const DEFAULT_IPERF3_PROGRAM: &str = "iperf3";

/// The status a POSIX shell (and `setsid`, `env`) exits with when it finds no such program.
const NOT_FOUND_STATUS: i32 = 127;

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

/// Checks that `program` can run on `host` before spawning it. This machine's files are those
/// of this machine and of its emulated hosts; an SSH host's are not visible from here, so there
/// the check is the remote's own answer ([`missing_on`]).
pub(crate) fn check_available(program: &Path, host: &Host) -> Result<(), IperfError> {
    if host.is_ssh() || is_available(program) {
        Ok(())
    } else {
        Err(IperfError::NotInstalled {
            program: program.to_owned(),
        })
    }
}

/// When a program on an SSH host ended with the shell's "not found" status, the error that
/// says so, with what the remote side printed.
pub(crate) fn missing_on(
    host: &Host,
    program: &Path,
    exit: Exit,
    tail: &Tail,
) -> Option<IperfError> {
    if !host.is_ssh() || exit != Exit::Code(NOT_FOUND_STATUS) {
        return None;
    }
    let said: Vec<&str> = tail.lines().map(|(_, text)| text).collect();
    let detail = match said.is_empty() {
        true => format!("it exited with status {NOT_FOUND_STATUS}"),
        false => said.join(" / "),
    };
    Some(IperfError::NotInstalledOn {
        program: PathBuf::from(program),
        host: host.name().to_owned(),
        detail,
    })
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
