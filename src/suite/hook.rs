use std::fmt;

use super::step::Step;

/// When a suite hook runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Before the environment starts (the drivers are built, not started).
    BeforeStart,
    /// After every driver started, before the first case.
    AfterStart,
    /// After the last case, before the environment stops (only if it started).
    BeforeStop,
    /// After the environment stopped (whenever the setup began).
    AfterStop,
}

impl Stage {
    /// Whether it belongs to the setup (a failure means the cases do not run).
    pub(crate) fn is_setup(self) -> bool {
        match self {
            Stage::BeforeStart | Stage::AfterStart => true,
            Stage::BeforeStop | Stage::AfterStop => false,
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::BeforeStart => "before_start",
            Stage::AfterStart => "after_start",
            Stage::BeforeStop => "before_stop",
            Stage::AfterStop => "after_stop",
        })
    }
}

/// A suite's hooks, in the order they were added.
#[derive(Debug, Default)]
pub(crate) struct Hooks(Vec<(Stage, Step)>);

impl Hooks {
    pub(crate) fn add(&mut self, stage: Stage, step: Step) {
        self.0.push((stage, step));
    }

    /// Removes and returns the hooks of `stage`, in order (each runs once).
    pub(crate) fn take(&mut self, stage: Stage) -> Vec<Step> {
        let (taken, kept) = std::mem::take(&mut self.0)
            .into_iter()
            .partition(|(s, _)| *s == stage);
        self.0 = kept;
        taken.into_iter().map(|(_, step)| step).collect()
    }
}
