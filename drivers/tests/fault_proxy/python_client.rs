//! The API driven by a real Toxiproxy client, `toxiproxy-python` (PyPI), in a
//! `python3` child: what a Python test suite does against Toxiproxy, with its
//! traffic through the proxies it creates.

use std::time::Duration;

use testrig_drivers::fault_proxy::{ProxyRegistry, ToxiproxyApi};
use tokio::process::Command;
use tokio::time::timeout;

use crate::support::echo_server;

/// The client's script: argv[1] the API's port, argv[2] the echo server. Each
/// step asserts; the last line printed is `ok`.
const SCRIPT: &str = r#"
import socket, sys, time
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import NotFound, ProxyExists, InvalidToxic

APIConsumer.host, APIConsumer.port = "127.0.0.1", int(sys.argv[1])
echo = sys.argv[2]
server = Toxiproxy()
assert server.running()
assert server.version() == b'{"version": "2.12.0"}\n', server.version()

proxy = server.create(upstream=echo, name="py")
assert proxy.enabled is True and proxy.upstream == echo, vars(proxy)
host, port = proxy.listen.rsplit(":", 1)

def connect():
    return socket.create_connection((host, int(port)), timeout=5)

def round_trip(conn, message):
    start = time.monotonic()
    conn.sendall(message)
    got = b""
    while len(got) < len(message):
        data = conn.recv(64)
        assert data, "closed"
        got += data
    assert got == message, got
    return time.monotonic() - start

conn = connect()
round_trip(conn, b"plain")

# Toxiproxy's errors, as the client raises them.
for call, error in [
    (lambda: APIConsumer.post("/proxies", json={"name": "py", "upstream": echo}), ProxyExists),
    (lambda: APIConsumer.get("/proxies/nope"), NotFound),
    (lambda: APIConsumer.post("/proxies/py/toxics", json={"type": "nope"}), InvalidToxic),
]:
    try:
        call()
    except error:
        pass
    else:
        raise AssertionError("no %s" % error.__name__)

proxy.add_toxic(type="latency", attributes={"latency": 100})
toxics = proxy.toxics()
assert list(toxics) == ["latency_downstream"], toxics
toxic = toxics["latency_downstream"]
assert (toxic.type, toxic.stream, toxic.toxicity) == ("latency", "downstream", 1), vars(toxic)
assert toxic.attributes == {"latency": 100, "jitter": 0}, toxic.attributes
assert round_trip(conn, b"slow") >= 0.1
proxy.destroy_toxic("latency_downstream")
assert proxy.toxics() == {}

# A blackhole, then removed: Toxiproxy closes the connection it held.
proxy.add_toxic(type="timeout", stream="upstream", attributes={"timeout": 0})
conn.sendall(b"lost")
conn.settimeout(0.3)
try:
    conn.recv(16)
    raise AssertionError("data under a timeout toxic")
except socket.timeout:
    pass
conn.settimeout(5)
proxy.destroy_toxic("timeout_upstream")
assert conn.recv(16) == b"", "the connection stays open"
conn.close()

proxy.disable()
assert server.get_proxy("py").enabled is False
try:
    connect()
    raise AssertionError("a disabled proxy accepts")
except ConnectionRefusedError:
    pass
proxy.enable()
conn = connect()
round_trip(conn, b"back")
conn.close()

populated = server.populate([{"name": "pop", "upstream": echo, "listen": "127.0.0.1:0"}])
assert [p.name for p in populated] == ["pop"]
assert sorted(server.proxies()) == ["pop", "py"]
proxy.add_toxic(type="bandwidth", attributes={"rate": 1})
assert server.reset() is True
assert proxy.toxics() == {}
assert proxy.destroy() is True
server.destroy_all()
assert server.proxies() == {}
print("ok")
"#;

/// Whether `python3` with `toxiproxy-python` is here; without it the test is
/// skipped, but not under CI.
async fn client_installed() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import toxiproxy"])
        .output()
        .await
        .is_ok_and(|output| output.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs python3 with toxiproxy-python (pip install toxiproxy-python==0.1.1)"
        );
        println!("skip: python3 with toxiproxy-python is not installed");
    }
    found
}

#[tokio::test]
async fn toxiproxy_python_drives_the_api_and_its_traffic() {
    if !client_installed().await {
        return;
    }
    let echo = echo_server().await;
    let api = ToxiproxyApi::serve("127.0.0.1:0".parse().unwrap(), ProxyRegistry::new())
        .await
        .unwrap();
    let output = timeout(
        Duration::from_secs(30),
        Command::new("python3")
            .args(["-c", SCRIPT])
            .arg(api.local_addr().port().to_string())
            .arg(echo.address.to_string())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the client's script ends")
    .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.trim_end().ends_with("ok"),
        "{}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    api.stop().await;
}
