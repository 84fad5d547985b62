//! Local port forwards through an SSH host's connection: [`Host::forward`](crate::Host::forward).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use openssh::ForwardType;

use super::SshHost;
use super::error::SshError;
use crate::Host;

/// How many free local ports a forward tries before it gives up (another program may take the
/// port between the look and the master's bind).
const ATTEMPTS: usize = 5;

/// How long a forward's request to the master may take.
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);

/// A local port forward through an SSH host's connection, made by
/// [`Host::forward`](crate::Host::forward): connections to [`local_addr`](Forward::local_addr)
/// reach [`remote_addr`](Forward::remote_addr) as the remote host sees it.
///
/// It lasts until [`close`](Forward::close) or the end of the host's connection. Dropping it
/// closes it too, in the background (no wait).
#[derive(Debug)]
#[must_use = "the forward is closed when dropped"]
pub struct Forward {
    host: String,
    control: PathBuf,
    local: SocketAddr,
    remote: SocketAddr,
    open: bool,
}

impl Forward {
    /// Where to connect: a loopback address where the connection is made from (this machine,
    /// or the emulated host the SSH host was connected [`via`](super::SshBuilder::via)).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Where the remote host connects each forwarded connection to.
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote
    }

    /// Closes the forward: the local port stops listening (connections already forwarded
    /// carry on until they end).
    ///
    /// # Errors
    /// [`SshError::Forward`] when the connection refuses (it ended, say).
    pub async fn close(mut self) -> Result<(), SshError> {
        self.open = false;
        let session = session(&self.control);
        let closing = session.close_port_forward(ForwardType::Local, self.local, self.remote);
        tokio::time::timeout(REQUEST_DEADLINE, closing)
            .await
            .map_err(|_| format!("no answer within {REQUEST_DEADLINE:?}"))
            .and_then(|closed| closed.map_err(|error| error.to_string()))
            .map_err(|said| SshError::Forward {
                host: self.host.clone(),
                remote: self.remote,
                said,
            })
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // the connection's end closes it
        };
        let (control, local, remote) = (self.control.clone(), self.local, self.remote);
        runtime.spawn(async move {
            let session = session(&control);
            let closing = session.close_port_forward(ForwardType::Local, local, remote);
            let _ = tokio::time::timeout(REQUEST_DEADLINE, closing).await;
        });
    }
}

/// A session on the master's control socket (it only borrows the master).
fn session(control: &std::path::Path) -> openssh::Session {
    openssh::Session::resume(control.to_path_buf().into_boxed_path(), None)
}

impl SshHost {
    /// Forwards a free loopback port where the connection is made from to `remote`; see
    /// [`Host::forward`](crate::Host::forward).
    pub(crate) async fn forward(&self, remote: SocketAddr) -> Result<Forward, SshError> {
        let failed = |said: String| SshError::Forward {
            host: self.name().to_owned(),
            remote,
            said,
        };
        let control = self.control.socket();
        let session = session(&control);
        let mut said = String::new();
        for _ in 0..ATTEMPTS {
            let local = free_port(self.via())
                .await
                .map_err(|error| failed(format!("no free local port: {error}")))?;
            let request = session.request_port_forward(ForwardType::Local, local, remote);
            match tokio::time::timeout(REQUEST_DEADLINE, request).await {
                Err(_) => return Err(failed(format!("no answer within {REQUEST_DEADLINE:?}"))),
                Ok(Ok(())) => {
                    return Ok(Forward {
                        host: self.name().to_owned(),
                        control,
                        local,
                        remote,
                        open: true,
                    });
                }
                // The port was taken meanwhile: another.
                Ok(Err(error)) => said = error.to_string(),
            }
            if self.master.state().has_exited() {
                break;
            }
        }
        Err(failed(said))
    }
}

/// A loopback port free on `host` now.
async fn free_port(host: &Host) -> std::io::Result<SocketAddr> {
    let probe = host
        .tcp_listener(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await?;
    probe.local_addr()
}
