//! `testrig up --toxiproxy-api`: Toxiproxy's HTTP API serves the rig's fault
//! proxies while it is up, and is gone once it is down.

use std::time::Duration;

use serde_json::Value;

use crate::support::{Lines, scratch, send_signal, spawn, wait_with_deadline};

const DEADLINE: Duration = Duration::from_secs(20);

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into()
}

#[test]
fn up_serves_the_toxiproxy_api_for_the_rigs_fault_proxies() {
    let dir = scratch("toxiproxy-api");
    let mut child = spawn(&[
        "up",
        "examples/rigs/fault-proxy.toml",
        "--report-dir",
        dir.to_str().unwrap(),
        "--toxiproxy-api",
        "127.0.0.1:0",
    ]);
    let pid = child.id();
    let mut lines = Lines::of(&mut child);
    let line = lines.wait_for("Toxiproxy API on http://", DEADLINE);
    assert!(line.contains("(proxies: proxy)"), "{line}");
    let address = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the address it serves on")
        .to_owned();
    lines.wait_for("rig `fault-proxy` is up", DEADLINE);

    let agent = agent();
    let mut proxies = agent
        .get(format!("http://{address}/proxies"))
        .call()
        .expect("the API answers while the rig is up");
    assert_eq!(proxies.status(), 200);
    let proxies: Value =
        serde_json::from_str(&proxies.body_mut().read_to_string().unwrap()).unwrap();
    let proxy = &proxies["proxy"];
    assert_eq!(proxy["enabled"], true, "{proxies}");
    assert_eq!(proxy["toxics"][0]["name"], "slow-start", "{proxies}");
    let added = agent
        .post(format!("http://{address}/proxies/proxy/toxics"))
        .send(r#"{"type": "bandwidth", "attributes": {"rate": 10}}"#)
        .unwrap();
    assert_eq!(added.status(), 200);

    send_signal(pid, libc::SIGINT);
    lines.rest(DEADLINE);
    let (status, stderr) = wait_with_deadline(child, DEADLINE);
    assert_eq!(status.code(), Some(0), "stderr:\n{stderr}");
    assert!(
        agent
            .get(format!("http://{address}/version"))
            .call()
            .is_err(),
        "the API is closed with the rig"
    );
}

#[test]
fn up_fails_when_the_toxiproxy_api_cannot_listen() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let dir = scratch("toxiproxy-api-taken");
    let child = spawn(&[
        "up",
        "examples/rigs/fault-proxy.toml",
        "--report-dir",
        dir.to_str().unwrap(),
        "--toxiproxy-api",
        &address,
    ]);
    let (status, stderr) = wait_with_deadline(child, DEADLINE);
    assert_eq!(status.code(), Some(1), "stderr:\n{stderr}");
    assert!(
        stderr.contains(&format!("Toxiproxy API: cannot listen on {address}")),
        "{stderr}"
    );
}
