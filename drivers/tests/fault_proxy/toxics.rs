//! Each toxic, as Toxiproxy's own tests check it.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, timeout};

use testrig_drivers::fault_proxy::{ConnectionState, ProxyEvent, Toxic};

use crate::support::{
    PATIENCE, accept, assert_near, assert_on_time, connect, echo_server, five_round_trips,
    listener, proxy_to, read_to_end, round_trip, timing,
};

const MS: Duration = Duration::from_millis(1);

#[tokio::test]
async fn bytes_pass_both_ways_unchanged_and_counted_without_toxics() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.address);
    let mut client = connect(&proxy).await;
    let message: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    let (mut read, mut write) = client.split();
    let sent = async {
        write.write_all(&message).await.unwrap();
        write.shutdown().await.unwrap();
    };
    let mut back = Vec::new();
    let received = timeout(PATIENCE, read.read_to_end(&mut back));
    let ((), received) = tokio::join!(sent, received);
    received.unwrap().unwrap();
    assert!(back == message, "the echo differs");
    drop(client);
    assert!(
        proxy
            .wait_open_connections(|open| open == 0, PATIENCE)
            .await
    );
    let stats = &proxy.connections()[0];
    assert_eq!(
        (stats.bytes_upstream, stats.bytes_downstream),
        (1 << 20, 1 << 20)
    );
    assert_eq!(stats.state, ConnectionState::Closed);
    assert!(stats.toxics.is_empty());
    proxy.stop().await;
}

#[tokio::test]
async fn latency_adds_its_amount_to_round_trips_within_5_ms_and_never_less() {
    let _machine = timing().await;
    let echo = echo_server().await;
    let proxy = proxy_to(echo.address);
    let mut client = connect(&proxy).await;
    // The fastest of five: one slow first round trip must not raise the baseline.
    let baseline = five_round_trips(&mut client).await[0];
    proxy.add_toxic(Toxic::latency(50, 0)).unwrap();
    let took = five_round_trips(&mut client).await;
    assert!(took[0] >= 50 * MS, "{took:?}");
    assert_near(
        took[0],
        baseline + 50 * MS,
        5 * MS,
        "round trip under 50 ms latency",
    );
    proxy.add_toxic(Toxic::latency(30, 0).upstream()).unwrap();
    let took = five_round_trips(&mut client).await;
    assert!(took[0] >= 80 * MS, "{took:?}");
    assert_near(
        took[0],
        baseline + 80 * MS,
        5 * MS,
        "latency on both streams",
    );
    proxy.stop().await;
}

#[tokio::test]
async fn latency_jitter_stays_within_its_bounds() {
    let _machine = timing().await;
    let echo = echo_server().await;
    let proxy = proxy_to(echo.address);
    proxy.add_toxic(Toxic::latency(30, 10)).unwrap();
    let mut client = connect(&proxy).await;
    let took = five_round_trips(&mut client).await;
    // Never below 30 - 10 ms; the median within 30 + 10 ms (+ 5 ms of slack).
    assert!(
        took[0] >= 20 * MS && took[2] <= 45 * MS,
        "{took:?} outside 30 ± 10 ms"
    );
    proxy.stop().await;
}

#[tokio::test]
async fn bandwidth_holds_its_rate_within_5_percent_over_a_second_of_data() {
    let _machine = timing().await;
    let server = listener().await;
    let proxy = proxy_to(server.local_addr().unwrap());
    // 1000 KB/s for 1 000 000 bytes: one second.
    proxy.add_toxic(Toxic::bandwidth(1000)).unwrap();
    let mut client = connect(&proxy).await;
    let mut server_side = accept(&server).await;
    let started = Instant::now();
    let sending = tokio::spawn(async move {
        server_side.write_all(&vec![7u8; 1_000_000]).await.unwrap();
        server_side.shutdown().await.unwrap();
        server_side
    });
    let (received, ended) = read_to_end(&mut client).await.unwrap();
    assert_eq!(received.len(), 1_000_000);
    assert_near(
        ended - started,
        Duration::from_secs(1),
        50 * MS,
        "a second of data",
    );
    drop(sending.await.unwrap());
    proxy.stop().await;
}

#[tokio::test]
async fn limit_data_closes_after_exactly_that_many_bytes() {
    let server = listener().await;
    let proxy = proxy_to(server.local_addr().unwrap());
    proxy.add_toxic(Toxic::limit_data(1000)).unwrap();
    let mut client = connect(&proxy).await;
    let mut server_side = accept(&server).await;
    for _ in 0..4 {
        server_side.write_all(&[1u8; 700]).await.unwrap();
    }
    let (received, _) = read_to_end(&mut client).await.unwrap();
    assert_eq!(received.len(), 1000);
    assert!(
        proxy
            .wait_open_connections(|open| open == 0, PATIENCE)
            .await
    );
    assert_eq!(proxy.connections()[0].bytes_downstream, 1000);
    proxy.stop().await;
}

#[tokio::test]
async fn limit_data_counts_across_chunks_and_passes_what_is_under_it() {
    let server = listener().await;
    let proxy = proxy_to(server.local_addr().unwrap());
    proxy.add_toxic(Toxic::limit_data(10).upstream()).unwrap();
    let mut client = connect(&proxy).await;
    let mut server_side = accept(&server).await;
    let mut first = [0u8; 8];
    client.write_all(b"12345678").await.unwrap();
    timeout(PATIENCE, server_side.read_exact(&mut first))
        .await
        .unwrap()
        .unwrap();
    client.write_all(b"90abcdef").await.unwrap();
    let (rest, _) = read_to_end(&mut server_side).await.unwrap();
    assert_eq!([&first[..], &rest].concat(), b"1234567890");
    proxy.stop().await;
}

#[tokio::test]
async fn slicer_splits_data_into_pieces_of_about_its_average_size() {
    let _machine = timing().await;
    let server = listener().await;
    let proxy = proxy_to(server.local_addr().unwrap());
    proxy.add_toxic(Toxic::slicer(10, 5, 3000)).unwrap();
    let mut client = connect(&proxy).await;
    let mut server_side = accept(&server).await;
    let data: Vec<u8> = (0..300).map(|i| i as u8).collect();
    server_side.write_all(&data).await.unwrap();
    server_side.shutdown().await.unwrap();
    let mut reads = Vec::new();
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        let n = timeout(PATIENCE, client.read(&mut buffer))
            .await
            .unwrap()
            .unwrap();
        if n == 0 {
            break;
        }
        reads.push(n);
        received.extend_from_slice(&buffer[..n]);
    }
    assert_eq!(received, data, "sliced, not changed");
    // 3 ms apart, each piece is read on its own unless the reader fell behind.
    let small = reads.iter().filter(|&&n| n <= 15).count();
    assert!(
        reads.len() >= 20 && small * 10 >= reads.len() * 9,
        "reads: {reads:?}"
    );
    proxy.stop().await;
}

#[tokio::test]
async fn slow_close_delays_the_close_by_its_delay() {
    let _machine = timing().await;
    let server = listener().await;
    let proxy = proxy_to(server.local_addr().unwrap());
    proxy.add_toxic(Toxic::slow_close(100)).unwrap();
    let mut client = connect(&proxy).await;
    let mut server_side = accept(&server).await;
    server_side.write_all(b"last words").await.unwrap();
    let closed = Instant::now();
    server_side.shutdown().await.unwrap();
    let (received, ended) = read_to_end(&mut client).await.unwrap();
    assert_eq!(received, b"last words");
    assert_on_time(ended - closed, 100 * MS, "the close");
    proxy.stop().await;
}

#[tokio::test]
async fn timeout_drops_the_data_and_closes_after_its_timeout() {
    let _machine = timing().await;
    let server = listener().await;
    let proxy = proxy_to(server.local_addr().unwrap());
    proxy.add_toxic(Toxic::timeout(100)).unwrap();
    let opened = Instant::now();
    let mut client = connect(&proxy).await;
    let mut server_side = accept(&server).await;
    server_side.write_all(b"never seen").await.unwrap();
    let (received, ended) = read_to_end(&mut client).await.unwrap();
    assert!(received.is_empty(), "data got through: {received:?}");
    assert_on_time(ended - opened, 100 * MS, "the close");
    proxy.stop().await;
}

#[tokio::test]
async fn timeout_zero_holds_the_connection_open_with_no_data_until_removed_which_closes_it() {
    let server = listener().await;
    let proxy = proxy_to(server.local_addr().unwrap());
    let mut client = connect(&proxy).await;
    let mut server_side = accept(&server).await;
    proxy.add_toxic(Toxic::timeout(0).upstream()).unwrap();
    client.write_all(b"held").await.unwrap();
    let mut buffer = [0u8; 16];
    let waited = timeout(Duration::from_millis(300), server_side.read(&mut buffer)).await;
    assert!(
        waited.is_err(),
        "nothing arrives and the connection stays open"
    );
    // An update restarts the toxic; the connection stays.
    proxy.update_toxic(Toxic::timeout(0).upstream()).unwrap();
    client.write_all(b"held too").await.unwrap();
    let waited = timeout(Duration::from_millis(100), server_side.read(&mut buffer)).await;
    assert!(waited.is_err(), "an update does not end the connection");
    // Toxiproxy's TestTimeoutToxicClosesConnectionOnRemove: the data it dropped
    // would leave the stream corrupt, so removing it closes the connection.
    proxy.remove_toxic("timeout_upstream").unwrap();
    let (received, _) = read_to_end(&mut client).await.unwrap();
    assert!(received.is_empty(), "{received:?}");
    let (received, _) = read_to_end(&mut server_side).await.unwrap();
    assert!(
        received.is_empty(),
        "data under the timeout got through: {received:?}"
    );
    assert!(
        proxy
            .wait_open_connections(|open| open == 0, PATIENCE)
            .await
    );
    assert_eq!(proxy.connections()[0].state, ConnectionState::Closed);
    proxy.stop().await;
}

#[tokio::test]
async fn removing_a_timeout_closes_connections_its_toxicity_spared_and_new_ones_flow() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.address);
    proxy
        .add_toxic(Toxic::timeout(0).named("spared").toxicity(0.0))
        .unwrap();
    let mut client = connect(&proxy).await;
    round_trip(&mut client, b"flows").await;
    // As Toxiproxy's `Cleanup`, which goes by the toxic's type, not its draw.
    proxy.remove_toxic("spared").unwrap();
    let (received, _) = read_to_end(&mut client).await.unwrap();
    assert!(received.is_empty(), "{received:?}");
    let mut next = connect(&proxy).await;
    round_trip(&mut next, b"after").await;
    proxy.stop().await;
}

#[tokio::test]
async fn reset_peer_resets_both_sides_at_its_timeout() {
    let _machine = timing().await;
    let server = listener().await;
    let proxy = proxy_to(server.local_addr().unwrap());
    proxy.add_toxic(Toxic::reset_peer(100).upstream()).unwrap();
    let mut client = connect(&proxy).await;
    let mut server_side = accept(&server).await;
    let first_data = Instant::now();
    client.write_all(b"x").await.unwrap();
    let mut buffer = [0u8; 16];
    let read = timeout(PATIENCE, client.read(&mut buffer)).await.unwrap();
    let at = Instant::now();
    let error = read.expect_err("the client is reset");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
    assert_on_time(at - first_data, 100 * MS, "the reset");
    let server_read = timeout(PATIENCE, server_side.read(&mut buffer))
        .await
        .unwrap();
    assert_eq!(
        server_read.expect_err("the server is reset").kind(),
        std::io::ErrorKind::ConnectionReset
    );
    assert!(
        proxy
            .wait_open_connections(|open| open == 0, PATIENCE)
            .await
    );
    assert_eq!(proxy.connections()[0].state, ConnectionState::Reset);
    proxy.stop().await;
}

#[tokio::test]
async fn reset_peer_counts_its_timeout_from_the_end_of_the_data_when_no_data_came() {
    // Toxiproxy's reset_peer takes the end of the input as it takes data: the
    // connection is reset `timeout` ms later, not closed.
    let _machine = timing().await;
    let server = listener().await;
    let proxy = proxy_to(server.local_addr().unwrap());
    proxy.add_toxic(Toxic::reset_peer(100).upstream()).unwrap();
    let mut client = connect(&proxy).await;
    let mut server_side = accept(&server).await;
    let ended = Instant::now();
    client.shutdown().await.unwrap();
    let mut buffer = [0u8; 16];
    let server_read = timeout(PATIENCE, server_side.read(&mut buffer))
        .await
        .unwrap();
    let at = Instant::now();
    assert_eq!(
        server_read
            .expect_err("the server is reset, not closed")
            .kind(),
        std::io::ErrorKind::ConnectionReset
    );
    assert_on_time(at - ended, 100 * MS, "the reset");
    let read = timeout(PATIENCE, client.read(&mut buffer)).await.unwrap();
    assert_eq!(
        read.expect_err("the client is reset").kind(),
        std::io::ErrorKind::ConnectionReset
    );
    assert!(
        proxy
            .wait_open_connections(|open| open == 0, PATIENCE)
            .await
    );
    assert_eq!(proxy.connections()[0].state, ConnectionState::Reset);
    proxy.stop().await;
}

#[tokio::test]
async fn toxicity_zero_never_applies_and_one_always_does() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.address);
    proxy
        .add_toxic(Toxic::limit_data(1).named("never").toxicity(0.0))
        .unwrap();
    proxy
        .add_toxic(Toxic::latency(1, 0).named("always").toxicity(1.0))
        .unwrap();
    let mut clients = Vec::new();
    for _ in 0..20 {
        let mut client = connect(&proxy).await;
        round_trip(&mut client, b"not cut").await;
        clients.push(client);
    }
    for stats in proxy.connections() {
        assert_eq!(stats.toxics, ["always"], "connection {}", stats.id);
    }
    let applied = proxy
        .events()
        .into_iter()
        .filter(|e| matches!(&e.event, ProxyEvent::ToxicApplied { toxic, .. } if toxic == "always"))
        .count();
    assert_eq!(applied, 20);
    proxy.stop().await;
}

#[tokio::test]
async fn toxics_on_one_stream_chain_in_the_order_they_were_added() {
    let _machine = timing().await;
    let echo = echo_server().await;
    let proxy = proxy_to(echo.address);
    proxy.add_toxic(Toxic::latency(20, 0)).unwrap();
    proxy.add_toxic(Toxic::slicer(100, 50, 10)).unwrap();
    proxy.add_toxic(Toxic::bandwidth(10_000)).unwrap();
    proxy.add_toxic(Toxic::limit_data(1 << 20)).unwrap();
    let mut client = connect(&proxy).await;
    let message: Vec<u8> = (0..20_000u32).map(|i| (i % 241) as u8).collect();
    let took = round_trip(&mut client, &message).await;
    // 20 ms of latency, then 20 000 bytes at 10 000 KB/s: 2 ms more.
    assert!(took >= 22 * MS, "{took:?}");
    let stats = &proxy.connections()[0];
    assert_eq!(
        stats.toxics,
        [
            "latency_downstream",
            "slicer_downstream",
            "bandwidth_downstream",
            "limit_data_downstream"
        ]
    );
    proxy.stop().await;
}

#[tokio::test]
async fn a_client_is_closed_when_the_upstream_refuses_and_the_failure_is_an_event() {
    let refusing = listener().await.local_addr().unwrap(); // bound, then closed
    let proxy = proxy_to(refusing);
    let mut client = connect(&proxy).await;
    let (received, _) = read_to_end(&mut client).await.unwrap();
    assert!(received.is_empty());
    let failed = proxy
        .wait_for_event(|e| matches!(e, ProxyEvent::UpstreamFailed { .. }), PATIENCE)
        .await;
    assert!(failed.is_some(), "{:?}", proxy.events());
    assert!(
        proxy
            .wait_open_connections(|open| open == 0, PATIENCE)
            .await
    );
    assert_eq!(
        proxy.connections()[0].state,
        ConnectionState::UpstreamFailed
    );
    proxy.stop().await;
}
