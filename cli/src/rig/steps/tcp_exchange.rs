use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use testrig::{BoxError, Environment, ValueTable};
use testrig_drivers::tcp::{TcpClient, TcpError, TcpServer};
use toml::Spanned;

use super::StepCheck;
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
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TcpExchange {
    client: Spanned<String>,
    server: Spanned<String>,
    send: Spanned<TemplateText>,
    expect: Option<Spanned<TemplateText>>,
    reply: Option<Spanned<TemplateText>>,
    expect_reply: Option<Spanned<TemplateText>>,
    timeout: Option<RigDuration>,
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
    pub(crate) fn check(&self, check: &StepCheck) -> Result<(), Problem> {
        check.driver(&self.client, &["tcp_client"])?;
        check.driver(&self.server, &["tcp_server"])?;
        let texts = [
            Some(&self.send),
            self.expect.as_ref(),
            self.reply.as_ref(),
            self.expect_reply.as_ref(),
        ];
        for text in texts.into_iter().flatten() {
            check.text(text)?;
        }
        if let (Some(expect_reply), None) = (&self.expect_reply, &self.reply) {
            return Err(Problem::new(
                expect_reply.span(),
                "`expect_reply` needs a `reply` for the server to send",
            ));
        }
        Ok(())
    }

    pub(crate) async fn run(&self, env: &Environment) -> Result<String, BoxError> {
        let timeout = self.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0);
        let (client_name, server_name) = (self.client.get_ref(), self.server.get_ref());
        let client = env.get::<TcpClient>(client_name)?;
        let server = env.get::<TcpServer>(server_name)?;
        let values = env.values();
        let send = render(&self.send, values)?;
        let expect = self
            .expect
            .as_ref()
            .map_or(Ok(send.clone()), |t| render(t, values))?;

        client.when_connected(timeout).await?;
        client.send(send.as_bytes()).await?;
        let local = client.local_addr().ok_or_else(|| TcpError::NotConnected {
            driver: client_name.clone(),
        })?;
        let conn = connection_from(&server, local, timeout).await?;
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
        Ok(format!(
            "{} bytes to `{server_name}`, {} bytes back",
            send.len(),
            reply.len()
        ))
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
