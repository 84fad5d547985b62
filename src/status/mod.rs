//! The driver status machine: states, the legal-transition table, history and waiting.

#[allow(clippy::module_inception)]
mod status;
mod tracker;
mod transition;

pub use status::Status;
pub(crate) use tracker::StatusTracker;
pub use transition::Transition;
