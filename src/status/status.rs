use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a driver is in its lifecycle.
///
/// ```text
/// Idle ──► Starting ──► Started ──► Stopping ──► Stopped
///             │           │  ▲          │           │
///             ▼           ▼  │          ▼           │ (restart)
///           Failed ◄──── Paused       Failed        ▼
///                                                Starting
/// any state except Aborted ──abort──► Aborted (terminal)
/// ```
///
/// Every legal move is in one table inside the crate (`Status::can_become`); nothing
/// else changes a status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Built, never started.
    Idle,
    /// `start` and readiness are in progress.
    Starting,
    /// Ready and serving.
    Started,
    /// `stop` is in progress.
    Stopping,
    /// Stopped cleanly; may be started again (a restart).
    Stopped,
    /// Start or stop failed or timed out, or the driver died while started.
    Failed,
    /// Frozen by `pause`, until `resume`.
    Paused,
    /// Aborted: terminal, `start` is refused.
    Aborted,
}

impl Status {
    /// Every state, in lifecycle order.
    pub const ALL: [Status; 8] = [
        Status::Idle,
        Status::Starting,
        Status::Started,
        Status::Stopping,
        Status::Stopped,
        Status::Failed,
        Status::Paused,
        Status::Aborted,
    ];

    /// Whether moving from `self` to `next` is legal.
    ///
    /// This is the one transition table of the crate; everything that changes a
    /// status goes through it.
    pub(crate) fn can_become(self, next: Status) -> bool {
        use Status::*;
        match (self, next) {
            (Aborted, _) => false,
            (_, Aborted) => true,
            (Idle | Stopped | Failed, Starting) => true,
            (Starting, Started | Failed) => true,
            (Started, Stopping | Paused | Failed) => true,
            (Paused, Started | Stopping | Failed) => true,
            (Stopping, Stopped | Failed) => true,
            _ => false,
        }
    }

    /// Whether the driver may hold live resources (sockets, processes) in this state.
    pub(crate) fn is_live(self) -> bool {
        matches!(
            self,
            Status::Starting | Status::Started | Status::Paused | Status::Stopping
        )
    }

    /// The lowercase name used in reports and messages.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Idle => "idle",
            Status::Starting => "starting",
            Status::Started => "started",
            Status::Stopping => "stopping",
            Status::Stopped => "stopped",
            Status::Failed => "failed",
            Status::Paused => "paused",
            Status::Aborted => "aborted",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Status::{self, *};

    #[test]
    fn the_transition_table_allows_exactly_the_lifecycle_moves() {
        let legal = [
            (Idle, Starting),
            (Starting, Started),
            (Starting, Failed),
            (Started, Stopping),
            (Started, Paused),
            (Started, Failed),
            (Paused, Started),
            (Paused, Stopping),
            (Paused, Failed),
            (Stopping, Stopped),
            (Stopping, Failed),
            (Stopped, Starting),
            (Failed, Starting),
        ];
        for from in Status::ALL {
            for to in Status::ALL {
                let expected = legal.contains(&(from, to)) || (to == Aborted && from != Aborted);
                assert_eq!(from.can_become(to), expected, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn aborted_is_terminal() {
        assert!(Status::ALL.iter().all(|s| !Aborted.can_become(*s)));
    }
}
