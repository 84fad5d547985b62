//! Which implementation of iperf3 a driver runs.

use std::fmt;
use std::path::PathBuf;

use crate::iperf::binary::DEFAULT_IPERF3_PROGRAM;

/// The engine an iperf driver runs; both produce the same
/// [`IperfResult`](crate::iperf::IperfResult).
///
/// # Examples
///
/// ```
/// use testrig_drivers::iperf::Engine;
///
/// assert_eq!(Engine::default(), Engine::Native);
/// assert_eq!(Engine::iperf3().to_string(), "iperf3 binary `iperf3`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Engine {
    /// testrig's own iperf3 implementation: no binary needed.
    #[default]
    Native,
    /// The real `iperf3` program (Debian package `iperf3`), run with `-J`.
    Iperf3Binary {
        /// The program: a name looked up in `PATH`, or a path.
        program: PathBuf,
    },
}

impl Engine {
    /// The real `iperf3` from `PATH`.
    pub fn iperf3() -> Self {
        Self::iperf3_at(DEFAULT_IPERF3_PROGRAM)
    }

    /// The real iperf3 at `program` (a path, or a name looked up in `PATH`).
    pub fn iperf3_at(program: impl Into<PathBuf>) -> Self {
        Self::Iperf3Binary {
            program: program.into(),
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Native => f.write_str("native"),
            Self::Iperf3Binary { program } => write!(f, "iperf3 binary `{}`", program.display()),
        }
    }
}
