//! What a spawn produces, here or through an agent: the parts a [`Process`](super::Process) is
//! made of.

use std::sync::Arc;
use std::time::Instant;

use super::Command;
use super::containment::Containment;
use super::control::Control;
use super::line_hub::LineHub;
use super::logs::LogFiles;

/// What a successful spawn produced: the parts a [`Process`](super::Process) is made of.
pub(crate) struct Parts {
    pub(crate) forked_at: Instant,
    pub(crate) name: String,
    pub(crate) pid: u32,
    pub(crate) command: Command,
    pub(crate) logs: LogFiles,
    pub(crate) control: Arc<Control>,
    pub(crate) hub: Arc<LineHub>,
    pub(crate) containment: Containment,
}
