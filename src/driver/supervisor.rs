use std::sync::{Arc, Weak};

use super::resource::ResourceInner;

/// Lets a started driver report that it died (its process exited, its listener failed).
///
/// Obtained from [`StartContext::supervisor`](super::StartContext::supervisor) and
/// kept by the driver's background tasks. A report from an earlier run (before a
/// restart) is ignored, and so is one after the driver was stopped.
#[derive(Clone, Debug)]
pub struct Supervisor {
    resource: Weak<ResourceInner>,
    generation: u64,
}

impl Supervisor {
    pub(super) fn new(resource: &Arc<ResourceInner>, generation: u64) -> Self {
        Self {
            resource: Arc::downgrade(resource),
            generation,
        }
    }

    /// A supervisor attached to nothing: reports go nowhere.
    pub fn detached() -> Self {
        Self {
            resource: Weak::new(),
            generation: 0,
        }
    }

    /// Reports that the driver died. Moves a started or paused driver to `Failed`
    /// and records `reason`; returns whether the report was taken.
    pub fn died(&self, reason: impl Into<String>) -> bool {
        match self.resource.upgrade() {
            Some(resource) => resource.died(self.generation, reason.into()),
            None => false,
        }
    }
}
