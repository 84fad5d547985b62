//! The task that owns a [`ClientService`](super::ClientService)'s state machine.
//!
//! One actor per service. Handles push [`Command`]s into a queue and wake it; the actor
//! waits on exactly the sources its current [`Phase`] owns (the attempt, the retry timer,
//! the live connection), and every transition is a `match` on `(phase, event)`.
//!
//! When the service is idle (`init` or `stopped`) the actor parks itself in the shared
//! slot and its task ends: a stopped service holds no task and no timer. The next command
//! is then processed by the caller's thread, and a task is spawned again only if the
//! command starts work (`start`).

use std::collections::VecDeque;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Sleep;

use super::shared::{Shared, Slot};
use super::{Connection, Connector, RetryPolicy, ServiceError, ServiceEvent, ServiceState};

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub(crate) type PrepareHook<Conn> =
    Box<dyn Fn(Conn) -> BoxFuture<Result<(), BoxError>> + Send + Sync>;
pub(crate) type Reply<Conn> = oneshot::Sender<Result<Conn, ServiceError>>;
/// What a service's handle and its actor share.
pub(crate) type SharedState<C> = Shared<Command<C>, Actor<C>>;

/// What a handle asks of the actor.
pub(crate) enum Command<C: Connector> {
    Start,
    Stop(oneshot::Sender<()>),
    WhenConnected {
        fail_after_failures: Option<u32>,
        reply: Reply<C::Connection>,
    },
    /// The last handle was dropped: close everything and end.
    Shutdown,
}

/// The service's settings, fixed at build time.
pub(crate) struct Settings<C: Connector> {
    pub(crate) connector: C,
    pub(crate) policy: RetryPolicy,
    pub(crate) prepare: Option<PrepareHook<C::Connection>>,
    pub(crate) connect_timeout: Duration,
    pub(crate) disconnect_timeout: Duration,
}

/// The state, with the sources each state owns.
enum Phase<C: Connector> {
    Init,
    Connecting(Attempt<C>),
    /// `timer: None` means the delay is zero: reconnect without arming a timer (a tokio
    /// timer has millisecond granularity).
    Waiting {
        timer: Option<Pin<Box<Sleep>>>,
    },
    Connected(Live<C::Connection>),
    Disconnecting(Live<C::Connection>),
    Restarting(Live<C::Connection>),
    /// Idle after a stop, or because the retry policy gave up (`gave_up` says why, and
    /// `when_connected` fails with it until the next start).
    Stopped {
        gave_up: Option<ServiceError>,
    },
    /// The handle is gone: the actor ends without parking. Terminal.
    ShutDown,
}

impl<C: Connector> Phase<C> {
    fn state(&self) -> ServiceState {
        match self {
            Self::Init => ServiceState::Init,
            Self::Connecting(_) => ServiceState::Connecting,
            Self::Waiting { .. } => ServiceState::Waiting,
            Self::Connected(_) => ServiceState::Connected,
            Self::Disconnecting(_) => ServiceState::Disconnecting,
            Self::Restarting(_) => ServiceState::Restarting,
            Self::Stopped { .. } | Self::ShutDown => ServiceState::Stopped,
        }
    }
}

/// One connection attempt: connect, then `prepare_connection`, within one deadline.
struct Attempt<C: Connector> {
    generation: u64,
    deadline: Pin<Box<Sleep>>,
    step: Step<C>,
}

enum Step<C: Connector> {
    Dialing(BoxFuture<Result<C::Connection, C::Error>>),
    Preparing {
        connection: C::Connection,
        hook: BoxFuture<Result<(), BoxError>>,
    },
}

impl<C: Connector> Attempt<C> {
    /// Abandon the attempt; a connection already made is closed (Twisted leaks it).
    fn cancel(self) {
        if let Step::Preparing { connection, .. } = self.step {
            connection.close();
        }
    }
}

/// The current connection and the watch on its loss.
struct Live<Conn> {
    generation: u64,
    connection: Conn,
    lost: BoxFuture<()>,
    /// Set while disconnecting: a connection that never reports its loss is given up on.
    disconnect_deadline: Option<Pin<Box<Sleep>>>,
}

/// What the actor reacts to besides commands. Each carries the generation of the attempt
/// or connection it comes from; one that does not match the current one is stale.
enum Event<C: Connector> {
    Commands,
    Dialed {
        generation: u64,
        result: Result<C::Connection, C::Error>,
    },
    Prepared {
        generation: u64,
        result: Result<(), BoxError>,
    },
    AttemptTimedOut {
        generation: u64,
    },
    RetryDue,
    Lost {
        generation: u64,
    },
}

struct Waiter<Conn> {
    /// Failures left before this waiter fails; `None` waits until stopped.
    remaining: Option<u32>,
    reply: Reply<Conn>,
}

pub(crate) struct Actor<C: Connector> {
    shared: Arc<SharedState<C>>,
    settings: Settings<C>,
    phase: Phase<C>,
    /// Consecutive failed attempts (Twisted's `_failedAttempts`).
    failures: u32,
    /// Incremented on every attempt; tags connections and their events.
    generation: u64,
    waiters: Vec<Waiter<C::Connection>>,
    stop_waiters: Vec<oneshot::Sender<()>>,
    inbox: VecDeque<Command<C>>,
}

impl<C: Connector> Actor<C> {
    pub(crate) fn new(shared: Arc<SharedState<C>>, settings: Settings<C>) -> Self {
        Self {
            shared,
            settings,
            phase: Phase::Init,
            failures: 0,
            generation: 0,
            waiters: Vec::new(),
            stop_waiters: Vec::new(),
            inbox: VecDeque::new(),
        }
    }

    fn is_idle(&self) -> bool {
        matches!(self.phase, Phase::Init | Phase::Stopped { .. })
    }

    /// Process queued commands until the queue is empty; then park if idle (returns
    /// `None`), or hand the actor back to be driven by its task.
    pub(crate) fn process_commands(mut self: Box<Self>) -> Option<Box<Self>> {
        let mut custody = Custody::new(&self.shared);
        loop {
            let shared = Arc::clone(&self.shared);
            let mut control = shared.lock();
            if control.queue.is_empty() {
                custody.release();
                if matches!(self.phase, Phase::ShutDown) {
                    return None;
                }
                if self.is_idle() {
                    control.slot = Slot::Parked(self);
                    return None;
                }
                control.slot = Slot::Running;
                return Some(self);
            }
            mem::swap(&mut control.queue, &mut self.inbox);
            drop(control);
            while let Some(command) = self.inbox.pop_front() {
                self.on_command(command);
            }
        }
    }

    /// Drive the actor until it parks or shuts down.
    pub(crate) async fn run(mut self: Box<Self>) {
        loop {
            let mut custody = Custody::new(&self.shared);
            let event = self.next_event().await;
            self.on_event(event);
            custody.release();
            match self.process_commands() {
                Some(actor) => self = actor,
                None => return,
            }
        }
    }

    async fn next_event(&mut self) -> Event<C> {
        let shared: &SharedState<C> = &self.shared;
        let commands = shared.wakeup.notified();
        match &mut self.phase {
            // A shut-down actor is never driven again; it waits like an idle one.
            Phase::Init | Phase::Stopped { .. } | Phase::ShutDown => {
                commands.await;
                Event::Commands
            }
            Phase::Connecting(attempt) => {
                let generation = attempt.generation;
                let deadline = attempt.deadline.as_mut();
                match &mut attempt.step {
                    Step::Dialing(dial) => tokio::select! {
                        biased;
                        () = commands => Event::Commands,
                        result = dial => Event::Dialed { generation, result },
                        () = deadline => Event::AttemptTimedOut { generation },
                    },
                    Step::Preparing { hook, .. } => tokio::select! {
                        biased;
                        () = commands => Event::Commands,
                        result = hook => Event::Prepared { generation, result },
                        () = deadline => Event::AttemptTimedOut { generation },
                    },
                }
            }
            Phase::Waiting { timer: None } => {
                // A zero delay against a target that fails at once must still let other
                // tasks run.
                tokio::task::consume_budget().await;
                Event::RetryDue
            }
            Phase::Waiting { timer: Some(timer) } => tokio::select! {
                biased;
                () = commands => Event::Commands,
                () = timer.as_mut() => Event::RetryDue,
            },
            Phase::Connected(live) | Phase::Disconnecting(live) | Phase::Restarting(live) => {
                let generation = live.generation;
                let gone = async {
                    match live.disconnect_deadline.as_mut() {
                        Some(deadline) => {
                            tokio::select! {
                                () = live.lost.as_mut() => {}
                                () = deadline.as_mut() => tracing::warn!(
                                    service = %shared.target,
                                    "the connection did not report being closed within the disconnect timeout; treating it as closed"
                                ),
                            }
                        }
                        None => live.lost.as_mut().await,
                    }
                };
                tokio::select! {
                    biased;
                    () = commands => Event::Commands,
                    () = gone => Event::Lost { generation },
                }
            }
        }
    }

    fn on_command(&mut self, command: Command<C>) {
        let from = self.phase.state();
        let phase = mem::replace(&mut self.phase, Phase::ShutDown);
        self.phase = match (phase, command) {
            (
                phase,
                Command::WhenConnected {
                    fail_after_failures,
                    reply,
                },
            ) => {
                self.when_connected(&phase, fail_after_failures, reply);
                phase
            }

            (Phase::Init | Phase::Stopped { .. }, Command::Start) => {
                // Twisted keeps the count across stop/start; a fresh start here starts a
                // fresh backoff (and forgets why the last run gave up).
                self.failures = 0;
                self.connect()
            }
            (Phase::Disconnecting(live), Command::Start) => {
                self.failures = 0;
                Phase::Restarting(live)
            }
            (
                phase @ (Phase::Connecting(_)
                | Phase::Waiting { .. }
                | Phase::Connected(_)
                | Phase::Restarting(_)),
                Command::Start,
            ) => {
                tracing::warn!(service = %self.shared.target, state = %phase.state(), "duplicate ClientService start ignored");
                phase
            }

            (Phase::Init, Command::Stop(done)) => {
                // Twisted leaves waiters of a never-started service pending forever.
                self.cancel_waiters();
                let _ = done.send(());
                Phase::Stopped { gave_up: None }
            }
            (Phase::Stopped { gave_up }, Command::Stop(done)) => {
                self.cancel_waiters();
                let _ = done.send(());
                Phase::Stopped { gave_up }
            }
            (Phase::ShutDown, Command::Start | Command::Shutdown) => Phase::ShutDown,
            (Phase::ShutDown, Command::Stop(done)) => {
                let _ = done.send(());
                Phase::ShutDown
            }
            (Phase::Connecting(attempt), Command::Stop(done)) => {
                attempt.cancel();
                self.cancel_waiters();
                let _ = done.send(());
                Phase::Stopped { gave_up: None }
            }
            (Phase::Waiting { .. }, Command::Stop(done)) => {
                self.cancel_waiters();
                let _ = done.send(());
                Phase::Stopped { gave_up: None }
            }
            (Phase::Connected(live), Command::Stop(done)) => {
                self.stop_waiters.push(done);
                Phase::Disconnecting(self.disconnect(live))
            }
            (Phase::Disconnecting(live) | Phase::Restarting(live), Command::Stop(done)) => {
                self.stop_waiters.push(done);
                Phase::Disconnecting(live)
            }

            (
                phase @ (Phase::Init
                | Phase::Connecting(_)
                | Phase::Waiting { .. }
                | Phase::Connected(_)
                | Phase::Disconnecting(_)
                | Phase::Restarting(_)
                | Phase::Stopped { .. }),
                Command::Shutdown,
            ) => {
                match phase {
                    Phase::Connecting(attempt) => attempt.cancel(),
                    Phase::Connected(live)
                    | Phase::Disconnecting(live)
                    | Phase::Restarting(live) => live.connection.close(),
                    Phase::Init
                    | Phase::Waiting { .. }
                    | Phase::Stopped { .. }
                    | Phase::ShutDown => {}
                }
                self.cancel_waiters();
                self.finish_stopping();
                Phase::ShutDown
            }
        };
        self.announce(from);
    }

    fn on_event(&mut self, event: Event<C>) {
        let from = self.phase.state();
        let phase = mem::replace(&mut self.phase, Phase::ShutDown);
        self.phase = match (phase, event) {
            (phase, Event::Commands) => phase,

            (Phase::Connecting(attempt), Event::Dialed { generation, result })
                if attempt.generation == generation =>
            {
                match result {
                    Ok(connection) => match &self.settings.prepare {
                        Some(prepare) => Phase::Connecting(Attempt {
                            step: Step::Preparing {
                                hook: prepare(connection.clone()),
                                connection,
                            },
                            ..attempt
                        }),
                        None => self.connection_made(generation, connection),
                    },
                    Err(error) => {
                        self.retry_or_give_up(|target, failures| ServiceError::ConnectFailed {
                            target,
                            failures,
                            source: Arc::new(error),
                        })
                    }
                }
            }
            (Phase::Connecting(attempt), Event::Prepared { generation, result })
                if attempt.generation == generation =>
            {
                let Step::Preparing { connection, .. } = attempt.step else {
                    unreachable!("a prepare result comes only from the preparing step")
                };
                match result {
                    Ok(()) => self.connection_made(generation, connection),
                    Err(error) => {
                        connection.close();
                        self.retry_or_give_up(|target, failures| ServiceError::PrepareFailed {
                            target,
                            failures,
                            source: Arc::from(error),
                        })
                    }
                }
            }
            (Phase::Connecting(attempt), Event::AttemptTimedOut { generation })
                if attempt.generation == generation =>
            {
                attempt.cancel();
                let after = self.settings.connect_timeout;
                self.retry_or_give_up(|target, failures| ServiceError::ConnectTimedOut {
                    target,
                    failures,
                    after,
                })
            }

            (Phase::Waiting { .. }, Event::RetryDue) => self.connect(),

            (Phase::Connected(live), Event::Lost { generation })
                if live.generation == generation =>
            {
                let unacknowledged_bytes = live.connection.unacknowledged_bytes();
                tracing::debug!(service = %self.shared.target, generation, ?unacknowledged_bytes, "connection lost");
                self.emit(ServiceEvent::ConnectionLost {
                    generation,
                    unacknowledged_bytes,
                });
                // Closed too: a peer's FIN leaves our side open for writing, and clones
                // held by users would keep it half-open.
                live.connection.close();
                self.retry_or_give_up(|target, _| ServiceError::ConnectionLost { target })
            }
            (Phase::Disconnecting(live), Event::Lost { generation })
                if live.generation == generation =>
            {
                live.connection.close();
                self.cancel_waiters();
                self.finish_stopping();
                Phase::Stopped { gave_up: None }
            }
            (Phase::Restarting(live), Event::Lost { generation })
                if live.generation == generation =>
            {
                live.connection.close();
                self.finish_stopping();
                self.connect()
            }

            (phase, stale) => {
                if let Event::Dialed {
                    result: Ok(connection),
                    ..
                } = &stale
                {
                    connection.close();
                }
                tracing::debug!(
                    service = %self.shared.target,
                    state = %phase.state(),
                    event = stale.name(),
                    "stale event ignored"
                );
                phase
            }
        };
        self.announce(from);
    }

    fn when_connected(
        &mut self,
        phase: &Phase<C>,
        fail_after_failures: Option<u32>,
        reply: Reply<C::Connection>,
    ) {
        match phase {
            Phase::Connected(live) => {
                let _ = reply.send(Ok(live.connection.clone()));
            }
            Phase::Stopped { gave_up } => {
                let error = gave_up.clone().unwrap_or_else(|| self.cancelled());
                let _ = reply.send(Err(error));
            }
            Phase::ShutDown => {
                let _ = reply.send(Err(self.cancelled()));
            }
            Phase::Init
            | Phase::Connecting(_)
            | Phase::Waiting { .. }
            | Phase::Disconnecting(_)
            | Phase::Restarting(_) => {
                // Callers that gave up waiting (a timeout around the future) leave closed
                // replies behind; drop them so a long outage does not grow the list.
                self.waiters.retain(|waiter| !waiter.reply.is_closed());
                self.waiters.push(Waiter {
                    remaining: fail_after_failures,
                    reply,
                });
            }
        }
    }

    fn connect(&mut self) -> Phase<C> {
        self.generation += 1;
        Phase::Connecting(Attempt {
            generation: self.generation,
            deadline: Box::pin(tokio::time::sleep(self.settings.connect_timeout)),
            step: Step::Dialing(Box::pin(self.settings.connector.connect())),
        })
    }

    fn connection_made(&mut self, generation: u64, connection: C::Connection) -> Phase<C> {
        self.failures = 0;
        for waiter in mem::take(&mut self.waiters) {
            let _ = waiter.reply.send(Ok(connection.clone()));
        }
        Phase::Connected(Live {
            generation,
            lost: Box::pin(connection.closed()),
            connection,
            disconnect_deadline: None,
        })
    }

    /// Count the failure (before asking the policy, as Twisted does), tell the waiters
    /// whose limit it reaches (not for a lost connection, as in Twisted), and wait or give
    /// up.
    fn retry_or_give_up(&mut self, error: impl FnOnce(Arc<str>, u32) -> ServiceError) -> Phase<C> {
        self.failures = self.failures.saturating_add(1);
        let error = error(Arc::clone(&self.shared.target), self.failures);
        let delay = self.settings.policy.delay(self.failures);
        match delay {
            Some(delay) => tracing::info!(
                service = %self.shared.target,
                attempt = self.failures,
                ?delay,
                error = %crate::error::full_message(&error),
                "scheduling a retry"
            ),
            None => tracing::warn!(
                service = %self.shared.target,
                error = %crate::error::full_message(&error),
                "retry policy gave up"
            ),
        }
        self.emit(ServiceEvent::AttemptFailed {
            error: error.clone(),
            retry_in: delay,
        });
        let is_loss = matches!(error, ServiceError::ConnectionLost { .. });
        if !is_loss {
            self.deliver_failure(&error);
        }
        match delay {
            Some(delay) if delay.is_zero() => Phase::Waiting { timer: None },
            Some(delay) => Phase::Waiting {
                timer: Some(Box::pin(tokio::time::sleep(delay))),
            },
            None => {
                let gave_up = ServiceError::GaveUp {
                    target: Arc::clone(&self.shared.target),
                    last: Box::new(error),
                };
                for waiter in mem::take(&mut self.waiters) {
                    let _ = waiter.reply.send(Err(gave_up.clone()));
                }
                Phase::Stopped {
                    gave_up: Some(gave_up),
                }
            }
        }
    }

    /// Twisted's `_deliverConnectionFailure`: each counted waiter loses one allowance;
    /// those that reach zero fail with this failure.
    fn deliver_failure(&mut self, error: &ServiceError) {
        for mut waiter in mem::take(&mut self.waiters) {
            match waiter.remaining {
                Some(remaining) if remaining <= 1 => {
                    let _ = waiter.reply.send(Err(error.clone()));
                }
                Some(remaining) => {
                    waiter.remaining = Some(remaining - 1);
                    self.waiters.push(waiter);
                }
                None => self.waiters.push(waiter),
            }
        }
    }

    fn disconnect(&self, mut live: Live<C::Connection>) -> Live<C::Connection> {
        live.connection.close();
        live.disconnect_deadline = Some(Box::pin(tokio::time::sleep(
            self.settings.disconnect_timeout,
        )));
        live
    }

    fn cancelled(&self) -> ServiceError {
        ServiceError::Cancelled {
            target: Arc::clone(&self.shared.target),
        }
    }

    fn cancel_waiters(&mut self) {
        let cancelled = self.cancelled();
        for waiter in mem::take(&mut self.waiters) {
            let _ = waiter.reply.send(Err(cancelled.clone()));
        }
    }

    fn finish_stopping(&mut self) {
        for done in mem::take(&mut self.stop_waiters) {
            let _ = done.send(());
        }
    }

    /// Publish a state change, if there was one.
    fn announce(&self, from: ServiceState) {
        let to = self.phase.state();
        if from != to {
            tracing::debug!(service = %self.shared.target, %from, %to, "client service state");
            self.shared.set_state(to);
            self.emit(ServiceEvent::StateChanged { from, to });
        }
    }

    fn emit(&self, event: ServiceEvent) {
        if let Some(events) = self.shared.events.get() {
            // No subscriber left is not an error.
            let _ = events.send(event);
        }
    }
}

/// Marks the service dead if the actor is lost while in use: a connector or hook that
/// panics, or a runtime shut down under a running service. Queued and later commands are
/// then dropped, so their callers see "cancelled" / "stopped" instead of waiting forever.
struct Custody<C: Connector> {
    shared: Arc<SharedState<C>>,
    armed: bool,
}

impl<C: Connector> Custody<C> {
    fn new(shared: &Arc<SharedState<C>>) -> Self {
        Self {
            shared: Arc::clone(shared),
            armed: true,
        }
    }

    /// The actor is accounted for (parked, handed back, or shut down).
    fn release(&mut self) {
        self.armed = false;
    }
}

impl<C: Connector> Drop for Custody<C> {
    fn drop(&mut self) {
        if self.armed {
            let dropped = {
                let mut control = self.shared.lock();
                control.slot = Slot::Dead;
                mem::take(&mut control.queue)
            };
            self.shared.set_state(ServiceState::Stopped);
            drop(dropped);
        }
    }
}

impl<C: Connector> Event<C> {
    fn name(&self) -> &'static str {
        match self {
            Self::Commands => "commands",
            Self::Dialed { .. } => "dialed",
            Self::Prepared { .. } => "prepared",
            Self::AttemptTimedOut { .. } => "attempt timed out",
            Self::RetryDue => "retry due",
            Self::Lost { .. } => "connection lost",
        }
    }
}
