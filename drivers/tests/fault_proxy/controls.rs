//! Run-time changes on live connections, disable/enable/reset, backpressure, and
//! nothing left after stop.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use testrig_drivers::fault_proxy::{FaultProxyError, ProxyEvent, Toxic};

use crate::support::{
    PATIENCE, accept, assert_near, connect, echo_server, exclusive, five_round_trips, listener,
    proxy_to, read_to_end, round_trip, timing,
};

const MS: Duration = Duration::from_millis(1);

#[tokio::test]
async fn an_update_applies_to_live_connections() {
    let _machine = timing().await;
    let echo = echo_server().await;
    let proxy = proxy_to(echo.address);
    let mut client = connect(&proxy).await;
    // The fastest of five: one slow first round trip must not raise the baseline.
    let baseline = five_round_trips(&mut client).await[0];
    proxy
        .add_toxic(Toxic::latency(100, 0).named("lag"))
        .unwrap();
    let before = five_round_trips(&mut client).await;
    assert_near(before[0], baseline + 100 * MS, 5 * MS, "before the update");
    proxy
        .update_toxic(Toxic::latency(20, 0).named("lag"))
        .unwrap();
    let after = five_round_trips(&mut client).await;
    assert_near(after[0], baseline + 20 * MS, 5 * MS, "after the update");
    proxy.stop().await;
}

#[tokio::test]
async fn removing_the_last_toxic_puts_live_connections_back_on_the_fast_path() {
    let _machine = timing().await;
    let echo = echo_server().await;
    let proxy = proxy_to(echo.address);
    let mut client = connect(&proxy).await;
    proxy.add_toxic(Toxic::latency(100, 0)).unwrap();
    assert!(round_trip(&mut client, b"slow").await >= 100 * MS);
    proxy.remove_toxic("latency_downstream").unwrap();
    // The fastest of five: a single round trip can stall on a busy machine.
    let took = five_round_trips(&mut client).await;
    assert!(took[0] < 20 * MS, "{took:?}");
    assert!(matches!(
        proxy.remove_toxic("latency_downstream"),
        Err(FaultProxyError::ToxicNotFound { .. })
    ));
    proxy.stop().await;
}

#[tokio::test]
async fn data_held_by_a_removed_toxic_goes_on_in_order() {
    let server = listener().await;
    let proxy = proxy_to(server.local_addr().unwrap());
    proxy.add_toxic(Toxic::bandwidth(1)).unwrap(); // 1 KB/s
    let mut client = connect(&proxy).await;
    let mut server_side = accept(&server).await;
    let data: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
    server_side.write_all(&data).await.unwrap();
    server_side.shutdown().await.unwrap();
    let mut first = vec![0u8; 100];
    timeout(PATIENCE, client.read_exact(&mut first))
        .await
        .unwrap()
        .unwrap();
    proxy.remove_toxic("bandwidth_downstream").unwrap();
    let (rest, _) = read_to_end(&mut client).await.unwrap();
    first.extend(rest);
    assert!(
        first == data,
        "every byte, in order ({} received)",
        first.len()
    );
    proxy.stop().await;
}

#[tokio::test]
async fn disable_closes_every_connection_and_refuses_new_ones_until_enabled() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.address);
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut client = connect(&proxy).await;
        round_trip(&mut client, b"up").await;
        clients.push(client);
    }
    proxy.disable().await;
    assert!(!proxy.is_enabled().await);
    for client in &mut clients {
        let (rest, _) = read_to_end(client).await.unwrap();
        assert!(rest.is_empty());
    }
    let refused = TcpStream::connect(proxy.local_addr()).await.unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    proxy.enable().await.unwrap();
    let mut client = connect(&proxy).await;
    round_trip(&mut client, b"back").await;
    let events: Vec<ProxyEvent> = proxy.events().into_iter().map(|e| e.event).collect();
    assert!(events.contains(&ProxyEvent::Disabled) && events.contains(&ProxyEvent::Enabled));
    proxy.stop().await;
}

#[tokio::test]
async fn reset_removes_every_toxic_and_enables() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.address);
    proxy.add_toxic(Toxic::latency(100, 0)).unwrap();
    proxy.add_toxic(Toxic::timeout(0).upstream()).unwrap();
    proxy.disable().await;
    proxy.reset().await.unwrap();
    assert!(proxy.toxics().is_empty());
    let mut client = connect(&proxy).await;
    let took = five_round_trips(&mut client).await;
    assert!(took[0] < 20 * MS, "{took:?}");
    proxy.stop().await;
}

/// Writes until a write stalls for 300 ms; returns how much was taken.
async fn write_until_stalled(stream: &mut TcpStream) -> usize {
    let block = vec![0u8; 64 * 1024];
    let mut taken = 0;
    while let Ok(written) = timeout(Duration::from_millis(300), stream.write(&block)).await {
        taken += written.unwrap();
        assert!(taken < 256 << 20, "the writer was never held back");
    }
    taken
}

#[tokio::test]
async fn a_reader_that_does_not_read_holds_the_writer_back_with_and_without_toxics() {
    let _machine = exclusive().await;
    for toxic in [None, Some(Toxic::latency(1, 0))] {
        let server = listener().await;
        let proxy = proxy_to(server.local_addr().unwrap());
        if let Some(toxic) = toxic.clone() {
            proxy.add_toxic(toxic).unwrap();
        }
        let _client = connect(&proxy).await; // never reads
        let mut server_side = accept(&server).await;
        let taken = write_until_stalled(&mut server_side).await;
        // Kernel socket buffers on both hops plus at most 64 KiB in the proxy.
        assert!(taken < 48 << 20, "{taken} bytes taken with {toxic:?}");
        proxy.stop().await;
    }
}

#[tokio::test]
async fn stop_closes_every_connection_and_leaves_no_task() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.address);
    let mut clients = Vec::new();
    for _ in 0..4 {
        let mut client = connect(&proxy).await;
        round_trip(&mut client, b"up").await;
        clients.push(client);
    }
    // Some directions under toxics, some spliced, when the stop comes.
    proxy.add_toxic(Toxic::latency(10, 0)).unwrap();
    proxy
        .add_toxic(Toxic::timeout(0).upstream().toxicity(0.5))
        .unwrap();
    clients[0].write_all(b"in flight").await.unwrap();
    proxy.stop().await;
    assert!(proxy.is_finished(), "a task of the proxy is still running");
    assert_eq!(proxy.open_connections(), 0);
    for client in &mut clients {
        let (rest, _) = read_to_end(client).await.unwrap();
        assert!(rest.is_empty());
    }
    let refused = TcpStream::connect(proxy.local_addr()).await.unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(matches!(
        proxy.enable().await,
        Err(FaultProxyError::NotStarted { .. })
    ));
}
