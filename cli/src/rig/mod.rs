//! Rig files: drivers, their options, dependencies and references, and the
//! steps to run, declared in TOML and checked with file:line:column errors.

mod build;
mod describe;
mod drivers;
mod error;
mod fields;
mod kinds;
mod load;
#[cfg(test)]
mod loader_fuzz;
mod location;
mod model;
mod network;
mod read;
mod source;
mod spans;
mod steps;

pub(crate) use error::{Problem, RigError};
pub(crate) use fields::MAX_DURATION;
pub(crate) use location::Location;
pub(crate) use model::{DriverDecl, Rig, StepDecl};
pub(crate) use read::not_regular;
pub(crate) use source::Source;
pub(crate) use spans::TableSpans;
