//! What a [`ClientService`](super::ClientService) handle and its actor share: the command
//! queue, where the actor is, and the state readers see without asking the actor.
//!
//! Generic over the command and actor types so that this file depends on neither the
//! handle nor the actor: both depend on it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use tokio::sync::{Notify, broadcast};

use super::{ServiceEvent, ServiceState};

/// What a handle and its actor share; `M` is a command, `A` the actor.
pub(crate) struct Shared<M, A> {
    control: Mutex<Control<M, A>>,
    /// Wakes the actor when commands are queued.
    pub(crate) wakeup: Notify,
    state: AtomicU8,
    /// Created by the first subscriber, so unobserved services pay nothing for it.
    pub(crate) events: OnceLock<broadcast::Sender<ServiceEvent>>,
    pub(crate) target: std::sync::Arc<str>,
    /// The span current where the service was made (a driver's, when a driver made
    /// it): the actor's events belong to it, whoever's send woke the actor.
    pub(crate) span: tracing::Span,
}

/// The queue and the actor's whereabouts, behind one lock.
pub(crate) struct Control<M, A> {
    pub(crate) queue: VecDeque<M>,
    pub(crate) slot: Slot<A>,
}

/// Where the actor is.
pub(crate) enum Slot<A> {
    /// Its task is running and will drain the queue.
    Running,
    /// Idle (`init` or `stopped`) and taskless; the next command is processed by the
    /// caller.
    Parked(Box<A>),
    /// The handle was dropped.
    Closed,
    /// The actor was lost (a panic in a connector or hook, or the runtime shut down):
    /// commands are dropped, which their callers see as cancelled / stopped.
    Dead,
}

impl<M, A> Shared<M, A> {
    /// Shared state for a service connecting to `target`, with no actor yet
    /// ([`Slot::Closed`] until one is parked).
    pub(crate) fn new(target: std::sync::Arc<str>) -> Self {
        Self {
            control: Mutex::new(Control {
                queue: VecDeque::new(),
                slot: Slot::Closed,
            }),
            wakeup: Notify::new(),
            state: AtomicU8::new(ServiceState::Init as u8),
            events: OnceLock::new(),
            target,
            span: tracing::Span::current(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Control<M, A>> {
        // Nothing panics while holding the lock, but a poisoned queue is still usable.
        self.control
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn set_state(&self, state: ServiceState) {
        self.state.store(state as u8, Ordering::Release);
    }

    pub(crate) fn state(&self) -> ServiceState {
        const STATES: [ServiceState; 7] = [
            ServiceState::Init,
            ServiceState::Connecting,
            ServiceState::Waiting,
            ServiceState::Connected,
            ServiceState::Disconnecting,
            ServiceState::Restarting,
            ServiceState::Stopped,
        ];
        STATES[usize::from(self.state.load(Ordering::Acquire))]
    }
}
