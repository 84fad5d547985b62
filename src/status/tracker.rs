use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{broadcast, watch};

use super::{Status, Transition};
use crate::error::LifecycleError;

/// The status of one driver: current value, history with timestamps, and waiters.
///
/// Every change is checked against [`Status::can_become`]; an illegal one is an
/// error and changes nothing. Waiters are woken by the change (a `watch` channel),
/// never by polling.
#[derive(Debug)]
pub(crate) struct StatusTracker {
    driver: String,
    created: Instant,
    history: Mutex<History>,
    sender: watch::Sender<Status>,
    events: Option<broadcast::Sender<Transition>>,
    /// The driver's span (`driver{name, kind}`): each change is an event in it.
    /// Disabled for a tracker of its own, which emits nothing.
    span: tracing::Span,
}

#[derive(Debug)]
struct History {
    current: Status,
    transitions: Vec<Transition>,
}

impl StatusTracker {
    /// A tracker for `driver`, starting at [`Status::Idle`].
    #[cfg(test)]
    pub(crate) fn new(driver: impl Into<String>) -> Self {
        Self::with_events(driver, None)
    }

    /// A tracker that also announces every change on `events`.
    pub(crate) fn with_events(
        driver: impl Into<String>,
        events: Option<broadcast::Sender<Transition>>,
    ) -> Self {
        let (sender, _) = watch::channel(Status::Idle);
        Self {
            driver: driver.into(),
            created: Instant::now(),
            history: Mutex::new(History {
                current: Status::Idle,
                transitions: Vec::new(),
            }),
            sender,
            events,
            span: tracing::Span::none(),
        }
    }

    /// Makes every change a `tracing` event in `span` (info; error for `failed`).
    pub(crate) fn with_span(mut self, span: tracing::Span) -> Self {
        self.span = span;
        self
    }

    /// The current status.
    pub(crate) fn get(&self) -> Status {
        self.lock().current
    }

    /// Moves to `to`, or fails with [`LifecycleError::IllegalTransition`].
    pub(crate) fn set(
        &self,
        to: Status,
        note: Option<String>,
    ) -> Result<Transition, LifecycleError> {
        let transition = self.set_if(|_| true, to, note)?;
        Ok(transition.expect("an always-true condition holds"))
    }

    /// Moves to `to` only if `condition` holds for the current status.
    ///
    /// Returns `Ok(None)` when the condition does not hold (nothing changes), and an
    /// error when it holds but the move is illegal.
    pub(crate) fn set_if(
        &self,
        condition: impl FnOnce(Status) -> bool,
        to: Status,
        note: Option<String>,
    ) -> Result<Option<Transition>, LifecycleError> {
        let mut history = self.lock();
        let from = history.current;
        if !condition(from) {
            return Ok(None);
        }
        if !from.can_become(to) {
            return Err(LifecycleError::IllegalTransition {
                driver: self.driver.clone(),
                from,
                to,
            });
        }
        let transition = Transition {
            driver: self.driver.clone(),
            from,
            to,
            at: SystemTime::now(),
            elapsed: self.created.elapsed(),
            note,
        };
        history.current = to;
        history.transitions.push(transition.clone());
        drop(history);
        self.sender.send_replace(to);
        if !self.span.is_none() {
            let note = transition.note.as_deref();
            if to == Status::Failed {
                tracing::error!(parent: &self.span, %from, note, "{to}");
            } else {
                tracing::info!(parent: &self.span, %from, note, "{to}");
            }
        }
        if let Some(events) = &self.events {
            // Nobody listening is fine.
            let _ = events.send(transition.clone());
        }
        Ok(Some(transition))
    }

    /// Every transition so far, oldest first.
    pub(crate) fn history(&self) -> Vec<Transition> {
        self.lock().transitions.clone()
    }

    /// A receiver that sees every later status (the newest one when it falls behind).
    pub(crate) fn subscribe(&self) -> watch::Receiver<Status> {
        self.sender.subscribe()
    }

    /// Waits until the status is `status`, for at most `timeout`.
    pub(crate) async fn wait(
        &self,
        status: Status,
        timeout: Duration,
    ) -> Result<(), LifecycleError> {
        let mut receiver = self.subscribe();
        let reached = tokio::time::timeout(timeout, receiver.wait_for(|s| *s == status)).await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            // The sender lives in `self`, so it cannot be closed while we borrow it.
            Ok(Err(_)) | Err(_) => Err(LifecycleError::WaitTimeout {
                driver: self.driver.clone(),
                wanted: status,
                current: self.get(),
                after: timeout,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, History> {
        // A panic while holding this lock cannot leave the history half-written
        // (every update is a push and an assignment), so poisoning is ignored.
        self.history.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_illegal_transition_is_an_error_and_changes_nothing() {
        let tracker = StatusTracker::new("d");
        let err = tracker.set(Status::Started, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "driver `d`: illegal status change idle -> started"
        );
        assert_eq!(tracker.get(), Status::Idle);
        assert!(tracker.history().is_empty());
    }

    #[test]
    fn history_records_each_transition_in_order_with_timestamps() {
        let tracker = StatusTracker::new("d");
        tracker.set(Status::Starting, None).unwrap();
        tracker.set(Status::Started, Some("ready".into())).unwrap();
        let history = tracker.history();
        assert_eq!(history.len(), 2);
        assert_eq!(
            (history[0].from, history[0].to),
            (Status::Idle, Status::Starting)
        );
        assert_eq!(history[1].note.as_deref(), Some("ready"));
        assert!(history[1].elapsed >= history[0].elapsed);
        assert!(history[1].at >= history[0].at);
    }

    #[tokio::test]
    async fn wait_is_woken_by_the_change() {
        let tracker = std::sync::Arc::new(StatusTracker::new("d"));
        let waiter = {
            let tracker = tracker.clone();
            tokio::spawn(
                async move { tracker.wait(Status::Starting, Duration::from_secs(5)).await },
            )
        };
        tokio::task::yield_now().await;
        tracker.set(Status::Starting, None).unwrap();
        waiter.await.unwrap().unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn wait_gives_up_at_its_deadline() {
        let tracker = StatusTracker::new("d");
        let err = tracker
            .wait(Status::Started, Duration::from_secs(3))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "driver `d` did not reach status started within 3s (it is idle)"
        );
    }

    #[tokio::test]
    async fn wait_returns_once_the_status_is_reached_and_times_out_otherwise() {
        let tracker = StatusTracker::new("server");
        tracker.set(Status::Starting, None).unwrap();
        tracker
            .wait(Status::Starting, Duration::from_millis(10))
            .await
            .unwrap();
        assert!(
            tracker
                .wait(Status::Started, Duration::from_millis(10))
                .await
                .is_err()
        );
    }
}
