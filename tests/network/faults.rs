//! Faults at run time: a link goes down and comes back, two hosts are cut apart and healed.

use std::net::SocketAddr;
use std::time::Duration;

use testrig::network::{Link, Network, Rate, Switch};

use crate::support::{
    DEADLINE, connect, echo, echo_across, listen, networks_available, serve_echo,
};

/// How long a test waits to conclude that traffic is stalled.
const STALL: Duration = Duration::from_millis(500);

async fn chain() -> Network {
    let network = Network::builder("faults")
        .host("a")
        .host("b")
        .host("c")
        .link(
            Link::new("a", "b")
                .subnet("10.8.1.0/24")
                .subnet("fd00:8:1::/64"),
        )
        .link(
            Link::new("b", "c")
                .subnet("10.8.2.0/24")
                .subnet("fd00:8:2::/64"),
        )
        .build()
        .unwrap();
    network.start().await.unwrap();
    network
}

#[tokio::test]
async fn a_link_down_stalls_traffic_and_up_restores_it() {
    if !networks_available() {
        return;
    }
    let network = chain().await;
    let (a, c) = (network.host("a").unwrap(), network.host("c").unwrap());
    let listener = listen(&c, SocketAddr::new(c.ipv4().unwrap().into(), 0)).await;
    let address = listener.local_addr().unwrap();
    let _server = serve_echo(listener);
    let mut stream = connect(&a, address).await.unwrap();
    echo(&mut stream, 4096, DEADLINE).await.unwrap();

    network.link_down("b", "c").await.unwrap();
    assert!(
        echo(&mut stream, 4096, STALL).await.is_err(),
        "an echo went through a link that is down"
    );
    let attempt = tokio::time::timeout(STALL, connect(&a, address)).await;
    assert!(
        !matches!(attempt, Ok(Ok(_))),
        "a connection was made through a link that is down"
    );

    network.link_up("b", "c").await.unwrap();
    // The connection made before survives (TCP retransmits); new ones work, v4 and v6.
    echo(&mut stream, 4096, DEADLINE).await.unwrap();
    echo_across(&a, &c, SocketAddr::new(c.ipv4().unwrap().into(), 0), 4096).await;
    echo_across(&a, &c, SocketAddr::new(c.ipv6().unwrap().into(), 0), 4096).await;
    network.stop().await.unwrap();
}

#[tokio::test]
async fn a_partition_cuts_two_hosts_apart_and_heal_joins_them() {
    if !networks_available() {
        return;
    }
    let network = chain().await;
    let (a, b, c) = (
        network.host("a").unwrap(),
        network.host("b").unwrap(),
        network.host("c").unwrap(),
    );
    let address = SocketAddr::new(c.ipv4().unwrap().into(), 0);
    let listener = listen(&c, address).await;
    let address = listener.local_addr().unwrap();
    let _server = serve_echo(listener);
    let mut stream = connect(&a, address).await.unwrap();
    echo(&mut stream, 4096, DEADLINE).await.unwrap();

    network.partition("a", "c").await.unwrap();
    assert!(
        echo(&mut stream, 4096, STALL).await.is_err(),
        "an echo crossed the partition"
    );
    let attempt = tokio::time::timeout(STALL, connect(&a, address)).await;
    assert!(
        !matches!(attempt, Ok(Ok(_))),
        "a connection crossed the partition"
    );
    // The rest of the network still works.
    echo_across(&b, &c, SocketAddr::new(c.ipv4().unwrap().into(), 0), 1024).await;
    echo_across(&a, &b, SocketAddr::new(b.ipv6().unwrap().into(), 0), 1024).await;

    network.heal("a", "c").await.unwrap();
    echo(&mut stream, 4096, DEADLINE).await.unwrap();
    echo_across(&a, &c, SocketAddr::new(c.ipv6().unwrap().into(), 0), 1024).await;
    network.stop().await.unwrap();
}

#[tokio::test]
async fn a_fault_on_a_link_that_does_not_exist_names_it() {
    if !networks_available() {
        return;
    }
    let network = chain().await;
    let error = network.link_down("a", "c").await.unwrap_err();
    assert_eq!(error.to_string(), "network `faults` has no link `a-c`");
    network.stop().await.unwrap();
    let error = network.link_up("a", "b").await.unwrap_err();
    assert!(error.to_string().contains("is stopped"), "{error}");
}

#[tokio::test]
async fn a_switch_port_goes_down_alone_and_its_rate_changes_alone() {
    if !networks_available() {
        return;
    }
    let network = Network::builder("port")
        .host("a")
        .host("b")
        .host("c")
        .switch(
            Switch::new("lan")
                .hosts(["a", "b", "c"])
                .subnet("10.8.3.0/24"),
        )
        .build()
        .unwrap();
    network.start().await.unwrap();
    let (a, b, c) = (
        network.host("a").unwrap(),
        network.host("b").unwrap(),
        network.host("c").unwrap(),
    );
    let to_c = SocketAddr::new(c.ipv4().unwrap().into(), 0);
    let listener = listen(&c, to_c).await;
    let to_c = listener.local_addr().unwrap();
    let _server = serve_echo(listener);

    network.link_down("c", "lan").await.unwrap();
    let attempt = tokio::time::timeout(STALL, connect(&a, to_c)).await;
    assert!(
        !matches!(attempt, Ok(Ok(_))),
        "a reached c through a port that is down"
    );
    echo_across(&a, &b, SocketAddr::new(b.ipv4().unwrap().into(), 0), 1024).await;

    network.link_up("lan", "c").await.unwrap();
    let mut stream = tokio::time::timeout(DEADLINE, connect(&a, to_c))
        .await
        .unwrap()
        .unwrap();
    echo(&mut stream, 4096, DEADLINE).await.unwrap();

    // The switch's side of c's port, and c's own side: both directions can be shaped.
    network
        .set_rate("lan", "c", Some(Rate::mbit(50)))
        .await
        .unwrap();
    network
        .set_rate("c", "lan", Some(Rate::mbit(50)))
        .await
        .unwrap();
    echo(&mut stream, 4096, DEADLINE).await.unwrap();
    let error = network.set_rate("a", "c", None).await.unwrap_err();
    assert_eq!(error.to_string(), "network `port` has no link `a-c`");
    network.stop().await.unwrap();
}
