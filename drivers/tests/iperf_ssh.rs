//! iperf between two remote hosts over SSH, with each remote's `iperf3`: real sshds in two
//! hosts of one emulated network (`testrig::testing::Sshd::start_hosts`), the SSH connections
//! made from a third host; the server on `b`, the client on `a` reaching it by `b`'s address;
//! nothing left remotely once the environment stops; a remote lacking the program fails with
//! an error naming the host and the program.
//!
//! Without root, network namespaces, sshd or iperf3 each test prints a skip line, and fails
//! when `CI` is set. (The native engine on SSH hosts, which copies the `testrig` binary over,
//! is tested where that binary is built: `cli/tests/cli/iperf_remote.rs`.)

use std::path::PathBuf;
use std::time::Duration;

use testrig::testing::{SSHD_PATIENCE as PATIENCE, Sshd, local_processes_with};
use testrig::{Endpoint, Environment};
use testrig_drivers::iperf::{
    ClientOptions, Engine, IperfClient, IperfServer, IperfTest, Peer, ServerOutput,
};

/// A marker unique to this test run, in the remote programs' command lines.
fn marker(test: &str) -> String {
    format!("testrig-mark-{test}-{}", std::process::id())
}

/// iperf3 under a path holding `marker` (a symlink to the real one; the remote hosts share
/// this machine's files), so its processes can be found there; `None` after a skip line
/// without iperf3, a panic when `CI` is set.
fn marked_iperf3(marker: &str) -> Option<PathBuf> {
    let real = ["/usr/bin/iperf3", "/usr/local/bin/iperf3"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file());
    let Some(real) = real else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set and iperf3 is not installed"
        );
        eprintln!("skip: iperf3 is not installed");
        return None;
    };
    let dir = std::env::temp_dir().join(marker);
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("iperf3");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(real, &link).unwrap();
    Some(link)
}

/// An error and its causes, as a reader sees them.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn iperf3_between_two_remote_hosts_measures_their_link_and_leaves_nothing_there() {
    let mark = marker("iperf3-pair");
    let Some(iperf3) = marked_iperf3(&mark) else {
        return;
    };
    let Some(sshd) = Sshd::start_hosts("iperf-ssh3", 181, &["a", "b"]).await else {
        return;
    };
    let a = sshd.remote("a").host().connect().await.unwrap();
    let b = sshd.remote("b").host().connect().await.unwrap();
    let mut builder = Environment::builder("iperf-ssh3")
        .host(a.clone())
        .host(b.clone());
    let server = builder.add_on(
        "b",
        IperfServer::new("server").engine(Engine::iperf3_at(&iperf3)),
    );
    let client = builder.add_on(
        "a",
        IperfClient::new("client", Endpoint::of("server"))
            .engine(Engine::iperf3_at(&iperf3))
            .options(
                ClientOptions::new()
                    .duration(Duration::from_secs(1))
                    .get_server_output(true),
            ),
    );
    let env = builder.build().unwrap();
    env.start().await.unwrap();

    // The server listens on b's address (the SSH host's), on a port chosen there.
    let exports = env.get(&server).unwrap().local_addr().unwrap();
    assert_eq!(exports.ip(), sshd.remote("b").address);
    assert!(
        local_processes_with(&mark)
            .iter()
            .any(|line| line.contains("-s") && line.contains(&exports.ip().to_string())),
        "iperf3 -s runs on host b: {:?}",
        local_processes_with(&mark)
    );

    let result = env.get(&client).unwrap().run(PATIENCE).await.unwrap();
    // The client ran on a, toward b's address.
    assert_eq!(
        result.connected[0].remote_host,
        sshd.remote("b").address.to_string()
    );
    assert_eq!(
        result.connected[0].local_host,
        sshd.remote("a").address.to_string()
    );
    let mbits = result.received_bits_per_second() / 1e6;
    println!("iperf3 a -> b over SSH hosts: {mbits:.0} Mbit/s");
    assert!(
        mbits > 100.0,
        "an unshaped veth carries more: {mbits} Mbit/s"
    );
    // Both sides' counts, and the server's own report.
    assert!(result.bytes_sent() > 0 && result.bytes_received() > 0);
    match &result.server_output {
        Some(ServerOutput::Text(text)) => assert!(text.contains("receiver"), "{text}"),
        other => panic!("the server's output comes back with the client's: {other:?}"),
    }

    env.stop().await.unwrap();
    sshd.assert_nothing_left_with(&mark, PATIENCE).await;
    drop((a, b));
    sshd.stop().await;
    let _ = std::fs::remove_dir_all(std::env::temp_dir().join(&mark));
}

#[tokio::test]
async fn an_iperf_test_between_two_remote_hosts_runs_both_ways_and_leaves_nothing_there() {
    let mark = marker("iperf-test");
    let Some(iperf3) = marked_iperf3(&mark) else {
        return;
    };
    let Some(sshd) = Sshd::start_hosts("iperf-ssh-test", 185, &["a", "b"]).await else {
        return;
    };
    let a = sshd.remote("a").host().connect().await.unwrap();
    let b = sshd.remote("b").host().connect().await.unwrap();
    let both = IperfTest::new(ClientOptions::new().duration(Duration::from_millis(500)))
        .engine(Engine::iperf3_at(&iperf3))
        .deadline(PATIENCE)
        .both(&Peer::on(&a), &Peer::on(&b))
        .await
        .unwrap_or_else(|error| panic!("{}", chain(&error)));
    let (a_at, b_at) = (sshd.remote("a").address, sshd.remote("b").address);
    for (what, result, from, to) in [
        ("upstream", &both.upstream, a_at, b_at),
        ("downstream", &both.downstream, b_at, a_at),
    ] {
        assert!(result.bytes_received() > 0, "{what}: nothing received");
        let connected = &result.connected[0];
        assert_eq!(
            (
                connected.local_host.as_str(),
                connected.remote_host.as_str()
            ),
            (from.to_string().as_str(), to.to_string().as_str()),
            "{what}: the client ran on the sending host, toward the receiving one"
        );
    }
    // Each measurement's environment stopped its programs; the hosts stay connected.
    sshd.assert_nothing_left_with(&mark, PATIENCE).await;
    assert!(a.remote_runpath().is_some() && b.remote_runpath().is_some());
    drop((a, b));
    sshd.stop().await;
    let _ = std::fs::remove_dir_all(std::env::temp_dir().join(&mark));
}

#[tokio::test]
async fn a_remote_without_the_program_fails_naming_the_host_and_the_program() {
    let Some(sshd) = Sshd::start_hosts("iperf-ssh-none", 182, &["a", "b"]).await else {
        return;
    };
    let a = sshd.remote("a").host().connect().await.unwrap();
    let b = sshd.remote("b").host().connect().await.unwrap();
    let missing = format!("/nonexistent/{}/iperf3", marker("missing"));

    // A server: its start fails.
    let mut builder = Environment::builder("iperf-ssh-none").host(b.clone());
    builder.add_on(
        "b",
        IperfServer::new("server").engine(Engine::iperf3_at(&missing)),
    );
    let env = builder.build().unwrap();
    let error = format!("{:?}", env.start().await.unwrap_err());
    assert!(
        // Through the host's agent ("cannot start `…` on host `b`: program not found there")
        // or a channel per program ("`…` could not be run on SSH host `b`").
        error.contains(&format!("`{missing}`")) && error.contains("host `b`"),
        "{error}"
    );
    let _ = env.stop().await;

    // A client: its run fails the same way.
    let mut builder = Environment::builder("iperf-ssh-none-client").host(a.clone());
    let client = builder.add_on(
        "a",
        IperfClient::new(
            "client",
            Endpoint::new(sshd.remote("b").address.to_string(), 5201),
        )
        .engine(Engine::iperf3_at(&missing)),
    );
    let env = builder.build().unwrap();
    env.start().await.unwrap();
    let error = env.get(&client).unwrap().run(PATIENCE).await.unwrap_err();
    let error = chain(&error);
    assert!(
        // Through the host's agent ("cannot start `…` on host `a`: program not found there")
        // or a channel per program ("`…` could not be run on SSH host `a`").
        error.contains(&format!("`{missing}`")) && error.contains("host `a`"),
        "{error}"
    );
    env.stop().await.unwrap();
    drop((a, b));
    sshd.stop().await;
}
