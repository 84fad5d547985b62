//! What a person sees while a rig starts, runs its steps and stops: one line
//! per driver status change and per step; colored on a terminal, plain
//! otherwise (CI logs).

mod printer;
mod style;

pub(crate) use printer::{Notes, Progress};
pub(crate) use style::Style;
