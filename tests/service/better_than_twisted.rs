//! The fixes over Twisted, the failure-counter semantics, and the event stream.

use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use testrig::service::{ClientService, RetryPolicy, ServiceError, ServiceEvent, ServiceState};

use crate::support::{
    AT_LEAST_ONE_ATTEMPT, ScriptedConnector, ScriptedError, assert_no_task_left, assert_pending,
    finish, resolved, run_until_idle,
};

#[tokio::test(start_paused = true)]
async fn connection_rejected_by_prepare_connection_is_closed() {
    let connector = ScriptedConnector::immediate();
    let service = ClientService::builder(connector.clone())
        .prepare_connection(|_connection| async { Err::<(), _>(ScriptedError("nope".into())) })
        .start();
    run_until_idle().await;
    assert!(connector.connection(0).is_closing());
    assert_eq!(service.state(), ServiceState::Waiting);
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn connection_cancelled_by_stop_during_prepare_connection_is_closed() {
    let connector = ScriptedConnector::immediate();
    let service = ClientService::builder(connector.clone())
        .prepare_connection(|_connection| std::future::pending::<Result<(), ScriptedError>>())
        .start();
    run_until_idle().await;
    assert_eq!(service.state(), ServiceState::Connecting);
    resolved(&mut pin!(service.stop())).await;
    assert!(connector.connection(0).is_closing());
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn loss_of_a_connection_rejected_earlier_does_not_disturb_the_current_one() {
    // Twisted leaks the rejected connection and treats its later loss as the loss of
    // the current one.
    let connector = ScriptedConnector::immediate();
    let prepared = Arc::new(AtomicUsize::new(0));
    let service = ClientService::builder(connector.clone())
        .retry_policy(RetryPolicy::constant(Duration::from_secs(1)))
        .prepare_connection(move |_connection| {
            let first = prepared.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                if first {
                    Err(ScriptedError("first one rejected".into()))
                } else {
                    Ok(())
                }
            }
        })
        .start();
    run_until_idle().await;
    tokio::time::advance(AT_LEAST_ONE_ATTEMPT).await;
    let current = resolved(&mut pin!(service.when_connected(None)))
        .await
        .unwrap();
    assert_eq!(current.id(), 1);
    connector.connection(0).lose();
    run_until_idle().await;
    assert_eq!(service.state(), ServiceState::Connected);
    assert_eq!(connector.attempts(), 2);
    let still = resolved(&mut pin!(service.when_connected(None)))
        .await
        .unwrap();
    assert_eq!(still.id(), 1);
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn a_replaced_connection_lost_again_is_ignored() {
    let connector = ScriptedConnector::immediate();
    let service = ClientService::builder(connector.clone())
        .retry_policy(RetryPolicy::constant(Duration::from_secs(1)))
        .start();
    run_until_idle().await;
    connector.connection(0).lose();
    run_until_idle().await;
    tokio::time::advance(AT_LEAST_ONE_ATTEMPT).await;
    run_until_idle().await;
    assert_eq!(service.state(), ServiceState::Connected);
    connector.connection(0).lose();
    run_until_idle().await;
    assert_eq!(service.state(), ServiceState::Connected);
    assert_eq!(connector.attempts(), 2);
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn attempt_that_exceeds_the_connect_timeout_fails_and_is_retried() {
    let connector = ScriptedConnector::manual();
    let service = ClientService::builder(connector.clone())
        .connect_timeout(Duration::from_secs(5))
        .retry_policy(RetryPolicy::constant(Duration::from_secs(1)))
        .start();
    let mut waiter = pin!(service.when_connected(Some(1)));
    let attempt = connector.next_attempt().await;
    tokio::time::advance(Duration::from_millis(4_990)).await;
    assert_pending(&mut waiter).await;
    tokio::time::advance(Duration::from_millis(10)).await;
    match resolved(&mut waiter).await {
        Err(ServiceError::ConnectTimedOut {
            after, failures, ..
        }) => {
            assert_eq!(after, Duration::from_secs(5));
            assert_eq!(failures, 1);
        }
        other => panic!("expected a connect timeout, got {other:?}"),
    }
    assert!(attempt.is_cancelled(), "the timed-out attempt is abandoned");
    tokio::time::advance(Duration::from_secs(1)).await;
    connector.next_attempt().await;
    assert_eq!(connector.attempts(), 2);
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn prepare_connection_that_exceeds_the_connect_timeout_closes_the_connection() {
    let connector = ScriptedConnector::immediate();
    let service = ClientService::builder(connector.clone())
        .connect_timeout(Duration::from_secs(5))
        .prepare_connection(|_connection| std::future::pending::<Result<(), ScriptedError>>())
        .start();
    let mut waiter = pin!(service.when_connected(Some(1)));
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(matches!(
        resolved(&mut waiter).await,
        Err(ServiceError::ConnectTimedOut { .. })
    ));
    assert!(connector.connection(0).is_closing());
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn event_stream_reports_state_changes_and_failures_in_order() {
    let connector = ScriptedConnector::manual();
    let service = ClientService::builder(connector.clone())
        .retry_policy(RetryPolicy::constant(Duration::from_secs(2)))
        .build();
    let mut events = service.subscribe();
    service.start();
    connector.next_attempt().await.fail("refused");
    tokio::time::advance(Duration::from_secs(2)).await;
    let connection = connector.next_attempt().await.succeed();
    run_until_idle().await;
    let stopped = service.stop();
    run_until_idle().await;
    connection.lose();
    stopped.await;

    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(match event {
            ServiceEvent::StateChanged { from, to } => format!("{from} -> {to}"),
            ServiceEvent::AttemptFailed { error, retry_in } => {
                // What failed, then why (the error's source).
                let why = std::error::Error::source(&error)
                    .map(|cause| format!(": {cause}"))
                    .unwrap_or_default();
                format!("failed ({error}{why}), retry in {retry_in:?}")
            }
            other => format!("{other:?}"),
        });
    }
    assert_eq!(
        seen,
        [
            "init -> connecting",
            "failed (connecting to scripted failed (consecutive failure 1): refused), retry in Some(2s)",
            "connecting -> waiting",
            "waiting -> connecting",
            "connecting -> connected",
            "connected -> disconnecting",
            "disconnecting -> stopped",
        ]
    );
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn failure_counter_increments_before_the_policy_is_asked_and_resets_only_after_prepare_succeeds()
 {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let policy = {
        let asked = Arc::clone(&asked);
        RetryPolicy::from_fn(move |attempt| {
            asked.lock().unwrap().push(attempt);
            Some(Duration::from_secs(1))
        })
    };
    let connector = ScriptedConnector::manual();
    let prepared = Arc::new(AtomicUsize::new(0));
    let service = ClientService::builder(connector.clone())
        .retry_policy(policy)
        .prepare_connection({
            let prepared = Arc::clone(&prepared);
            move |_connection| {
                // The first connection is rejected, the next ones accepted.
                let reject = prepared.fetch_add(1, Ordering::SeqCst) == 0;
                async move {
                    if reject {
                        Err(ScriptedError("rejected".into()))
                    } else {
                        Ok(())
                    }
                }
            }
        })
        .start();
    connector.next_attempt().await.fail("one");
    tokio::time::advance(Duration::from_secs(1)).await;
    connector.next_attempt().await.fail("two");
    tokio::time::advance(Duration::from_secs(1)).await;
    // Connected but rejected by the hook: still a failure, no reset.
    connector.next_attempt().await.succeed();
    tokio::time::advance(Duration::from_secs(1)).await;
    let accepted = connector.next_attempt().await.succeed();
    run_until_idle().await;
    assert_eq!(service.state(), ServiceState::Connected);
    accepted.lose();
    run_until_idle().await;
    assert_eq!(*asked.lock().unwrap(), vec![1, 2, 3, 1]);
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn policy_that_gives_up_stops_the_service_and_fails_every_waiter() {
    let connector = ScriptedConnector::manual();
    let service = ClientService::builder(connector.clone())
        .retry_policy(RetryPolicy::from_delays([Duration::from_secs(1)]))
        .start();
    let mut waiter = pin!(service.when_connected(None));
    connector.next_attempt().await.fail("one");
    tokio::time::advance(Duration::from_secs(1)).await;
    connector.next_attempt().await.fail("two");
    match resolved(&mut waiter).await {
        Err(ServiceError::GaveUp { last, .. }) => {
            let why = std::error::Error::source(&*last).expect("the connector's error");
            assert_eq!(why.to_string(), "two");
        }
        other => panic!("expected the policy to give up, got {other:?}"),
    }
    assert_eq!(service.state(), ServiceState::Stopped);
    assert!(matches!(
        resolved(&mut pin!(service.when_connected(None))).await,
        Err(ServiceError::GaveUp { .. })
    ));
    assert_no_task_left().await;
    // A new start begins a fresh sequence of delays.
    service.start();
    connector.next_attempt().await.succeed();
    assert!(
        resolved(&mut pin!(service.when_connected(None)))
            .await
            .is_ok()
    );
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn zero_delay_policy_reconnects_without_waiting() {
    let connector = ScriptedConnector::immediate();
    let service = ClientService::builder(connector.clone())
        .retry_policy(RetryPolicy::constant(Duration::ZERO))
        .start();
    run_until_idle().await;
    let before = tokio::time::Instant::now();
    connector.connection(0).lose();
    let connection = loop {
        let connection = resolved(&mut pin!(service.when_connected(None)))
            .await
            .unwrap();
        if connection.id() == 1 {
            break connection;
        }
        run_until_idle().await;
    };
    assert_eq!(connection.id(), 1);
    assert!(tokio::time::Instant::now() - before < Duration::from_millis(10));
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn stop_resolves_after_the_disconnect_timeout_when_the_connection_never_reports_closing() {
    let connector = ScriptedConnector::immediate();
    let service = ClientService::builder(connector.clone())
        .disconnect_timeout(Duration::from_secs(3))
        .start();
    run_until_idle().await;
    let mut stopped = pin!(service.stop());
    run_until_idle().await;
    tokio::time::advance(Duration::from_millis(2_990)).await;
    assert_pending(&mut stopped).await;
    tokio::time::advance(Duration::from_millis(10)).await;
    resolved(&mut stopped).await;
    assert_eq!(service.state(), ServiceState::Stopped);
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn waiters_of_a_never_started_service_are_cancelled_by_stop() {
    // Twisted leaves them pending forever.
    let connector = ScriptedConnector::manual();
    let service = ClientService::builder(connector.clone()).build();
    let mut waiter = pin!(service.when_connected(None));
    assert_pending(&mut waiter).await;
    service.stop().await;
    assert!(matches!(
        resolved(&mut waiter).await,
        Err(ServiceError::Cancelled { .. })
    ));
    finish(service, &connector).await;
}

#[tokio::test(start_paused = true)]
async fn dropping_the_service_closes_the_connection_cancels_waiters_and_ends_its_task() {
    let connector = ScriptedConnector::immediate();
    let service = ClientService::builder(connector.clone()).start();
    run_until_idle().await;
    assert_eq!(
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
        1
    );
    drop(service);
    assert_no_task_left().await;
    assert!(connector.connection(0).is_closing());

    let connector = ScriptedConnector::manual();
    let service = ClientService::builder(connector.clone()).start();
    let mut waiter = pin!(service.when_connected(None));
    let attempt = connector.next_attempt().await;
    drop(service);
    assert!(matches!(
        resolved(&mut waiter).await,
        Err(ServiceError::Cancelled { .. })
    ));
    assert_no_task_left().await;
    assert!(attempt.is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn when_connected_with_zero_failures_allowed_fails_on_the_first_failure_as_in_twisted() {
    let connector = ScriptedConnector::manual();
    let service = ClientService::builder(connector.clone()).start();
    let mut waiter = pin!(service.when_connected(Some(0)));
    connector.next_attempt().await.fail("first");
    assert!(matches!(
        resolved(&mut waiter).await,
        Err(ServiceError::ConnectFailed { failures: 1, .. })
    ));
    finish(service, &connector).await;
}

#[tokio::test]
async fn zero_delay_policy_against_a_target_that_fails_at_once_lets_other_tasks_run() {
    let connector = ScriptedConnector::refusing();
    let service = ClientService::builder(connector.clone())
        .retry_policy(RetryPolicy::constant(Duration::ZERO))
        .start();
    // On this single-threaded runtime, these yields return only if the retry loop yields.
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    assert!(connector.attempts() > 1);
    tokio::time::timeout(Duration::from_secs(5), service.stop())
        .await
        .expect("stop is processed between attempts");
    assert_eq!(service.state(), ServiceState::Stopped);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_prepare_connection_hook_leaves_a_dead_service_whose_calls_still_resolve() {
    let connector = ScriptedConnector::immediate();
    let service = ClientService::builder(connector.clone())
        .prepare_connection(
            |_connection| -> std::future::Ready<Result<(), ScriptedError>> {
                panic!("a bug in the hook")
            },
        )
        .build();
    let mut waiter = pin!(service.when_connected(None));
    service.start();
    assert!(matches!(
        resolved(&mut waiter).await,
        Err(ServiceError::Cancelled { .. })
    ));
    assert_eq!(service.state(), ServiceState::Stopped);
    resolved(&mut pin!(service.stop())).await;
    assert!(matches!(
        resolved(&mut pin!(service.when_connected(None))).await,
        Err(ServiceError::Cancelled { .. })
    ));
    assert_no_task_left().await;
}

#[test]
fn services_and_their_futures_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ClientService<testrig::service::TcpConnector>>();
    assert_send_sync::<testrig::service::TcpConnection>();
    assert_send_sync::<ServiceError>();
    assert_send_sync::<ServiceEvent>();
}
