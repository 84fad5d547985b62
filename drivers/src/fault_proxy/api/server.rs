use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::USER_AGENT;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::super::FaultProxyError;
use super::registry::ProxyRegistry;
use super::routes;

/// How long a client has to send a request's head (Toxiproxy's read timeout).
const READ_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest request body read (a `populate` of some thousand proxies).
const MAX_BODY: usize = 1 << 20;
/// How long `stop` lets requests in progress finish.
const STOP_WAIT: Duration = Duration::from_secs(5);
/// The wait after `accept` fails (out of descriptors), before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

/// Toxiproxy's HTTP API (version 2, as `toxiproxy-server` serves it on port 8474)
/// over the proxies of a [`ProxyRegistry`], so an existing Toxiproxy client (Go,
/// Python, Ruby, Node…) drives them: list, create (real proxies, listening and
/// forwarding), update (`enabled`, `listen`, `upstream`), delete, `populate`,
/// `reset`, and each proxy's toxics.
///
/// HTTP/1.1, on the address given: bind it to loopback (the API changes what
/// the machine's links do; anyone who reaches it can). Requests from browsers are
/// refused, as Toxiproxy refuses them. The routes, bodies, status codes and error
/// texts are Toxiproxy's; `docs/fault-proxy.md` lists them and where this differs.
///
/// # Examples
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use testrig_drivers::fault_proxy::{FaultProxy, ProxyRegistry, ToxiproxyApi};
///
/// let proxy = FaultProxy::new("redis", "127.0.0.1:6379".parse::<std::net::SocketAddr>()?);
/// let api = ToxiproxyApi::serve("127.0.0.1:0".parse()?, ProxyRegistry::new().with(&proxy)).await?;
/// println!("toxiproxy API on http://{}", api.local_addr());
/// api.stop().await; // the proxies the API created stop with it
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ToxiproxyApi {
    local: SocketAddr,
    registry: ProxyRegistry,
    stop: CancellationToken,
    tracker: TaskTracker,
}

impl ToxiproxyApi {
    /// Listens on `address` (port 0: the kernel picks) and serves the API over
    /// `registry`'s proxies until [`stop`](Self::stop). Needs a tokio runtime.
    pub async fn serve(
        address: SocketAddr,
        registry: ProxyRegistry,
    ) -> Result<Self, FaultProxyError> {
        let listen_error = |source| FaultProxyError::ApiListen { address, source };
        let listener = TcpListener::bind(address).await.map_err(listen_error)?;
        let local = listener.local_addr().map_err(listen_error)?;
        let stop = CancellationToken::new();
        let tracker = TaskTracker::new();
        tracker.spawn(accept(
            listener,
            registry.clone(),
            stop.clone(),
            tracker.clone(),
        ));
        Ok(Self {
            local,
            registry,
            stop,
            tracker,
        })
    }

    /// The address it serves on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The proxies it serves.
    pub fn registry(&self) -> &ProxyRegistry {
        &self.registry
    }

    /// Closes the listener, lets the requests in progress finish (up to 5 s),
    /// then stops the proxies created through the API and takes them out of the
    /// registry. The drivers' proxies are left as they are.
    pub async fn stop(self) {
        self.stop.cancel();
        self.tracker.close();
        let _ = tokio::time::timeout(STOP_WAIT, self.tracker.wait()).await;
        for member in self.registry.take_created() {
            member.slot.stop().await;
        }
    }
}

impl Drop for ToxiproxyApi {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn accept(
    listener: TcpListener,
    registry: ProxyRegistry,
    stop: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            biased;
            () = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                tracker.spawn(connection(stream, registry.clone(), stop.clone()));
            }
            Err(_) => {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                }
            }
        }
    }
}

/// Serves one client's requests until it closes, or the API stops (the request in
/// progress is answered first).
async fn connection(stream: TcpStream, registry: ProxyRegistry, stop: CancellationToken) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |request| {
        let registry = registry.clone();
        async move { Ok::<_, Infallible>(handle(&registry, request).await) }
    });
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(served);
    tokio::select! {
        _ = served.as_mut() => {}
        () = stop.cancelled() => {
            served.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(STOP_WAIT, served).await;
        }
    }
}

async fn handle(registry: &ProxyRegistry, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let browser = parts
        .headers
        .get(USER_AGENT)
        .is_some_and(|agent| agent.as_bytes().starts_with(b"Mozilla/"));
    let body = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|error| error.to_string());
    routes::respond(registry, &parts.method, parts.uri.path(), body, browser)
        .await
        .into_response()
}
