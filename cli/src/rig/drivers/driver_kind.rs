//! The trait every kind of driver's options implements.

use std::fmt::Debug;
use std::path::Path;
use std::time::Duration;

use testrig::DriverSpec;

use super::invalid_option::InvalidOption;

/// What the options of every kind of driver do.
pub(crate) trait DriverKind: Debug + Send + Sync {
    /// The driver, ready to add to an environment. `stop_timeout` is the rig's
    /// key every driver has, for kinds whose driver has a stop deadline of its
    /// own (an app's delay before `SIGKILL`); `rig_dir` is the directory of the
    /// rig file, from which relative paths are taken.
    fn spec(
        &self,
        name: &str,
        stop_timeout: Option<Duration>,
        rig_dir: &Path,
    ) -> Result<DriverSpec, InvalidOption>;

    /// The engine's stop deadline for the rig's `stop_timeout`: the same, except
    /// for kinds that enforce it themselves and need time after it to kill.
    /// Saturating: the loader bounds durations, but a deadline must never panic.
    fn stop_deadline(&self, stop_timeout: Duration) -> Duration {
        stop_timeout
    }
}
