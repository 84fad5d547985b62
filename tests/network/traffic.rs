//! Packets go where the topology says: across a link, through a switch, along a routed chain.

use std::net::{IpAddr, SocketAddr};

use testrig::network::{Link, Network, Switch};

use crate::support::{echo_across, networks_available};

fn at(address: impl Into<IpAddr>) -> SocketAddr {
    SocketAddr::new(address.into(), 0)
}

#[tokio::test]
async fn two_hosts_on_a_veth_echo_over_ipv4_and_ipv6() {
    if !networks_available() {
        return;
    }
    let network = Network::builder("veth-echo")
        .host("a")
        .host("b")
        .link(
            Link::new("a", "b")
                .subnet("10.1.0.0/24")
                .subnet("fd00:1::/64"),
        )
        .build()
        .unwrap();
    network.start().await.unwrap();
    let (a, b) = (network.host("a").unwrap(), network.host("b").unwrap());
    assert_eq!(b.interfaces()[0].name(), "eth0");
    assert_eq!(b.interfaces()[0].peer(), "a");
    assert_eq!(b.ipv4().unwrap().to_string(), "10.1.0.2");
    assert_eq!(b.ipv6().unwrap().to_string(), "fd00:1::2");

    echo_across(&a, &b, at(b.ipv4().unwrap()), 64 * 1024).await;
    echo_across(&a, &b, at(b.ipv6().unwrap()), 64 * 1024).await;
    // The other way round, and loopback inside a host is up.
    echo_across(&b, &a, at(a.ipv4().unwrap()), 1024).await;
    echo_across(&a, &a, at([127, 0, 0, 1]), 1024).await;
    network.stop().await.unwrap();
}

#[tokio::test]
async fn a_switch_joins_three_hosts() {
    if !networks_available() {
        return;
    }
    let network = Network::builder("switch")
        .host("a")
        .host("b")
        .host("c")
        .switch(
            Switch::new("lan")
                .hosts(["a", "b", "c"])
                .subnet("10.2.0.0/24")
                .subnet("fd00:2::/64"),
        )
        .build()
        .unwrap();
    network.start().await.unwrap();
    let hosts = network.hosts().unwrap();
    for (client, server) in [(0, 1), (1, 2), (2, 0)] {
        let (client, server) = (&hosts[client], &hosts[server]);
        assert_eq!(server.interfaces()[0].peer(), "lan");
        echo_across(client, server, at(server.ipv4().unwrap()), 16 * 1024).await;
        echo_across(client, server, at(server.ipv6().unwrap()), 16 * 1024).await;
    }
    network.stop().await.unwrap();
}

#[tokio::test]
async fn a_chain_of_three_hosts_routes_end_to_end() {
    if !networks_available() {
        return;
    }
    let network = Network::builder("chain")
        .host("a")
        .host("router")
        .host("c")
        .link(
            Link::new("a", "router")
                .subnet("10.3.1.0/24")
                .subnet("fd00:3:1::/64"),
        )
        .link(
            Link::new("router", "c")
                .subnet("10.3.2.0/24")
                .subnet("fd00:3:2::/64"),
        )
        .build()
        .unwrap();
    network.start().await.unwrap();
    let (a, c) = (network.host("a").unwrap(), network.host("c").unwrap());
    assert_eq!(network.host("router").unwrap().interfaces().len(), 2);
    echo_across(&a, &c, at(c.ipv4().unwrap()), 64 * 1024).await;
    echo_across(&a, &c, at(c.ipv6().unwrap()), 64 * 1024).await;
    echo_across(&c, &a, at(a.ipv4().unwrap()), 1024).await;
    network.stop().await.unwrap();
}

#[tokio::test]
async fn a_process_spawned_in_a_host_sees_only_its_interfaces() {
    if !networks_available() {
        return;
    }
    let network = Network::builder("spawn")
        .host("a")
        .host("b")
        .link(Link::new("a", "b").subnet("10.4.0.0/24"))
        .build()
        .unwrap();
    network.start().await.unwrap();
    let a = network.host("a").unwrap();
    let output = a
        .command("cat")
        .unwrap()
        .arg("/proc/net/dev")
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    let interfaces: Vec<&str> = text
        .lines()
        .skip(2)
        .filter_map(|line| line.split(':').next())
        .map(str::trim)
        .collect();
    let mut sorted = interfaces.clone();
    sorted.sort();
    assert_eq!(sorted, ["eth0", "lo"], "{text}");
    network.stop().await.unwrap();
    let error = a.command("true").unwrap_err();
    assert!(error.to_string().contains("stopped"), "{error}");
}

#[tokio::test]
async fn a_job_that_panics_is_reported_and_the_host_carries_on() {
    if !networks_available() {
        return;
    }
    let network = Network::builder("panic")
        .host("a")
        .host("b")
        .link(Link::new("a", "b"))
        .build()
        .unwrap();
    network.start().await.unwrap();
    let a = network.host("a").unwrap();
    let error = a.run(|| -> () { panic!("on purpose") }).await.unwrap_err();
    assert!(error.to_string().contains("panic/a"), "{error}");
    assert_eq!(a.run(|| 7).await.unwrap(), 7);
    network.stop().await.unwrap();
}
