//! `testrig agent` (hidden): the resident agent of an SSH host, which testrig starts there over
//! the connection. See `testrig::host::ssh::serve_agent`.

use std::process::ExitCode;

/// Serves the agent protocol on stdin and stdout until stdin closes.
pub(crate) fn agent() -> ExitCode {
    let code = testrig::host::ssh::serve_agent();
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
