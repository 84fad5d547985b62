//! One test per behaviour of Twisted's `ClientServiceTests` (seed 004), on the paused
//! clock. Twisted's factory plumbing tests (`test_startStopFactory`,
//! `test_interfacesForTransport`) have no counterpart: there is no protocol factory here.

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use testrig::service::{ClientService, ServiceError, ServiceState};

use crate::support::{
    AT_LEAST_ONE_ATTEMPT, ScriptedConnector, ScriptedError, assert_pending, finish, resolved,
    run_until_idle,
};

fn started(connector: &ScriptedConnector) -> ClientService<ScriptedConnector> {
    ClientService::builder(connector.clone()).start()
}

fn assert_cancelled<T: std::fmt::Debug>(result: Result<T, ServiceError>) {
    match result {
        Err(ServiceError::Cancelled { .. }) => {}
        other => panic!("expected a cancelled error, got {other:?}"),
    }
}

fn assert_connect_failed<T: std::fmt::Debug>(result: Result<T, ServiceError>, message: &str) {
    match result {
        Err(ServiceError::ConnectFailed { source, .. }) => {
            assert_eq!(source.to_string(), message);
        }
        other => panic!("expected the attempt's failure {message:?}, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn start_service_makes_one_connection_attempt() {
    let connector = ScriptedConnector::manual();
    let service = started(&connector);
    run_until_idle().await;
    assert_eq!(connector.attempts(), 1);
    assert_eq!(service.state(), ServiceState::Connecting);
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn start_twice_makes_no_extra_attempt() {
    let connector = ScriptedConnector::manual();
    let service = ClientService::builder(connector.clone()).build();
    assert_eq!(connector.attempts(), 0);
    service.start();
    assert_eq!(connector.attempts(), 1);
    service.start();
    run_until_idle().await;
    assert_eq!(connector.attempts(), 1);
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn stop_service_before_start_service_resolves_at_once() {
    let connector = ScriptedConnector::manual();
    let service = ClientService::builder(connector.clone()).build();
    resolved(&mut pin!(service.stop())).await;
    assert_eq!(service.state(), ServiceState::Stopped);
    assert_eq!(connector.attempts(), 0);
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn stop_service_on_stopped_service_resolves_both_stops() {
    let connector = ScriptedConnector::manual();
    let service = started(&connector);
    let mut first = pin!(service.stop());
    let mut second = pin!(service.stop());
    resolved(&mut first).await;
    resolved(&mut second).await;
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn stop_service_while_connecting_cancels_the_attempt_and_resolves_at_once() {
    let connector = ScriptedConnector::manual();
    let service = started(&connector);
    let attempt = connector.next_attempt().await;
    assert!(!attempt.is_cancelled());
    resolved(&mut pin!(service.stop())).await;
    assert!(attempt.is_cancelled(), "the pending attempt is dropped");
    assert_eq!(service.state(), ServiceState::Stopped);
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn stop_service_while_retrying_ignores_the_late_result_of_the_cancelled_attempt() {
    let connector = ScriptedConnector::manual();
    let service = started(&connector);
    connector.next_attempt().await.fail("first");
    tokio::time::advance(AT_LEAST_ONE_ATTEMPT).await;
    let second = connector.next_attempt().await;
    assert_eq!(connector.attempts(), 2);
    let mut stopped = pin!(service.stop());
    second.fail("late result of the cancelled attempt");
    resolved(&mut stopped).await;
    run_until_idle().await;
    assert_eq!(service.state(), ServiceState::Stopped);
    assert_eq!(connector.attempts(), 2);
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn retry_cancelled_when_stopped_between_attempts_resolves_at_once() {
    let connector = ScriptedConnector::manual();
    let service = started(&connector);
    connector.next_attempt().await.fail("no connection");
    run_until_idle().await;
    assert_eq!(service.state(), ServiceState::Waiting);
    resolved(&mut pin!(service.stop())).await;
    // The retry timer went with the task: no attempt however long we wait.
    crate::support::assert_no_task_left().await;
    tokio::time::advance(AT_LEAST_ONE_ATTEMPT).await;
    assert_eq!(connector.attempts(), 1);
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn stop_service_while_connected_resolves_only_after_the_connection_is_closed() {
    let connector = ScriptedConnector::immediate();
    let service = started(&connector);
    run_until_idle().await;
    let mut stopped = pin!(service.stop());
    assert_pending(&mut stopped).await;
    let connection = connector.connection(0);
    assert!(connection.is_closing(), "stop asks the connection to close");
    assert_eq!(service.state(), ServiceState::Disconnecting);
    connection.lose();
    resolved(&mut stopped).await;
    assert_eq!(connector.attempts(), 1, "no further connect attempt");
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn stop_service_while_disconnecting_resolves_both_stops_on_disconnect() {
    let connector = ScriptedConnector::manual();
    let service = started(&connector);
    let connection = connector.next_attempt().await.succeed();
    run_until_idle().await;
    let mut first = pin!(service.stop());
    let mut second = pin!(service.stop());
    assert_pending(&mut first).await;
    assert_pending(&mut second).await;
    connection.lose();
    resolved(&mut first).await;
    resolved(&mut second).await;
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn stop_service_while_restarting_resolves_both_stops_on_disconnect_without_reconnecting() {
    let connector = ScriptedConnector::manual();
    let service = started(&connector);
    let connection = connector.next_attempt().await.succeed();
    run_until_idle().await;
    let mut first = pin!(service.stop());
    service.start();
    run_until_idle().await;
    assert_eq!(service.state(), ServiceState::Restarting);
    let mut second = pin!(service.stop());
    run_until_idle().await;
    assert_eq!(service.state(), ServiceState::Disconnecting);
    connection.lose();
    resolved(&mut first).await;
    resolved(&mut second).await;
    tokio::time::advance(AT_LEAST_ONE_ATTEMPT).await;
    assert_eq!(
        connector.attempts(),
        1,
        "the cancelled restart does not reconnect"
    );
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn client_connection_lost_while_stopping_resolves_the_stop_and_cancels_when_connected() {
    let connector = ScriptedConnector::immediate();
    let service = started(&connector);
    run_until_idle().await;
    let mut stopped = pin!(service.stop());
    run_until_idle().await;
    connector.connection(0).lose();
    resolved(&mut stopped).await;
    assert_cancelled(resolved(&mut pin!(service.when_connected(None))).await);
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn start_service_waits_for_disconnect_then_reconnects_without_backoff() {
    let connector = ScriptedConnector::immediate();
    let service = started(&connector);
    run_until_idle().await;
    let mut stopped = pin!(service.stop());
    run_until_idle().await;
    let first = connector.connection(0);
    assert!(first.is_closing());
    service.start();
    assert_pending(&mut stopped).await;
    assert_eq!(connector.connections().len(), 1);
    first.lose();
    run_until_idle().await;
    // Reconnected with no retry delay: the clock has not moved past the idle ticks.
    assert_eq!(connector.connections().len(), 2);
    resolved(&mut stopped).await;
    assert_eq!(service.state(), ServiceState::Connected);
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn start_service_while_stopping_gives_a_pending_when_connected_the_new_connection() {
    let connector = ScriptedConnector::manual();
    let service = started(&connector);
    let first = connector.next_attempt().await.succeed();
    run_until_idle().await;
    let mut stopped = pin!(service.stop());
    assert_pending(&mut stopped).await;
    let mut next = pin!(service.when_connected(None));
    assert_pending(&mut next).await;
    service.start();
    assert_pending(&mut next).await;
    assert_pending(&mut stopped).await;
    assert!(first.is_closing());
    first.lose();
    resolved(&mut stopped).await;
    let second = connector.next_attempt().await.succeed();
    assert_eq!(connector.connections().len(), 2);
    assert_eq!(resolved(&mut next).await.unwrap().id(), second.id());
    let mut second_stop = pin!(service.stop());
    assert_pending(&mut second_stop).await;
    second.lose();
    resolved(&mut second_stop).await;
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn start_service_while_stopped_reconnects_and_delivers_the_newest_connection() {
    let connector = ScriptedConnector::manual();
    let service = started(&connector);
    resolved(&mut pin!(service.stop())).await;
    assert!(connector.next_attempt().await.is_cancelled());
    assert_cancelled(resolved(&mut pin!(service.when_connected(None))).await);
    service.start();
    let newest = connector.next_attempt().await;
    assert_eq!(newest.number(), 1);
    let newest = newest.succeed();
    let connection = resolved(&mut pin!(service.when_connected(None)))
        .await
        .unwrap();
    assert_eq!(connection.id(), newest.id());
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn client_connected_leaves_no_pending_timer_and_when_connected_yields_the_connection() {
    let connector = ScriptedConnector::immediate();
    let service = started(&connector);
    let connection = resolved(&mut pin!(service.when_connected(None)))
        .await
        .unwrap();
    assert_eq!(connection.id(), connector.connection(0).id());
    assert_eq!(service.state(), ServiceState::Connected);
    // Nothing is scheduled: a long wait makes no attempt and changes nothing.
    tokio::time::advance(AT_LEAST_ONE_ATTEMPT).await;
    assert_eq!(connector.attempts(), 1);
    assert_eq!(service.state(), ServiceState::Connected);
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn client_connection_failed_retries_after_the_delay() {
    let connector = ScriptedConnector::manual();
    let service = started(&connector);
    connector.next_attempt().await.fail("refused");
    let mut waiter = pin!(service.when_connected(None));
    assert_pending(&mut waiter).await;
    assert_eq!(connector.attempts(), 1);
    tokio::time::advance(AT_LEAST_ONE_ATTEMPT).await;
    connector.next_attempt().await;
    assert_eq!(connector.attempts(), 2);
    finish(service, &connector).await;
    assert_cancelled(resolved(&mut waiter).await);
}

#[tokio::test(start_paused = true)]
async fn client_connection_failed_retries_after_exactly_the_policy_delay() {
    // Twisted's default with the jitter fixed at 0.5 s: the first retry asks for
    // attempt 1, so it waits 1 s · 1.5 + 0.5 s = 2 s; the second 2.25 s + 0.5 s.
    let connector = ScriptedConnector::manual();
    let policy = testrig::service::RetryPolicy::twisted()
        .jitter_with(|| std::time::Duration::from_millis(500));
    let service = ClientService::builder(connector.clone())
        .retry_policy(policy)
        .build();
    let mut events = service.subscribe();
    service.start();
    let ms = std::time::Duration::from_millis;
    for delay in [ms(2_000), ms(2_750)] {
        connector.next_attempt().await.fail("refused");
        let failed_at = loop {
            if let testrig::service::ServiceEvent::AttemptFailed { retry_in, .. } =
                events.recv().await.unwrap()
            {
                assert_eq!(retry_in, Some(delay));
                break tokio::time::Instant::now();
            }
        };
        // The paused clock jumps straight to the retry timer.
        connector.next_attempt_started().await;
        let waited = tokio::time::Instant::now() - failed_at;
        assert!(
            waited >= delay && waited <= delay + ms(1),
            "retried after {waited:?}, expected {delay:?}"
        );
    }
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn client_connection_lost_retries_after_the_delay_and_delivers_the_new_connection() {
    let connector = ScriptedConnector::manual();
    let service = started(&connector);
    let first = connector.next_attempt().await.succeed();
    assert_eq!(
        resolved(&mut pin!(service.when_connected(None)))
            .await
            .unwrap()
            .id(),
        first.id()
    );
    assert_eq!(connector.attempts(), 1);
    first.lose();
    run_until_idle().await;
    assert_eq!(service.state(), ServiceState::Waiting);
    tokio::time::advance(AT_LEAST_ONE_ATTEMPT).await;
    let second = connector.next_attempt().await.succeed();
    assert_eq!(connector.attempts(), 2);
    assert_eq!(
        resolved(&mut pin!(service.when_connected(None)))
            .await
            .unwrap()
            .id(),
        second.id()
    );
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn client_connection_refused_counts_as_failure_never_resolves_and_is_cancelled_at_stop() {
    // Twisted's factory returning no protocol: the transport connected but the client
    // refused it. Here the connector reports that refusal as a failed attempt.
    let connector = ScriptedConnector::manual();
    let service = started(&connector);
    assert_eq!(connector.attempts(), 1);
    connector.next_attempt().await.fail("protocol refused");
    run_until_idle().await;
    assert_eq!(
        connector.attempts(),
        1,
        "a refusal does not reconnect at once"
    );
    let mut waiter = pin!(service.when_connected(None));
    assert_pending(&mut waiter).await;
    tokio::time::advance(AT_LEAST_ONE_ATTEMPT).await;
    connector.next_attempt().await.fail("protocol refused");
    assert_eq!(connector.attempts(), 2, "it tries again");
    assert_pending(&mut waiter).await;
    finish(service, &connector).await;
    assert_cancelled(resolved(&mut waiter).await);
}

#[tokio::test(start_paused = true)]
async fn when_connected_later_resolves_every_waiter_with_the_same_connection() {
    let connector = ScriptedConnector::manual();
    let service = started(&connector);
    let mut a = pin!(service.when_connected(None));
    let mut b = pin!(service.when_connected(None));
    let mut c = pin!(service.when_connected(Some(1)));
    assert_pending(&mut a).await;
    assert_pending(&mut b).await;
    assert_pending(&mut c).await;
    let connection = connector.next_attempt().await.succeed();
    for waiter in [
        resolved(&mut a).await,
        resolved(&mut b).await,
        resolved(&mut c).await,
    ] {
        assert_eq!(waiter.unwrap().id(), connection.id());
    }
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn when_connected_fails_after_the_requested_number_of_failures() {
    let connector = ScriptedConnector::manual();
    let service = started(&connector);
    let mut a0 = pin!(service.when_connected(None));
    let mut a1 = pin!(service.when_connected(Some(1)));
    let mut a2 = pin!(service.when_connected(Some(2)));
    let mut a3 = pin!(service.when_connected(Some(3)));
    assert_pending(&mut a0).await;
    assert_pending(&mut a1).await;
    assert_pending(&mut a2).await;
    assert_pending(&mut a3).await;

    connector.next_attempt().await.fail("f1");
    assert_pending(&mut a0).await;
    assert_connect_failed(resolved(&mut a1).await, "f1");
    assert_pending(&mut a2).await;
    assert_pending(&mut a3).await;

    tokio::time::advance(AT_LEAST_ONE_ATTEMPT).await;
    let second = connector.next_attempt().await;
    assert_eq!(connector.attempts(), 2);
    assert_pending(&mut a0).await;
    assert_pending(&mut a2).await;
    assert_pending(&mut a3).await;

    second.fail("f2");
    assert_pending(&mut a0).await;
    assert_connect_failed(resolved(&mut a2).await, "f2");
    assert_pending(&mut a3).await;

    tokio::time::advance(AT_LEAST_ONE_ATTEMPT).await;
    let third = connector.next_attempt().await;
    assert_eq!(connector.attempts(), 3);
    assert_pending(&mut a0).await;
    assert_pending(&mut a3).await;

    let connection = third.succeed();
    assert_eq!(resolved(&mut a0).await.unwrap().id(), connection.id());
    assert_eq!(resolved(&mut a3).await.unwrap().id(), connection.id());

    // A new waiter while connected resolves at once, whatever its limit.
    let a4 = resolved(&mut pin!(service.when_connected(Some(1)))).await;
    assert_eq!(a4.unwrap().id(), connection.id());
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn when_connected_stop_service_fails_every_waiter_as_cancelled() {
    let connector = ScriptedConnector::manual();
    let service = started(&connector);
    let mut a = pin!(service.when_connected(None));
    let mut b = pin!(service.when_connected(None));
    let mut c = pin!(service.when_connected(Some(1)));
    assert_pending(&mut a).await;
    assert_pending(&mut b).await;
    assert_pending(&mut c).await;
    let stopped = service.stop();
    tokio::time::advance(AT_LEAST_ONE_ATTEMPT).await;
    stopped.await;
    assert_cancelled(resolved(&mut a).await);
    assert_cancelled(resolved(&mut b).await);
    assert_cancelled(resolved(&mut c).await);
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn when_connected_errbacks_on_stop_service_after_a_failed_attempt() {
    let connector = ScriptedConnector::manual();
    let service = started(&connector);
    let mut before = pin!(service.when_connected(None));
    connector.next_attempt().await.fail("no connection");
    run_until_idle().await;
    let stopped = service.stop();
    let mut after = pin!(service.when_connected(None));
    assert_cancelled(resolved(&mut before).await);
    assert_cancelled(resolved(&mut after).await);
    stopped.await;
    finish(service, &connector).await;
}

/// A `prepare_connection` hook that counts its calls and records what it was given.
fn counting_hook(
    calls: &Arc<AtomicUsize>,
    seen: &Arc<std::sync::Mutex<Vec<usize>>>,
) -> impl Fn(crate::support::FakeConnection) -> std::future::Ready<Result<(), ScriptedError>>
+ Send
+ Sync
+ 'static {
    let calls = Arc::clone(calls);
    let seen = Arc::clone(seen);
    move |connection| {
        calls.fetch_add(1, Ordering::SeqCst);
        seen.lock().unwrap().push(connection.id());
        std::future::ready(Ok(()))
    }
}

#[tokio::test(start_paused = true)]
async fn prepare_connection_called_when_service_starts() {
    let connector = ScriptedConnector::immediate();
    let (calls, seen) = Default::default();
    let service = ClientService::builder(connector.clone())
        .prepare_connection(counting_hook(&calls, &seen))
        .start();
    run_until_idle().await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn prepare_connection_called_with_the_connection() {
    let connector = ScriptedConnector::immediate();
    let (calls, seen) = Default::default();
    let service = ClientService::builder(connector.clone())
        .prepare_connection(counting_hook(&calls, &seen))
        .start();
    run_until_idle().await;
    assert_eq!(*seen.lock().unwrap(), vec![connector.connection(0).id()]);
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn prepare_connection_called_only_once_a_connection_is_made() {
    let connector = ScriptedConnector::manual();
    let (calls, seen) = Default::default();
    let service = ClientService::builder(connector.clone())
        .prepare_connection(counting_hook(&calls, &seen))
        .start();
    connector
        .next_attempt()
        .await
        .fail("connection attempt failed");
    run_until_idle().await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "not called on a failed connect"
    );
    tokio::time::advance(AT_LEAST_ONE_ATTEMPT).await;
    connector.next_attempt().await.succeed();
    run_until_idle().await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn prepare_connection_called_on_reconnect() {
    let connector = ScriptedConnector::immediate();
    let (calls, seen) = Default::default();
    let service = ClientService::builder(connector.clone())
        .prepare_connection(counting_hook(&calls, &seen))
        .start();
    run_until_idle().await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    connector.connection(0).lose();
    run_until_idle().await;
    tokio::time::advance(AT_LEAST_ONE_ATTEMPT).await;
    run_until_idle().await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(*seen.lock().unwrap(), vec![0, 1]);
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn prepare_connection_return_value_ignored() {
    let connector = ScriptedConnector::immediate();
    let service = ClientService::builder(connector.clone())
        .prepare_connection(|_connection| async { Ok::<_, ScriptedError>("sentinel") })
        .start();
    let connection = resolved(&mut pin!(service.when_connected(None)))
        .await
        .unwrap();
    assert_eq!(connection.id(), connector.connection(0).id());
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn prepare_connection_returning_a_future_delays_when_connected() {
    let connector = ScriptedConnector::immediate();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let released = Arc::new(std::sync::Mutex::new(Some(released)));
    let service = ClientService::builder(connector.clone())
        .prepare_connection(move |_connection| {
            let released = released.lock().unwrap().take();
            async move {
                if let Some(released) = released {
                    let _ = released.await;
                }
                Ok::<_, ScriptedError>(())
            }
        })
        .start();
    let mut waiter = pin!(service.when_connected(None));
    assert_pending(&mut waiter).await;
    assert_eq!(service.state(), ServiceState::Connecting);
    release.send(()).unwrap();
    assert_eq!(
        resolved(&mut waiter).await.unwrap().id(),
        connector.connection(0).id()
    );
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn prepare_connection_error_counts_as_a_failed_attempt() {
    let connector = ScriptedConnector::immediate();
    let service = ClientService::builder(connector.clone())
        .prepare_connection(|_connection| async {
            Err::<(), _>(ScriptedError("handshake refused".into()))
        })
        .start();
    run_until_idle().await;
    // Created after the first failure, it fails with the hook's error after two more.
    let mut waiter = pin!(service.when_connected(Some(2)));
    assert_pending(&mut waiter).await;
    tokio::time::advance(AT_LEAST_ONE_ATTEMPT).await;
    assert_pending(&mut waiter).await;
    tokio::time::advance(AT_LEAST_ONE_ATTEMPT).await;
    match resolved(&mut waiter).await {
        Err(ServiceError::PrepareFailed { source, .. }) => {
            assert_eq!(source.to_string(), "handshake refused");
        }
        other => panic!("expected the hook's error, got {other:?}"),
    }
    assert_eq!(connector.attempts(), 3);
    finish(service, &connector).await;
}
