use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A shared, ordered record of what scripted drivers did and when.
#[derive(Clone, Debug, Default)]
pub struct Journal {
    entries: Arc<Mutex<Vec<Entry>>>,
}

/// One thing a scripted driver did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The driver.
    pub driver: String,
    /// What it did.
    pub event: Event,
    /// When.
    pub at: Instant,
}

/// What a scripted driver did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Event {
    /// `start` was called.
    StartCalled,
    /// `start` finished.
    StartDone,
    /// `ready` finished.
    Ready,
    /// `stop` was called.
    StopCalled,
    /// `stop` finished.
    StopDone,
    /// `abort` was called.
    Aborted,
    /// The driver died while started.
    Died,
    /// `pause` was called.
    Paused,
    /// `resume` was called.
    Resumed,
}

impl Journal {
    /// An empty journal.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn record(&self, driver: &str, event: Event) {
        self.lock().push(Entry {
            driver: driver.to_owned(),
            event,
            at: Instant::now(),
        });
    }

    /// Every entry, oldest first.
    pub fn entries(&self) -> Vec<Entry> {
        self.lock().clone()
    }

    /// The drivers that did `event`, in the order they did it.
    pub fn order_of(&self, event: Event) -> Vec<String> {
        self.lock()
            .iter()
            .filter(|e| e.event == event)
            .map(|e| e.driver.clone())
            .collect()
    }

    /// When `driver` last did `event`.
    pub fn time_of(&self, driver: &str, event: Event) -> Option<Instant> {
        self.lock()
            .iter()
            .rev()
            .find(|e| e.driver == driver && e.event == event)
            .map(|e| e.at)
    }

    /// How many times `driver` did `event`.
    pub fn count(&self, driver: &str, event: Event) -> usize {
        self.lock()
            .iter()
            .filter(|e| e.driver == driver && e.event == event)
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
