//! A network as part of an environment's lifecycle: built before the drivers placed on its
//! hosts start, its hosts' exports resolved like drivers', removed after the drivers stop,
//! built afresh when the environment starts again; and the declarations it refuses.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use async_trait::async_trait;
use std::time::Duration;

use testrig::network::{Link, Netem, Network};
use testrig::{
    BoxError, BuildError, Driver, Endpoint, Environment, Error, Exports, Ref, StartContext, Status,
    Template,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{DEADLINE, live_network_namespaces, networks_available, wait_gone};

/// Serves one echo connection at a time on its host's address, port from the kernel.
#[derive(Debug)]
struct EchoServer {
    address: Mutex<Option<SocketAddr>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

#[async_trait]
impl Driver for EchoServer {
    fn name(&self) -> &str {
        "echo"
    }

    fn export_keys(&self) -> Vec<String> {
        Endpoint::EXPORT_KEYS.map(str::to_owned).to_vec()
    }

    async fn start(&self, ctx: &StartContext) -> Result<(), BoxError> {
        let host = ctx.host();
        let ip = IpAddr::from(host.ipv4().ok_or("the host has no IPv4 address")?);
        let listener = host.tcp_listener(SocketAddr::new(ip, 0)).await?;
        *self.address.lock().unwrap() = Some(listener.local_addr()?);
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (mut reader, mut writer) = stream.split();
                let _ = tokio::io::copy(&mut reader, &mut writer).await;
            }
        });
        *self.task.lock().unwrap() = Some(task);
        Ok(())
    }

    async fn stop(&self) -> Result<(), BoxError> {
        let task = self.task.lock().unwrap().take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
        Ok(())
    }

    fn exports(&self) -> Exports {
        self.address
            .lock()
            .unwrap()
            .map(Endpoint::exports)
            .unwrap_or_default()
    }
}

/// At start, connects from its host to the echo server and checks one round trip; keeps
/// where it saw itself run (its host's name and the rendered `${b.address}`).
#[derive(Debug)]
struct Prober {
    target: Endpoint,
    greeting: Template,
    seen: Mutex<Option<(String, String, SocketAddr)>>,
}

#[async_trait]
impl Driver for Prober {
    fn name(&self) -> &str {
        "prober"
    }

    fn references(&self) -> Vec<testrig::RefKey> {
        [self.target.references(), self.greeting.references()].concat()
    }

    async fn start(&self, ctx: &StartContext) -> Result<(), BoxError> {
        let (host, port) = ctx.endpoint(&self.target)?;
        let address = SocketAddr::new(host.parse()?, port);
        let mut stream = tokio::time::timeout(DEADLINE, ctx.host().tcp_connect(address))
            .await
            .map_err(|_| "connect timed out")??;
        let greeting = ctx.render(&self.greeting)?;
        stream.write_all(greeting.as_bytes()).await?;
        let mut back = vec![0; greeting.len()];
        tokio::time::timeout(DEADLINE, stream.read_exact(&mut back))
            .await
            .map_err(|_| "no echo")??;
        assert_eq!(back, greeting.as_bytes());
        let local = stream.local_addr()?;
        *self.seen.lock().unwrap() = Some((ctx.host().name().to_owned(), greeting, local));
        Ok(())
    }

    async fn stop(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

fn two_hosts() -> Network {
    Network::builder("env")
        .host("a")
        .host("b")
        .link(Link::new("a", "b").subnet("10.77.0.0/24"))
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_network_comes_up_before_its_drivers_and_goes_after_them() {
    if !networks_available() {
        return;
    }
    let mut builder = Environment::builder("two-hosts").network(two_hosts());
    builder.add_on(
        "b",
        EchoServer {
            address: Mutex::new(None),
            task: Mutex::new(None),
        },
    );
    let prober = builder.add_on(
        "a",
        Prober {
            target: Endpoint::of("echo"),
            greeting: Template::parse("hello ${b.address} from ${a.eth0.address}").unwrap(),
            seen: Mutex::new(None),
        },
    );
    let env = builder.build().unwrap();

    for round in 0..2 {
        env.start().await.unwrap();
        let network = env.network().unwrap();
        let inodes = network.namespace_inodes().unwrap();
        let (host, greeting, local) = env
            .get(&prober)
            .unwrap()
            .seen
            .lock()
            .unwrap()
            .clone()
            .unwrap();
        assert_eq!(host, "a", "round {round}");
        assert_eq!(greeting, "hello 10.77.0.2 from 10.77.0.1");
        assert_eq!(
            local.ip().to_string(),
            "10.77.0.1",
            "the connection left host a"
        );
        let address: IpAddr = env
            .values()
            .resolve(Ref::<IpAddr>::export("b", "address").key())
            .unwrap();
        assert_eq!(address.to_string(), "10.77.0.2");
        let echo = env.resource("echo").unwrap().report().exports;
        assert_eq!(
            echo["host"].to_string(),
            "10.77.0.2",
            "the server listened on host b"
        );

        env.stop().await.unwrap();
        assert!(
            network.namespace_inodes().is_err(),
            "the network is stopped"
        );
        let left = wait_gone(&inodes, DEADLINE).await;
        assert!(
            left.is_empty(),
            "round {round}: namespaces {left:?} outlived the environment"
        );
        assert!(
            inodes
                .iter()
                .all(|inode| !live_network_namespaces().contains(inode))
        );
    }
}

#[tokio::test]
async fn a_failed_driver_start_takes_the_network_down_with_it() {
    if !networks_available() {
        return;
    }
    let mut builder = Environment::builder("failing").network(two_hosts());
    // Nothing listens: the prober's connect is refused, so the start fails.
    builder.add_on(
        "a",
        Prober {
            target: Endpoint::new("10.77.0.2", 9),
            greeting: Template::parse("x").unwrap(),
            seen: Mutex::new(None),
        },
    );
    let env = builder.build().unwrap();
    let error = env.start().await.unwrap_err();
    assert!(format!("{error:#}").contains("prober"), "{error:#}");
    assert!(
        env.network().unwrap().namespace_inodes().is_err(),
        "the network is stopped with the drivers"
    );
}

#[test]
fn declarations_the_environment_refuses() {
    let probe = || Prober {
        target: Endpoint::new("10.77.0.2", 7),
        greeting: Template::parse("x").unwrap(),
        seen: Mutex::new(None),
    };

    let mut builder = Environment::builder("e").network(two_hosts());
    builder.add_on("c", probe());
    let error = builder.build().unwrap_err();
    assert!(matches!(error, BuildError::UnknownHost { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        "environment `e`: driver `prober`: host = `c`: the environment has no such host (its hosts: a, b)"
    );

    let error = Environment::builder("e")
        .host(testrig::Host::local())
        .host(testrig::Host::local())
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "environment `e`: two hosts are named `local`"
    );
    let mut builder = Environment::builder("e").host(testrig::Host::local());
    builder.add_on("local", probe());
    assert!(builder.build().is_ok(), "a host declared by itself");

    let mut builder = Environment::builder("e");
    builder.add_on("a", probe());
    let error = builder.build().unwrap_err().to_string();
    assert!(
        error.contains("host = `a`: the environment has no host"),
        "{error}"
    );

    let network = Network::builder("n")
        .host("prober")
        .host("b")
        .link(Link::new("prober", "b"))
        .build()
        .unwrap();
    let error = Environment::builder("e")
        .network(network)
        .driver(probe())
        .build()
        .unwrap_err();
    assert!(
        matches!(error, BuildError::InvalidNetwork { .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("host `prober` has the name of a driver"),
        "{error}"
    );

    let mut builder = Environment::builder("e").network(two_hosts());
    builder.add_on(
        "a",
        Prober {
            target: Endpoint::new(Ref::export("b", "eth1.address"), 7),
            greeting: Template::parse("x").unwrap(),
            seen: Mutex::new(None),
        },
    );
    let error = builder.build().unwrap_err().to_string();
    assert!(
        error.contains("`b` exports no `eth1.address`")
            && error.contains("eth0.address,")
            && error.contains("(it exports: address,"),
        "{error}"
    );
}

#[tokio::test]
async fn a_network_that_cannot_be_built_fails_the_start_naming_what_is_missing() {
    if !networks_available() {
        return;
    }
    let network = Network::builder("netem-env")
        .host("a")
        .host("b")
        .link(Link::new("a", "b").netem(Netem::new().delay(Duration::from_millis(10))))
        .build()
        .unwrap();
    let mut builder = Environment::builder("needs-netem").network(network);
    let echo = builder.add_on(
        "b",
        EchoServer {
            address: Mutex::new(None),
            task: Mutex::new(None),
        },
    );
    let env = builder.build().unwrap();
    match env.start().await {
        Err(error) => {
            assert!(matches!(error, Error::Network { .. }), "{error:?}");
            let text = format!("{error:#}");
            assert!(
                text.contains("netem") && text.contains("sch_netem"),
                "{text}"
            );
            assert_eq!(
                env.resource(&echo).unwrap().status(),
                Status::Idle,
                "no driver starts on a network that could not be built"
            );
            assert!(env.report().errors.iter().any(|e| e.contains("netem")));
        }
        // A kernel with netem: the environment runs.
        Ok(()) => env.stop().await.unwrap(),
    }
}
