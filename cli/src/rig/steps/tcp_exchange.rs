use std::net::SocketAddr;
use std::ops::Range;
use std::time::{Duration, Instant};

use serde::Deserialize;
use testrig::{BoxError, Environment, ValueTable};
use testrig_drivers::fault_proxy::FaultProxy;
use testrig_drivers::tcp::{TcpClient, TcpError, TcpServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use toml::Spanned;

use super::{StepCheck, StepKind, StepRun};
use crate::progress::Notes;
use crate::rig::Problem;
use crate::rig::fields::{RigDuration, TemplateText};

/// Each receive's deadline when the step sets no `timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// `kind = "tcp_exchange"`: the client sends `send`; the server must receive
/// `expect` (default: `send`); then, if there is a `reply`, the server sends it
/// and the client must receive `expect_reply` (default: `reply`). Each receive
/// has the `timeout` (default 5 s). Texts may hold `${driver.key}` references.
///
/// The server's side is the connection whose peer is the client's socket, so a
/// reconnecting client is followed across restarts.
///
/// ```toml
/// [[step]]
/// kind = "tcp_exchange"
/// client = "client"
/// server = "server"
/// send = "ping\n"
/// reply = "pong\n"
/// timeout = "2s"
/// ```
///
/// With `min_round_trip` (a `reply` is needed, or `expect_reply` with `connect`),
/// the time from the send to the whole reply must be at least that: a latency
/// toxic on a `fault_proxy` between them is seen to act.
///
/// Or, to talk to a server testrig did not start (an `app`'s exported port, anything
/// listening): `connect` to an address instead of `client` and `server`; the step
/// connects, sends `send`, and the `expect_reply` bytes must come back.
///
/// ```toml
/// [[step]]
/// kind = "tcp_exchange"
/// connect = "127.0.0.1:${echo.port}"
/// send = "ping\n"
/// expect_reply = "ping\n"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TcpExchange {
    client: Option<Spanned<String>>,
    server: Option<Spanned<String>>,
    /// `host:port` to connect to, instead of a client and a server driver.
    connect: Option<Spanned<TemplateText>>,
    send: Spanned<TemplateText>,
    expect: Option<Spanned<TemplateText>>,
    reply: Option<Spanned<TemplateText>>,
    expect_reply: Option<Spanned<TemplateText>>,
    timeout: Option<RigDuration>,
    /// The least time the round trip (send to the whole reply) may take.
    min_round_trip: Option<Spanned<RigDuration>>,
}

/// Bytes that arrived but are not the ones expected.
#[derive(Debug, thiserror::Error)]
#[error("{receiver} expected {expected:?} but received {received:?}")]
struct Mismatch {
    receiver: String,
    expected: String,
    received: String,
}

impl TcpExchange {
    pub(crate) fn check(&self, table: Range<usize>, check: &StepCheck) -> Result<(), Problem> {
        match (&self.connect, &self.client, &self.server) {
            (Some(connect), None, None) => {
                check.text(connect)?;
                let server_side = [("expect", &self.expect), ("reply", &self.reply)];
                if let Some((key, Some(text))) = server_side.iter().find(|(_, t)| t.is_some()) {
                    return Err(Problem::new(
                        text.span(),
                        format!(
                            "with `connect` no server driver checks what arrives or replies, \
                             so `{key}` means nothing: `expect_reply` is what must come back"
                        ),
                    ));
                }
            }
            (Some(connect), _, _) => {
                return Err(Problem::new(
                    connect.span(),
                    "`connect` talks to an address on its own: leave out `client` and `server`",
                ));
            }
            (None, Some(client), Some(server)) => {
                check.driver(client, &["tcp_client"])?;
                check.driver(server, &["tcp_server"])?;
            }
            (None, _, _) => {
                return Err(Problem::new(
                    table,
                    "a `tcp_exchange` step needs `client` and `server` (a `tcp_client` and a \
                     `tcp_server` driver) or `connect` (an address, e.g. \
                     \"127.0.0.1:${app.port}\")",
                ));
            }
        }
        let texts = [
            Some(&self.send),
            self.expect.as_ref(),
            self.reply.as_ref(),
            self.expect_reply.as_ref(),
        ];
        for text in texts.into_iter().flatten() {
            check.text(text)?;
        }
        if let (Some(min), None, None) = (&self.min_round_trip, &self.reply, &self.expect_reply) {
            return Err(Problem::new(
                min.span(),
                "`min_round_trip` times a reply: give a `reply` (or `expect_reply` with `connect`)",
            ));
        }
        if let (Some(expect_reply), None, None) = (&self.expect_reply, &self.reply, &self.connect) {
            return Err(Problem::new(
                expect_reply.span(),
                "`expect_reply` needs a `reply` for the server to send",
            ));
        }
        Ok(())
    }

    pub(crate) async fn run(&self, env: &Environment) -> Result<String, BoxError> {
        let timeout = self.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0);
        let (Some(client_name), Some(server_name)) = (&self.client, &self.server) else {
            return self.exchange_with_address(env, timeout).await;
        };
        let (client_name, server_name) = (client_name.get_ref(), server_name.get_ref());
        let client = env.get::<TcpClient>(client_name)?;
        let server = env.get::<TcpServer>(server_name)?;
        let values = env.values();
        let send = render(&self.send, values)?;
        let expect = self
            .expect
            .as_ref()
            .map_or(Ok(send.clone()), |t| render(t, values))?;

        client.when_connected(timeout).await?;
        let started = Instant::now();
        client.send(send.as_bytes()).await?;
        let local = client.local_addr().ok_or_else(|| TcpError::NotConnected {
            driver: client_name.clone(),
        })?;
        let peer = seen_by_server(env, local, timeout).await;
        let conn = connection_from(&server, peer, timeout).await?;
        let received = server.receive_exact(conn, expect.len(), timeout).await?;
        compare(format!("server `{server_name}`"), &expect, &received)?;

        let Some(reply) = &self.reply else {
            return Ok(format!("{} bytes to `{server_name}`", send.len()));
        };
        let reply = render(reply, values)?;
        let expect_reply = self
            .expect_reply
            .as_ref()
            .map_or(Ok(reply.clone()), |t| render(t, values))?;
        server.send(conn, reply.as_bytes()).await?;
        let received = client.receive_exact(expect_reply.len(), timeout).await?;
        compare(format!("client `{client_name}`"), &expect_reply, &received)?;
        let took = self.round_trip(started)?;
        Ok(format!(
            "{} bytes to `{server_name}`, {} bytes back{took}",
            send.len(),
            reply.len()
        ))
    }
}

impl TcpExchange {
    /// `connect`: the step's own connection to the address, `send`, then the
    /// `expect_reply` bytes back.
    async fn exchange_with_address(
        &self,
        env: &Environment,
        timeout: Duration,
    ) -> Result<String, BoxError> {
        let values = env.values();
        let connect = self.connect.as_ref().expect("checked: `connect` is set");
        let address = render(connect, values)?;
        let send = render(&self.send, values)?;
        let io_error = |what: &str, error: std::io::Error| -> BoxError {
            format!("{what} {address}: {error}").into()
        };
        let timed_out = |what: &str| -> BoxError {
            format!("{what} {address} timed out after {timeout:?}").into()
        };
        let mut stream = tokio::time::timeout(timeout, TcpStream::connect(address.as_str()))
            .await
            .map_err(|_| timed_out("connecting to"))?
            .map_err(|e| io_error("cannot connect to", e))?;
        let _ = stream.set_nodelay(true);
        let started = Instant::now();
        stream
            .write_all(send.as_bytes())
            .await
            .map_err(|e| io_error("cannot send to", e))?;
        let Some(expect_reply) = &self.expect_reply else {
            let _ = stream.shutdown().await;
            return Ok(format!("{} bytes to {address}", send.len()));
        };
        let expect_reply = render(expect_reply, values)?;
        let mut received = vec![0; expect_reply.len()];
        let read = tokio::time::timeout(timeout, stream.read_exact(&mut received)).await;
        match read {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(io_error("the reply did not arrive from", e)),
            Err(_) => return Err(timed_out("waiting for the reply from")),
        }
        compare(address.clone(), &expect_reply, &received)?;
        let took = self.round_trip(started)?;
        let _ = stream.shutdown().await;
        Ok(format!(
            "{} bytes to {address}, {} bytes back{took}",
            send.len(),
            expect_reply.len()
        ))
    }

    /// With `min_round_trip`: ", round trip T" when the time since `started` is at
    /// least that, an error when it is shorter; otherwise nothing.
    fn round_trip(&self, started: Instant) -> Result<String, BoxError> {
        let Some(min) = &self.min_round_trip else {
            return Ok(String::new());
        };
        let (took, min) = (started.elapsed(), min.get_ref().0);
        if took < min {
            return Err(format!(
                "the round trip took {took:.1?}, less than min_round_trip {min:?}"
            )
            .into());
        }
        Ok(format!(", round trip {took:.1?}"))
    }
}

fn render(text: &Spanned<TemplateText>, values: &ValueTable) -> Result<String, BoxError> {
    Ok(text.get_ref().0.render(values)?)
}

fn compare(receiver: String, expected: &str, received: &[u8]) -> Result<(), Mismatch> {
    if received == expected.as_bytes() {
        return Ok(());
    }
    Err(Mismatch {
        receiver,
        expected: expected.to_owned(),
        received: String::from_utf8_lossy(received).into_owned(),
    })
}

/// The index of the server's connection whose peer is `peer`, waiting up to
/// `timeout` for the server to accept it.
/// The client's address as the server sees it: the client's own, or, when the
/// client talks through a `fault_proxy`, the proxy's end towards the server.
async fn seen_by_server(env: &Environment, client: SocketAddr, timeout: Duration) -> SocketAddr {
    for resource in env.resources() {
        if let Some(proxy) = resource.driver().downcast::<FaultProxy>()
            && let Some(upstream_side) = proxy.upstream_side_of(client, timeout).await
        {
            return upstream_side;
        }
    }
    client
}

async fn connection_from(
    server: &TcpServer,
    peer: SocketAddr,
    timeout: Duration,
) -> Result<usize, TcpError> {
    let now = tokio::time::Instant::now();
    // The loader bounds `timeout` to a year; a deadline never panics all the same.
    let deadline = now
        .checked_add(timeout)
        .unwrap_or_else(|| now + crate::rig::MAX_DURATION);
    loop {
        let known = server.connection_count();
        if let Some(index) = (0..known).find(|&i| server.peer_addr(i).is_ok_and(|p| p == peer)) {
            return Ok(index);
        }
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let index = server.accept_connection(remaining).await?;
        if server.peer_addr(index).is_ok_and(|p| p == peer) {
            return Ok(index);
        }
    }
}

impl StepKind for TcpExchange {
    fn check(&self, table: Range<usize>, check: &StepCheck) -> Result<(), Problem> {
        Self::check(self, table, check)
    }

    fn run<'a>(&'a self, env: &'a Environment, _notes: Notes) -> StepRun<'a> {
        Box::pin(Self::run(self, env))
    }
}
