use std::io;
use std::net::Shutdown;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use super::link::{Ending, EventLog, Link};
use super::pump::Direction;
use super::table::ToxicTable;
use super::{ConnectionState, ProxyEvent, Stream};

/// How long the proxy waits for the upstream to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a connection goes and what it reports to.
pub(crate) struct Route<'a> {
    pub(crate) upstream: SocketAddr,
    pub(crate) toxics: &'a ToxicTable,
    pub(crate) events: &'a EventLog,
}

/// Carries one accepted client to the upstream and back until either side or the
/// proxy ends it, then closes both sockets as the ending says.
pub(crate) async fn serve(route: Route<'_>, link: &Link, client: TcpStream) {
    let _ = client.set_nodelay(true);
    let upstream = tokio::select! {
        biased;
        () = link.end.cancelled() => None,
        connected = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(route.upstream)) => {
            match connected {
                Ok(Ok(stream)) => Some(stream),
                Ok(Err(error)) => {
                    upstream_failed(&route, link, error.to_string());
                    None
                }
                Err(_) => {
                    upstream_failed(&route, link, format!("no answer within {CONNECT_TIMEOUT:?}"));
                    None
                }
            }
        }
    };
    let ending = match upstream {
        Some(server) => {
            let _ = server.set_nodelay(true);
            let local = server.local_addr().ok();
            link.opened(local);
            if let Some(local) = local {
                route.events.push(ProxyEvent::UpstreamConnected {
                    connection: link.id,
                    local,
                });
            }
            let direction = |stream, src, dst| Direction {
                stream,
                src,
                dst,
                link,
                events: route.events,
                toxics: route.toxics.subscribe(),
            };
            tokio::join!(
                direction(Stream::Upstream, &client, &server).run(),
                direction(Stream::Downstream, &server, &client).run(),
            );
            let ending = link.ending().unwrap_or(Ending::Close);
            close(&server, ending);
            ending
        }
        None => Ending::Close,
    };
    close(&client, ending);
    let state = match (ending, upstream_state(link)) {
        (_, ConnectionState::UpstreamFailed) => ConnectionState::UpstreamFailed,
        (Ending::Reset, _) => ConnectionState::Reset,
        (Ending::Close, _) => ConnectionState::Closed,
    };
    link.set_state(state);
    match state {
        ConnectionState::Reset => route.events.push(ProxyEvent::Reset {
            connection: link.id,
        }),
        ConnectionState::Closed => route.events.push(ProxyEvent::Closed {
            connection: link.id,
        }),
        _ => {}
    }
}

fn upstream_state(link: &Link) -> ConnectionState {
    link.stats(None).state
}

fn upstream_failed(route: &Route<'_>, link: &Link, error: String) {
    link.set_state(ConnectionState::UpstreamFailed);
    route.events.push(ProxyEvent::UpstreamFailed {
        connection: link.id,
        error,
    });
}

/// Prepares `stream` to be closed `ending`'s way when it is dropped: a reset
/// drops what is unsent (`SO_LINGER` 0: RST); a close sends a FIN, after taking
/// what the peer sent and nobody read, which would otherwise turn it into a RST.
fn close(stream: &TcpStream, ending: Ending) {
    let socket = socket2::SockRef::from(stream);
    match ending {
        Ending::Reset => {
            let _ = socket.set_linger(Some(Duration::ZERO));
        }
        Ending::Close => {
            let _ = socket.shutdown(Shutdown::Write);
            let mut sink = [0u8; 16 * 1024];
            loop {
                match stream.try_read(&mut sink) {
                    Ok(n) if n > 0 => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    _ => break,
                }
            }
        }
    }
}
