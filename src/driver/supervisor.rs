use std::fmt;
use std::sync::Weak;

/// What a [`Supervisor`] reports to: the lifecycle engine of the driver it watches.
pub(super) trait Supervised: Send + Sync + fmt::Debug {
    /// Takes a death report from the driver's run number `generation`; returns whether it
    /// was taken.
    fn died(&self, generation: u64, reason: String) -> bool;
}

/// The target of a detached supervisor; never upgraded to.
#[cfg(feature = "testing")]
#[derive(Debug)]
struct Nowhere;

#[cfg(feature = "testing")]
impl Supervised for Nowhere {
    fn died(&self, _: u64, _: String) -> bool {
        false
    }
}

/// Lets a started driver report that it died (its process exited, its listener failed).
///
/// Obtained from [`StartContext::supervisor`](super::StartContext::supervisor) and
/// kept by the driver's background tasks. A report from an earlier run (before a
/// restart) is ignored, and so is one after the driver was stopped.
#[derive(Clone, Debug)]
pub struct Supervisor {
    resource: Weak<dyn Supervised>,
    generation: u64,
}

impl Supervisor {
    pub(super) fn new(resource: Weak<dyn Supervised>, generation: u64) -> Self {
        Self {
            resource,
            generation,
        }
    }

    /// A supervisor attached to nothing: reports go nowhere.
    #[cfg(feature = "testing")]
    pub(crate) fn detached() -> Self {
        Self {
            resource: Weak::<Nowhere>::new(),
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
