//! Toxiproxy's HTTP API, checked with a plain HTTP client (ureq) as a Toxiproxy
//! client would use it: every route, the JSON shapes, the status codes and error
//! bodies, and toxics added through it acting on real traffic.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use testrig::{Endpoint, Environment};
use testrig_drivers::fault_proxy::{FaultProxy, ProxyRegistry, Toxic, ToxiproxyApi};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::support::{PATIENCE, echo_server, round_trip, timing};

/// One HTTP answer: status, `Content-Type`, body.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// Toxiproxy's error: `{"error": message, "status": status}`, as Go's
    /// `http.Error` sends it.
    fn assert_error(&self, status: u16, message: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.content_type, "text/plain; charset=utf-8", "{self:?}");
        assert!(self.body.ends_with('\n'), "{self:?}");
        assert_eq!(self.json(), json!({"error": message, "status": status}));
    }
}

/// A request to the API, on a blocking thread (ureq is synchronous).
async fn call(api: SocketAddr, method: &'static str, path: &str, body: Option<&str>) -> Answer {
    call_as(api, method, path, body, "toxiproxy-test").await
}

async fn call_as(
    api: SocketAddr,
    method: &'static str,
    path: &str,
    body: Option<&str>,
    agent_name: &'static str,
) -> Answer {
    let url = format!("http://{api}{path}");
    let body = body.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(PATIENCE))
            .user_agent(agent_name)
            .build()
            .into();
        let response = match (method, body) {
            ("GET", _) => agent.get(&url).call(),
            ("DELETE", _) => agent.delete(&url).call(),
            ("POST", Some(body)) => agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body.as_str()),
            ("POST", None) => agent.post(&url).send_empty(),
            ("PATCH", Some(body)) => agent.patch(&url).send(body.as_str()),
            ("PUT", _) => agent.put(&url).send_empty(),
            other => panic!("no such request in these tests: {other:?}"),
        };
        let mut response = response.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        Answer {
            status: response.status().as_u16(),
            content_type,
            body: response.body_mut().read_to_string().unwrap(),
        }
    })
    .await
    .unwrap()
}

async fn api_over(registry: ProxyRegistry) -> ToxiproxyApi {
    ToxiproxyApi::serve("127.0.0.1:0".parse().unwrap(), registry)
        .await
        .unwrap()
}

async fn connect(address: &str) -> TcpStream {
    let stream = timeout(PATIENCE, TcpStream::connect(address))
        .await
        .expect("the connect ends")
        .expect("the proxy accepts");
    stream.set_nodelay(true).unwrap();
    stream
}

/// Whether a connect to `address` is refused (the proxy is down).
async fn refused(address: &str) -> bool {
    matches!(
        timeout(PATIENCE, TcpStream::connect(address)).await,
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

/// A proxy to `upstream` created through the API; returns where it listens.
async fn create(api: SocketAddr, name: &str, upstream: SocketAddr) -> String {
    let answer = call(
        api,
        "POST",
        "/proxies",
        Some(
            &json!({"name": name, "listen": "127.0.0.1:0", "upstream": upstream.to_string()})
                .to_string(),
        ),
    )
    .await;
    assert_eq!(answer.status, 201, "{answer:?}");
    answer.json()["listen"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn version_answers_as_toxiproxy_does() {
    let api = api_over(ProxyRegistry::new()).await;
    let answer = call(api.local_addr(), "GET", "/version", None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type, "application/json;charset=utf-8");
    assert!(
        answer.json()["version"].as_str().unwrap().starts_with("2."),
        "{answer:?}"
    );
    api.stop().await;
}

#[tokio::test]
async fn an_environments_proxies_are_listed_by_their_driver_names() {
    let echo = echo_server().await;
    let env = Environment::builder("api")
        .driver(
            FaultProxy::new("db", Endpoint::from(echo.address))
                .toxic(Toxic::latency(7, 1).upstream()),
        )
        .build()
        .unwrap();
    env.start().await.unwrap();
    let proxy = env.get::<FaultProxy>("db").unwrap();
    let api = api_over(ProxyRegistry::of_environment(&env)).await;
    let address = proxy.local_addr().unwrap().to_string();
    let expected = json!({
        "name": "db", "listen": address, "upstream": echo.address.to_string(), "enabled": true,
        "toxics": [{"name": "latency_upstream", "type": "latency", "stream": "upstream",
                    "toxicity": 1.0, "attributes": {"latency": 7, "jitter": 1}}]
    });

    let index = call(api.local_addr(), "GET", "/proxies", None).await;
    assert_eq!(index.status, 200);
    assert_eq!(index.content_type, "application/json");
    assert_eq!(index.json(), json!({"db": expected}));
    let show = call(api.local_addr(), "GET", "/proxies/db", None).await;
    assert_eq!(show.json(), expected);

    // Disabled through the API, the driver's link is down; enabled, it is back.
    let off = call(
        api.local_addr(),
        "POST",
        "/proxies/db",
        Some(r#"{"enabled": false}"#),
    )
    .await;
    assert_eq!((off.status, &off.json()["enabled"]), (200, &json!(false)));
    assert!(refused(&address).await);
    let on = call(
        api.local_addr(),
        "PATCH",
        "/proxies/db",
        Some(r#"{"enabled": true}"#),
    )
    .await;
    assert_eq!((on.status, &on.json()["enabled"]), (200, &json!(true)));
    round_trip(&mut connect(&address).await, b"back").await;

    api.stop().await;
    // The driver's proxy is the environment's: the API's stop leaves it running.
    round_trip(&mut connect(&address).await, b"still").await;
    env.stop().await.unwrap();
}

#[tokio::test]
async fn a_proxy_created_through_the_api_forwards_and_goes_with_it() {
    let echo = echo_server().await;
    let api = api_over(ProxyRegistry::new()).await;
    let answer = call(
        api.local_addr(),
        "POST",
        "/proxies",
        Some(&json!({"name": "redis", "upstream": echo.address.to_string()}).to_string()),
    )
    .await;
    assert_eq!(answer.status, 201, "{answer:?}");
    assert_eq!(answer.content_type, "application/json");
    let created = answer.json();
    let listen = created["listen"].as_str().unwrap().to_owned();
    assert!(
        listen.starts_with("127.0.0.1:") && !listen.ends_with(":0"),
        "{created}"
    );
    assert_eq!(
        created,
        json!({"name": "redis", "listen": listen, "upstream": echo.address.to_string(),
               "enabled": true, "toxics": []})
    );
    round_trip(&mut connect(&listen).await, b"through").await;
    assert_eq!(api.registry().names(), ["redis"]);

    api.stop().await;
    assert!(refused(&listen).await, "the API's proxies stop with it");
}

#[tokio::test]
async fn proxy_errors_are_toxiproxys() {
    let echo = echo_server().await;
    let api = api_over(ProxyRegistry::new()).await;
    let at = api.local_addr();
    let upstream = echo.address.to_string();
    create(at, "one", echo.address).await;

    call(
        at,
        "POST",
        "/proxies",
        Some(&json!({"name": "one", "upstream": upstream}).to_string()),
    )
    .await
    .assert_error(409, "proxy already exists");
    call(
        at,
        "POST",
        "/proxies",
        Some(&json!({"upstream": upstream}).to_string()),
    )
    .await
    .assert_error(400, "missing required field: name");
    call(at, "POST", "/proxies", Some(r#"{"name": "two"}"#))
        .await
        .assert_error(400, "missing required field: upstream");
    for path in [
        "/proxies/nope",
        "/proxies/nope/toxics",
        "/proxies/nope/toxics/t",
    ] {
        call(at, "GET", path, None)
            .await
            .assert_error(404, "proxy not found");
    }
    call(at, "DELETE", "/proxies/nope", None)
        .await
        .assert_error(404, "proxy not found");
    call(at, "POST", "/proxies/nope", Some("{}"))
        .await
        .assert_error(404, "proxy not found");

    // Malformed bodies: 400 "bad request body: …", and the API goes on.
    for body in [
        &b"{\"name\": "[..],
        b"",
        b"[1, 2]",
        b"{\"name\": 5, \"upstream\": \"x:1\"}",
        b"\xff\xfe",
    ] {
        let body = String::from_utf8_lossy(body).into_owned();
        let answer = call(at, "POST", "/proxies", Some(&body)).await;
        assert_eq!(answer.status, 400, "{body:?}: {answer:?}");
        let error = answer.json();
        assert!(
            error["error"]
                .as_str()
                .unwrap()
                .starts_with("bad request body: "),
            "{error}"
        );
        assert_eq!(error["status"], 400);
    }
    let bad = call(at, "POST", "/proxies/one", Some("{oops")).await;
    assert_eq!(bad.status, 400, "{bad:?}");
    let show = call(at, "GET", "/proxies/one", None).await;
    assert_eq!(show.status, 200, "still serving after bad bodies");

    // Routes: unknown paths are gorilla/mux's 404, wrong methods its 405.
    let unknown = call(at, "GET", "/nothing", None).await;
    assert_eq!(
        (unknown.status, unknown.body.as_str()),
        (404, "404 page not found\n")
    );
    assert_eq!(call(at, "PUT", "/proxies", None).await.status, 405);
    assert_eq!(call(at, "DELETE", "/version", None).await.status, 405);
    // Browsers are refused, as Toxiproxy refuses them.
    let browser = call_as(at, "GET", "/proxies", None, "Mozilla/5.0").await;
    assert_eq!(browser.status, 403);
    assert_eq!(browser.body, "User agent not allowed\n");
    // gorilla/mux runs that middleware on a matched route only: a path with no
    // route is its 404, a method a route does not take its 405.
    let lost = call_as(at, "GET", "/nope", None, "Mozilla/5.0").await;
    assert_eq!(
        (lost.status, lost.body.as_str()),
        (404, "404 page not found\n")
    );
    let wrong = call_as(at, "PUT", "/proxies", None, "Mozilla/5.0").await;
    assert_eq!(wrong.status, 405);
    api.stop().await;
}

#[tokio::test]
async fn toxics_are_listed_created_shown_updated_and_deleted_as_toxiproxy_does() {
    let echo = echo_server().await;
    let api = api_over(ProxyRegistry::new()).await;
    let at = api.local_addr();
    create(at, "p", echo.address).await;

    // Defaults: stream downstream, toxicity 1, name `<type>_<stream>`, missing
    // attributes 0; the answer is 200 (Toxiproxy does not say 201 here).
    let added = call(
        at,
        "POST",
        "/proxies/p/toxics",
        Some(r#"{"type": "latency", "attributes": {"latency": 30}}"#),
    )
    .await;
    assert_eq!(
        (added.status, added.content_type.as_str()),
        (200, "application/json"),
        "{added:?}"
    );
    let latency = json!({"name": "latency_downstream", "type": "latency", "stream": "downstream",
                         "toxicity": 1.0, "attributes": {"latency": 30, "jitter": 0}});
    assert_eq!(added.json(), latency);
    let named = call(
        at,
        "POST",
        "/proxies/p/toxics",
        Some(r#"{"name": "cut", "type": "limit_data", "stream": "upstream", "toxicity": 0.5, "attributes": {"bytes": 9, "other": 1}}"#),
    )
    .await;
    let cut = json!({"name": "cut", "type": "limit_data", "stream": "upstream", "toxicity": 0.5,
                     "attributes": {"bytes": 9}});
    assert_eq!(named.json(), cut);

    // Listed upstream first, as Toxiproxy's chains are.
    let list = call(at, "GET", "/proxies/p/toxics", None).await;
    assert_eq!(list.json(), json!([cut, latency]));
    assert_eq!(
        call(at, "GET", "/proxies/p", None).await.json()["toxics"],
        json!([cut, latency])
    );
    assert_eq!(
        call(at, "GET", "/proxies/p/toxics/cut", None).await.json(),
        cut
    );

    // An update changes the attributes given and the toxicity, nothing else.
    let updated = call(
        at,
        "POST",
        "/proxies/p/toxics/latency_downstream",
        Some(r#"{"attributes": {"jitter": 4}, "type": "bandwidth", "stream": "upstream"}"#),
    )
    .await;
    assert_eq!(updated.status, 200, "{updated:?}");
    assert_eq!(
        updated.json()["attributes"],
        json!({"latency": 30, "jitter": 4})
    );
    assert_eq!(updated.json()["type"], "latency");
    let patched = call(
        at,
        "PATCH",
        "/proxies/p/toxics/cut",
        Some(r#"{"toxicity": 0.25}"#),
    )
    .await;
    assert_eq!(patched.json()["toxicity"], 0.25);
    assert_eq!(patched.json()["attributes"], json!({"bytes": 9}));

    // The errors.
    call(
        at,
        "POST",
        "/proxies/p/toxics",
        Some(r#"{"type": "latency"}"#),
    )
    .await
    .assert_error(409, "toxic already exists");
    call(
        at,
        "POST",
        "/proxies/p/toxics",
        Some(r#"{"type": "earthquake"}"#),
    )
    .await
    .assert_error(400, "invalid toxic type");
    call(
        at,
        "POST",
        "/proxies/p/toxics",
        Some(r#"{"attributes": {}}"#),
    )
    .await
    .assert_error(400, "invalid toxic type");
    call(
        at,
        "POST",
        "/proxies/p/toxics",
        Some(r#"{"type": "latency", "stream": "sideways"}"#),
    )
    .await
    .assert_error(
        400,
        "stream was invalid, can be either upstream or downstream",
    );
    for body in [
        "{",
        "[]",
        r#"{"type": "latency", "name": "x", "attributes": {"latency": -5}}"#,
    ] {
        let answer = call(at, "POST", "/proxies/p/toxics", Some(body)).await;
        assert_eq!(answer.status, 400, "{body}: {answer:?}");
        assert!(
            answer.json()["error"]
                .as_str()
                .unwrap()
                .starts_with("bad request body: "),
            "{answer:?}"
        );
    }
    call(at, "GET", "/proxies/p/toxics/nope", None)
        .await
        .assert_error(404, "toxic not found");
    call(at, "POST", "/proxies/p/toxics/nope", Some("{}"))
        .await
        .assert_error(404, "toxic not found");
    call(at, "DELETE", "/proxies/p/toxics/nope", None)
        .await
        .assert_error(404, "toxic not found");

    let deleted = call(at, "DELETE", "/proxies/p/toxics/cut", None).await;
    assert_eq!((deleted.status, deleted.body.as_str()), (204, ""));
    assert_eq!(
        call(at, "GET", "/proxies/p/toxics", None).await.json(),
        json!([latency_with_jitter()])
    );
    api.stop().await;
}

fn latency_with_jitter() -> Value {
    json!({"name": "latency_downstream", "type": "latency", "stream": "downstream",
           "toxicity": 1.0, "attributes": {"latency": 30, "jitter": 4}})
}

#[tokio::test]
async fn a_latency_toxic_added_through_the_api_delays_real_traffic() {
    let _timing = timing().await;
    let echo = echo_server().await;
    let api = api_over(ProxyRegistry::new()).await;
    let at = api.local_addr();
    let listen = create(at, "slow", echo.address).await;
    let mut client = connect(&listen).await;
    let before = round_trip(&mut client, b"fast").await;
    assert!(
        before < Duration::from_millis(60),
        "no toxic yet: {before:?}"
    );

    let added = call(
        at,
        "POST",
        "/proxies/slow/toxics",
        Some(r#"{"type": "latency", "attributes": {"latency": 60}}"#),
    )
    .await;
    assert_eq!(added.status, 200, "{added:?}");
    // On the live connection and on a new one.
    for stream in [&mut client, &mut connect(&listen).await] {
        let took = round_trip(stream, b"slow").await;
        assert!(took >= Duration::from_millis(60), "{took:?}");
    }
    let removed = call(
        at,
        "DELETE",
        "/proxies/slow/toxics/latency_downstream",
        None,
    )
    .await;
    assert_eq!(removed.status, 204);
    let after = round_trip(&mut client, b"fast again").await;
    assert!(after < Duration::from_millis(60), "{after:?}");
    api.stop().await;
}

#[tokio::test]
async fn a_toxicity_outside_zero_to_one_is_taken_as_toxiproxy_takes_it() {
    // Toxiproxy's `rand.Float32() < toxicity`: below 0 never applies, above 1 always.
    let echo = echo_server().await;
    let api = api_over(ProxyRegistry::new()).await;
    let at = api.local_addr();
    let listen = create(at, "p", echo.address).await;
    let added = call(
        at,
        "POST",
        "/proxies/p/toxics",
        Some(r#"{"type": "limit_data", "toxicity": -1, "attributes": {"bytes": 1}}"#),
    )
    .await;
    assert_eq!(added.status, 200, "{added:?}");
    assert_eq!(added.json()["toxicity"], json!(-1.0));
    for _ in 0..5 {
        round_trip(&mut connect(&listen).await, b"never cut").await;
    }
    let updated = call(
        at,
        "PATCH",
        "/proxies/p/toxics/limit_data_downstream",
        Some(r#"{"toxicity": 7}"#),
    )
    .await;
    assert_eq!(updated.status, 200, "{updated:?}");
    assert_eq!(updated.json()["toxicity"], json!(7.0));
    for _ in 0..5 {
        let mut client = connect(&listen).await;
        client.write_all(b"always cut").await.unwrap();
        let mut back = Vec::new();
        timeout(PATIENCE, client.read_to_end(&mut back))
            .await
            .expect("the proxy closes")
            .unwrap();
        assert_eq!(back, b"a");
    }
    api.stop().await;
}

#[tokio::test]
async fn a_toxic_is_named_by_default_with_its_stream_as_given() {
    // Toxiproxy's `fmt.Sprintf("%s_%s", wrapper.Type, wrapper.Stream)`, before it
    // reads the stream whatever its case.
    let echo = echo_server().await;
    let api = api_over(ProxyRegistry::new()).await;
    let at = api.local_addr();
    create(at, "p", echo.address).await;
    let added = call(
        at,
        "POST",
        "/proxies/p/toxics",
        Some(r#"{"type": "latency", "stream": "UpStream"}"#),
    )
    .await;
    assert_eq!(added.status, 200, "{added:?}");
    assert_eq!(added.json()["name"], "latency_UpStream");
    let shown = call(at, "GET", "/proxies/p/toxics/latency_UpStream", None).await;
    assert_eq!(shown.status, 200, "{shown:?}");
    assert_eq!(shown.json()["stream"], "upstream");
    api.stop().await;
}

#[tokio::test]
async fn a_noop_toxic_is_taken_and_lets_the_data_pass() {
    let echo = echo_server().await;
    let api = api_over(ProxyRegistry::new()).await;
    let at = api.local_addr();
    let listen = create(at, "p", echo.address).await;
    let added = call(
        at,
        "POST",
        "/proxies/p/toxics",
        Some(r#"{"type": "noop", "stream": "upstream"}"#),
    )
    .await;
    assert_eq!(added.status, 200, "{added:?}");
    assert_eq!(
        added.json(),
        json!({"name": "noop_upstream", "type": "noop", "stream": "upstream",
               "toxicity": 1.0, "attributes": {}})
    );
    round_trip(&mut connect(&listen).await, b"as it came").await;
    api.stop().await;
}

#[tokio::test]
async fn update_disables_enables_and_moves_a_proxy() {
    let echo = echo_server().await;
    let other = echo_server().await;
    let api = api_over(ProxyRegistry::new()).await;
    let at = api.local_addr();
    let listen = create(at, "p", echo.address).await;

    let off = call(at, "POST", "/proxies/p", Some(r#"{"enabled": false}"#)).await;
    assert_eq!(off.json()["enabled"], false);
    assert!(refused(&listen).await);
    let on = call(at, "POST", "/proxies/p", Some(r#"{"enabled": true}"#)).await;
    assert_eq!(
        on.json()["listen"],
        listen.as_str(),
        "the same address again"
    );
    round_trip(&mut connect(&listen).await, b"on").await;

    // A new upstream and listen: the proxy moves.
    let moved = call(
        at,
        "POST",
        "/proxies/p",
        Some(&json!({"listen": "127.0.0.1:0", "upstream": other.address.to_string()}).to_string()),
    )
    .await;
    assert_eq!(moved.status, 200, "{moved:?}");
    let view = moved.json();
    assert_eq!(view["upstream"], other.address.to_string());
    assert_eq!(view["enabled"], true);
    let new_listen = view["listen"].as_str().unwrap().to_owned();
    assert_ne!(new_listen, listen);
    round_trip(&mut connect(&new_listen).await, b"moved").await;
    assert!(refused(&listen).await, "the old address is closed");
    api.stop().await;
}

#[tokio::test]
async fn populate_creates_or_replaces_by_name_and_reset_clears_all() {
    let echo = echo_server().await;
    let other = echo_server().await;
    let api = api_over(ProxyRegistry::new()).await;
    let at = api.local_addr();
    let kept = create(at, "kept", echo.address).await;
    call(
        at,
        "POST",
        "/proxies/kept/toxics",
        Some(r#"{"type": "timeout"}"#),
    )
    .await;

    let body = json!([
        {"name": "kept", "listen": kept, "upstream": echo.address.to_string()},
        {"name": "fresh", "listen": "127.0.0.1:0", "upstream": other.address.to_string(), "enabled": false},
    ]);
    let answer = call(at, "POST", "/populate", Some(&body.to_string())).await;
    assert_eq!(
        (answer.status, answer.content_type.as_str()),
        (201, "application/json"),
        "{answer:?}"
    );
    let populated = answer.json();
    let proxies = populated["proxies"].as_array().unwrap();
    assert_eq!(proxies.len(), 2, "{populated}");
    assert_eq!(proxies[0]["name"], "kept");
    assert_eq!(
        proxies[0]["toxics"].as_array().unwrap().len(),
        1,
        "unchanged: kept as it was"
    );
    assert_eq!(proxies[1]["name"], "fresh");
    assert_eq!(proxies[1]["enabled"], false);

    // A changed upstream replaces it.
    let replace = json!([{"name": "kept", "listen": kept, "upstream": other.address.to_string()}]);
    let answer = call(at, "POST", "/populate", Some(&replace.to_string())).await;
    assert_eq!(answer.status, 201, "{answer:?}");
    assert_eq!(
        answer.json()["proxies"][0]["upstream"],
        other.address.to_string()
    );
    assert_eq!(answer.json()["proxies"][0]["toxics"], json!([]));

    // Errors name the proxy, and keep Toxiproxy's body: error, status, proxies.
    let missing = call(
        at,
        "POST",
        "/populate",
        Some(r#"[{"name": "x", "upstream": "127.0.0.1:1"}, {"name": "y"}]"#),
    )
    .await;
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.json(),
        json!({"error": "missing required field: upstream at proxy 2", "status": 400, "proxies": null})
    );
    let bad = call(at, "POST", "/populate", Some(r#"{"name": "x"}"#)).await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("bad request body: ")
    );
    assert_eq!(
        call(at, "POST", "/populate", Some("[]")).await.json(),
        json!({"proxies": null})
    );

    // Reset: every toxic gone, every proxy enabled.
    call(
        at,
        "POST",
        "/proxies/kept/toxics",
        Some(r#"{"type": "latency"}"#),
    )
    .await;
    let reset = call(at, "POST", "/reset", None).await;
    assert_eq!((reset.status, reset.body.as_str()), (204, ""));
    let all = call(at, "GET", "/proxies", None).await.json();
    for name in ["kept", "fresh"] {
        assert_eq!(all[name]["enabled"], true, "{all}");
        assert_eq!(all[name]["toxics"], json!([]), "{all}");
    }

    // Delete: 204, its address closed, then 404.
    let fresh = all["fresh"]["listen"].as_str().unwrap().to_owned();
    round_trip(&mut connect(&fresh).await, b"fresh").await;
    let deleted = call(at, "DELETE", "/proxies/fresh", None).await;
    assert_eq!((deleted.status, deleted.body.as_str()), (204, ""));
    assert!(refused(&fresh).await);
    call(at, "GET", "/proxies/fresh", None)
        .await
        .assert_error(404, "proxy not found");
    api.stop().await;
}

#[tokio::test]
async fn the_api_refuses_an_address_it_cannot_listen_on() {
    let api = api_over(ProxyRegistry::new()).await;
    let error = ToxiproxyApi::serve(api.local_addr(), ProxyRegistry::new())
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains(&api.local_addr().to_string()),
        "{error}"
    );
    api.stop().await;
}

#[test]
fn a_toxic_the_driver_refuses_fails_the_build_naming_driver_field_and_value() {
    let cases = [
        (Toxic::timeout(0).toxicity(1.5), "toxicity", "1.5"),
        (Toxic::slicer(10, 20, 0), "size_variation", "20"),
    ];
    for (toxic, field, value) in cases {
        let error = Environment::builder("refused")
            .driver(
                FaultProxy::new(
                    "proxy",
                    Endpoint::from("127.0.0.1:9".parse::<SocketAddr>().unwrap()),
                )
                .toxic(toxic),
            )
            .build()
            .unwrap_err();
        let testrig::BuildError::InvalidDriver { driver, reason, .. } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(driver, "proxy");
        assert!(reason.contains(&format!("{field} = {value}")), "{reason}");
    }
    let duplicate = Environment::builder("refused")
        .driver(
            FaultProxy::new("proxy", 9)
                .toxic(Toxic::latency(1, 0))
                .toxic(Toxic::latency(2, 0)),
        )
        .build()
        .unwrap_err();
    assert!(
        duplicate
            .to_string()
            .contains("a toxic named `latency_downstream` already exists"),
        "{duplicate}"
    );
}

#[tokio::test]
async fn the_counters_add_up_over_runs_and_show_in_the_report() {
    let echo = echo_server().await;
    let env = Environment::builder("counted")
        .driver(FaultProxy::new("proxy", echo.address).toxic(Toxic::latency(0, 0).named("zero")))
        .build()
        .unwrap();
    env.start().await.unwrap();
    let proxy = env.get::<FaultProxy>("proxy").unwrap();
    let address = proxy.local_addr().unwrap().to_string();
    round_trip(&mut connect(&address).await, b"12345").await;
    assert!(
        proxy
            .wait_open_connections(|open| open == 0, PATIENCE)
            .await
    );
    env.resource("proxy").unwrap().restart().await.unwrap();
    round_trip(&mut connect(&address).await, b"678").await;
    assert!(
        proxy
            .wait_open_connections(|open| open == 0, PATIENCE)
            .await
    );
    env.stop().await.unwrap();

    let counters = proxy.counters();
    assert_eq!(counters.connections_opened, 2, "{counters:?}");
    assert_eq!(counters.connections_closed, 2, "{counters:?}");
    assert_eq!((counters.bytes_upstream, counters.bytes_downstream), (8, 8));
    assert_eq!(
        counters.toxics_applied, 2,
        "the downstream toxic, once per connection: {counters:?}"
    );
    let report = env.report();
    let json = serde_json::to_value(&report).unwrap();
    let reported = &json["drivers"][0]["counters"];
    assert_eq!(reported["connections_opened"], 2, "{reported}");
    assert_eq!(reported["bytes_downstream"], 8, "{reported}");
    assert_eq!(reported["toxics_applied"], 2, "{reported}");
}

#[tokio::test]
async fn bytes_that_are_not_http_close_that_connection_and_the_api_goes_on() {
    let api = api_over(ProxyRegistry::new()).await;
    let mut raw = TcpStream::connect(api.local_addr()).await.unwrap();
    raw.write_all(b"\x16\x03\x01 not http at all\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    timeout(PATIENCE, raw.read_to_end(&mut answer))
        .await
        .expect("the API closes the connection")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );
    let version = call(api.local_addr(), "GET", "/version", None).await;
    assert_eq!(version.status, 200);
    api.stop().await;
}

#[tokio::test]
async fn a_stopped_drivers_proxy_is_not_started_through_the_api() {
    let echo = echo_server().await;
    let env = Environment::builder("stopped")
        .driver(FaultProxy::new("db", echo.address))
        .build()
        .unwrap();
    env.start().await.unwrap();
    let proxy = env.get::<FaultProxy>("db").unwrap();
    let address = proxy.local_addr().unwrap().to_string();
    let api = api_over(ProxyRegistry::of_environment(&env)).await;
    env.stop().await.unwrap();

    let shown = call(api.local_addr(), "GET", "/proxies/db", None).await;
    assert_eq!(shown.json()["enabled"], false, "{shown:?}");
    let enable = call(
        api.local_addr(),
        "POST",
        "/proxies/db",
        Some(r#"{"enabled": true}"#),
    )
    .await;
    assert_eq!(enable.status, 500, "{enable:?}");
    assert!(
        enable.json()["error"]
            .as_str()
            .unwrap()
            .contains("not started"),
        "{enable:?}"
    );
    let reset = call(api.local_addr(), "POST", "/reset", None).await;
    assert_eq!(reset.status, 204, "{reset:?}");
    assert!(
        refused(&address).await,
        "the environment stopped it; it stays stopped"
    );
    assert!(proxy.local_addr().is_none());
    api.stop().await;
}
