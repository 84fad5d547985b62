//! Rates limit what crosses a link; netem, missing from some kernels, is an error that says so.

use std::net::SocketAddr;
use std::time::Duration;

use testrig::network::{Link, Netem, Network, NetworkError, Rate, Shaper};

use crate::support::{networks_available, timed_transfer};

/// At 20 Mbit/s, 2.5 MB take one second; a veth unshaped carries them in milliseconds.
const RATE_MBIT: f64 = 20.0;
const BYTES: usize = 2_500_000;

fn mbit_per_s(bytes: usize, elapsed: Duration) -> f64 {
    bytes as f64 * 8.0 / elapsed.as_secs_f64() / 1e6
}

/// Tolerant bounds: the rate is a limit (never much above it; the bucket's burst and the
/// send buffers add a little), and the machine is shared (well below it is still shaping,
/// as long as it is not stalled).
fn assert_about(measured: f64, rate: f64) {
    assert!(
        measured <= rate * 1.3 && measured >= rate * 0.3,
        "measured {measured:.1} Mbit/s across a link limited to {rate} Mbit/s"
    );
}

async fn shaped_pair(name: &str, shaper: Shaper) -> Network {
    let network = Network::builder(name)
        .host("a")
        .host("b")
        .link(
            Link::new("a", "b")
                .subnet("10.5.0.0/24")
                .rate_from("a", "20mbit")
                .shaper(shaper),
        )
        .build()
        .unwrap();
    network.start().await.unwrap();
    network
}

fn server(network: &Network) -> SocketAddr {
    SocketAddr::new(network.host("b").unwrap().ipv4().unwrap().into(), 0)
}

#[tokio::test]
async fn a_tbf_rate_limits_what_crosses_the_link() {
    if !networks_available() {
        return;
    }
    let network = shaped_pair("tbf", Shaper::Tbf).await;
    let (a, b) = (network.host("a").unwrap(), network.host("b").unwrap());
    let elapsed = timed_transfer(&a, &b, server(&network), BYTES).await;
    assert_about(mbit_per_s(BYTES, elapsed), RATE_MBIT);
    // The other direction was not limited: the same bytes go much faster.
    let address = SocketAddr::new(a.ipv4().unwrap().into(), 0);
    let back = timed_transfer(&b, &a, address, BYTES).await;
    assert!(
        back < elapsed / 3,
        "b to a took {back:?}, a to b {elapsed:?}"
    );
    network.stop().await.unwrap();
}

#[tokio::test]
async fn an_htb_rate_limits_what_crosses_the_link() {
    if !networks_available() {
        return;
    }
    let network = shaped_pair("htb", Shaper::Htb).await;
    let (a, b) = (network.host("a").unwrap(), network.host("b").unwrap());
    let elapsed = timed_transfer(&a, &b, server(&network), BYTES).await;
    assert_about(mbit_per_s(BYTES, elapsed), RATE_MBIT);
    network.stop().await.unwrap();
}

#[tokio::test]
async fn a_rate_changed_at_run_time_takes_effect_and_can_be_lifted() {
    if !networks_available() {
        return;
    }
    let network = Network::builder("set-rate")
        .host("a")
        .host("b")
        .link(Link::new("a", "b").subnet("10.6.0.0/24"))
        .build()
        .unwrap();
    network.start().await.unwrap();
    let (a, b) = (network.host("a").unwrap(), network.host("b").unwrap());
    let address = server(&network);
    let free = timed_transfer(&a, &b, address, BYTES).await;

    network
        .set_rate("a", "b", Some(Rate::mbit(20)))
        .await
        .unwrap();
    let limited = timed_transfer(&a, &b, address, BYTES).await;
    assert_about(mbit_per_s(BYTES, limited), RATE_MBIT);
    assert!(free < limited / 3, "unshaped {free:?}, shaped {limited:?}");

    network.set_rate("a", "b", None).await.unwrap();
    let lifted = timed_transfer(&a, &b, address, BYTES).await;
    assert!(
        lifted < limited / 3,
        "lifted {lifted:?}, shaped {limited:?}"
    );
    network.stop().await.unwrap();
}

fn assert_names_netem(error: &NetworkError, link: &str) {
    let text = error.to_string();
    assert!(
        matches!(error, NetworkError::Unsupported { .. }),
        "{error:?}"
    );
    assert!(text.contains("netem"), "{text}");
    assert!(text.contains(link), "{text}");
}

#[tokio::test]
async fn netem_asked_for_where_the_kernel_lacks_it_is_an_error_naming_netem() {
    if !networks_available() {
        return;
    }
    let network = Network::builder("netem")
        .host("a")
        .host("b")
        .link(Link::new("a", "b").netem(Netem::new().delay(Duration::from_millis(10))))
        .build()
        .unwrap();
    match network.start().await {
        Err(error) => {
            assert_names_netem(&error, "a-b");
            assert!(error.to_string().contains("sch_netem"), "{error}");
        }
        // A kernel with netem: then it must work, and a changed netem too.
        Ok(()) => {
            network
                .set_netem("a", "b", Some(Netem::new().loss(1.0)))
                .await
                .unwrap();
            network.stop().await.unwrap();
            return;
        }
    }

    // At run time too: a plain link asked for netem.
    let plain = Network::builder("netem-later")
        .host("a")
        .host("b")
        .link(Link::new("a", "b"))
        .build()
        .unwrap();
    plain.start().await.unwrap();
    let error = plain
        .set_netem("b", "a", Some(Netem::new().loss(5.0)))
        .await
        .unwrap_err();
    assert_names_netem(&error, "a-b");
    plain.stop().await.unwrap();
}
