//! Toxiproxy's routes (`api.go`), each answering as Toxiproxy does.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::{Method, StatusCode};
use serde::Serialize;

use super::super::slot::{ProxyRoute, ProxySlot};
use super::super::{FaultProxyError, Stream, Toxic};
use super::input::{self, ProxyInput};
use super::registry::{Member, Origin, ProxyRegistry};
use super::reply::{ApiError, Reply};

/// The Toxiproxy version whose API this serves, for `GET /version`.
pub(super) const TOXIPROXY_VERSION: &str = "2.12.0";

/// Where a proxy created without `listen` listens: loopback, a port from the kernel
/// (Toxiproxy would listen on every interface).
const DEFAULT_LISTEN: &str = "127.0.0.1:0";

/// A proxy as Toxiproxy shows it.
#[derive(Debug, Serialize)]
struct ProxyView {
    name: String,
    listen: String,
    upstream: String,
    enabled: bool,
    toxics: Vec<Toxic>,
}

/// The answer to `method` on `path` (already split off its query), given the
/// request's `body` (or why it could not be read); `browser`: the request came
/// from one (refused, on a route only: gorilla/mux runs Toxiproxy's middleware
/// for a matched route, not for its 404 and 405).
pub(super) async fn respond(
    registry: &ProxyRegistry,
    method: &Method,
    path: &str,
    body: Result<bytes::Bytes, String>,
    browser: bool,
) -> Reply {
    let Some(segments) = segments(path) else {
        return Reply::no_route();
    };
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    if browser && has_route(&segments, method) {
        return Reply::browser();
    }
    let update = method == Method::POST || method == Method::PATCH;
    let body = || body.clone().map_err(ApiError::bad_body);
    let outcome = match (segments.as_slice(), method) {
        (["version"], &Method::GET) => return Reply::version(TOXIPROXY_VERSION),
        (["reset"], &Method::POST) => reset(registry).await,
        (["proxies"], &Method::GET) => index(registry).await,
        (["proxies"], &Method::POST) => match body() {
            Ok(body) => create(registry, &body).await,
            Err(error) => Err(error),
        },
        (["populate"], &Method::POST) => return populate(registry, body()).await,
        (["proxies", proxy], &Method::GET) => show(registry, proxy).await,
        (["proxies", proxy], _) if update => match body() {
            Ok(body) => update_proxy(registry, proxy, &body).await,
            Err(error) => Err(error),
        },
        (["proxies", proxy], &Method::DELETE) => delete(registry, proxy).await,
        (["proxies", proxy, "toxics"], &Method::GET) => {
            found(registry, proxy).map(|m| Reply::json(StatusCode::OK, &toxics(&m.slot)))
        }
        (["proxies", proxy, "toxics"], &Method::POST) => match body() {
            Ok(body) => add_toxic(registry, proxy, &body),
            Err(error) => Err(error),
        },
        (["proxies", proxy, "toxics", toxic], &Method::GET) => {
            found(registry, proxy).and_then(|m| {
                let toxic = m
                    .slot
                    .toxics()
                    .get(toxic)
                    .ok_or_else(ApiError::toxic_not_found)?;
                Ok(Reply::json(StatusCode::OK, &toxic))
            })
        }
        (["proxies", proxy, "toxics", toxic], _) if update => match body() {
            Ok(body) => update_toxic(registry, proxy, toxic, &body),
            Err(error) => Err(error),
        },
        (["proxies", proxy, "toxics", toxic], &Method::DELETE) => found(registry, proxy)
            .and_then(|m| Ok(m.slot.toxics().remove(toxic)?))
            .map(|()| Reply::no_content()),
        (["version" | "reset" | "populate"], _)
        | (["proxies"], _)
        | (["proxies", _], _)
        | (["proxies", _, "toxics"], _)
        | (["proxies", _, "toxics", _], _) => return Reply::wrong_method(),
        _ => return Reply::no_route(),
    };
    outcome.unwrap_or_else(|error| error.reply())
}

/// Whether a route of Toxiproxy's takes `method` on this path.
fn has_route(segments: &[&str], method: &Method) -> bool {
    let update = method == Method::POST || method == Method::PATCH;
    match segments {
        ["version"] => method == Method::GET,
        ["reset" | "populate"] => method == Method::POST,
        ["proxies"] | ["proxies", _, "toxics"] => method == Method::GET || method == Method::POST,
        ["proxies", _] | ["proxies", _, "toxics", _] => {
            method == Method::GET || method == Method::DELETE || update
        }
        _ => false,
    }
}

/// The path's segments, percent-decoded; `None` for an empty one (gorilla/mux's
/// `{name}` matches one or more characters).
fn segments(path: &str) -> Option<Vec<String>> {
    let path = path.strip_prefix('/')?;
    path.split('/')
        .map(|segment| {
            let decoded = percent_decode(segment)?;
            (!decoded.is_empty()).then_some(decoded)
        })
        .collect()
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = std::str::from_utf8(bytes.get(at + 1..at + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn found(registry: &ProxyRegistry, name: &str) -> Result<Member, ApiError> {
    registry.get(name).ok_or_else(ApiError::proxy_not_found)
}

/// The toxics as Toxiproxy lists them: the upstream ones, then the downstream
/// ones, each in the order they were added.
fn toxics(slot: &ProxySlot) -> Vec<Toxic> {
    let mut toxics = slot.toxics().list();
    toxics.sort_by_key(|toxic| toxic.stream() == Stream::Downstream);
    toxics
}

async fn view(slot: &ProxySlot) -> ProxyView {
    let route = slot.route();
    ProxyView {
        name: slot.name().to_owned(),
        listen: route
            .as_ref()
            .map(|route| route.listen.to_string())
            .unwrap_or_default(),
        upstream: route.map(|route| route.upstream_text).unwrap_or_default(),
        enabled: slot.is_enabled().await,
        toxics: toxics(slot),
    }
}

async fn index(registry: &ProxyRegistry) -> Result<Reply, ApiError> {
    let mut proxies = serde_json::Map::new();
    for member in registry.all() {
        let view = view(&member.slot).await;
        let value = serde_json::to_value(view).map_err(|e| ApiError::internal(e.to_string()))?;
        proxies.insert(member.slot.name().to_owned(), value);
    }
    Ok(Reply::json(StatusCode::OK, &proxies))
}

async fn show(registry: &ProxyRegistry, name: &str) -> Result<Reply, ApiError> {
    let member = found(registry, name)?;
    Ok(Reply::json(StatusCode::OK, &view(&member.slot).await))
}

/// A `host:port` as Go's `net.Listen` and `net.Dial` take it; an empty host is
/// loopback here.
async fn resolve(text: &str, role: &str) -> Result<SocketAddr, ApiError> {
    let unresolved = |why: String| ApiError::internal(format!("{role} `{text}`: {why}"));
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| unresolved("missing port in address".into()))?;
    let port: u16 = port
        .parse()
        .map_err(|_| unresolved(format!("invalid port `{port}`")))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = if host.is_empty() { "127.0.0.1" } else { host };
    tokio::net::lookup_host((host, port))
        .await
        .map_err(|error| unresolved(error.to_string()))?
        .next()
        .ok_or_else(|| unresolved("no address".into()))
}

async fn route_of(listen: &str, upstream: &str) -> Result<ProxyRoute, ApiError> {
    Ok(ProxyRoute {
        listen: resolve(listen, "listen").await?,
        upstream: resolve(upstream, "upstream").await?,
        upstream_text: upstream.to_owned(),
    })
}

/// A new proxy of the API's from `input` (its name and upstream checked), started
/// when enabled.
async fn new_proxy(input: &ProxyInput, name: &str, upstream: &str) -> Result<Member, ApiError> {
    let listen = input.listen.as_deref().filter(|l| !l.is_empty());
    let route = route_of(listen.unwrap_or(DEFAULT_LISTEN), upstream).await?;
    let slot = Arc::new(ProxySlot::on_demand(name));
    slot.reroute(route, input.enabled.unwrap_or(true)).await?;
    Ok(Member {
        slot,
        origin: Origin::Api,
    })
}

fn required<'a>(value: &'a Option<String>, field: &str) -> Result<&'a str, ApiError> {
    value
        .as_deref()
        .filter(|value| !value.is_empty())
        .ok_or_else(|| ApiError::missing(field))
}

async fn create(registry: &ProxyRegistry, body: &[u8]) -> Result<Reply, ApiError> {
    let input = input::proxy(body)?;
    let name = required(&input.name, "name")?;
    let upstream = required(&input.upstream, "upstream")?;
    let _changes = registry.lock_changes().await;
    if registry.get(name).is_some() {
        return Err(ApiError::proxy_exists());
    }
    let member = new_proxy(&input, name, upstream).await?;
    let reply = Reply::json(StatusCode::CREATED, &view(&member.slot).await);
    registry.insert(member);
    Ok(reply)
}

/// `POST /populate`: creates each proxy, or replaces the one of its name when it
/// differs (listen or upstream); `{"proxies": [...]}` and 201, or the error, its
/// status and the proxies done before it.
async fn populate(registry: &ProxyRegistry, body: Result<bytes::Bytes, ApiError>) -> Reply {
    #[derive(Serialize)]
    struct Populated {
        #[serde(flatten, skip_serializing_if = "Option::is_none")]
        error: Option<ApiError>,
        /// `null` when none, as Go marshals an empty slice it never allocated.
        proxies: Option<Vec<ProxyView>>,
    }
    let mut done = Vec::new();
    let error = populate_each(registry, body, &mut done).await.err();
    let mut proxies = Vec::new();
    for slot in &done {
        proxies.push(view(slot).await);
    }
    let status = error.as_ref().map_or(StatusCode::CREATED, ApiError::status);
    let populated = Populated {
        error,
        proxies: (!proxies.is_empty()).then_some(proxies),
    };
    Reply::json(status, &populated)
}

async fn populate_each(
    registry: &ProxyRegistry,
    body: Result<bytes::Bytes, ApiError>,
    done: &mut Vec<Arc<ProxySlot>>,
) -> Result<(), ApiError> {
    let inputs = input::proxies(&body?)?;
    for (at, input) in inputs.iter().enumerate() {
        required(&input.name, &format!("name at proxy {}", at + 1))?;
        required(&input.upstream, &format!("upstream at proxy {}", at + 1))?;
    }
    let _changes = registry.lock_changes().await;
    for input in &inputs {
        let (name, upstream) = (
            required(&input.name, "name")?,
            required(&input.upstream, "upstream")?,
        );
        if let Some(existing) = registry.get(name) {
            let listen = input.listen.as_deref().filter(|l| !l.is_empty());
            let wanted = route_of(listen.unwrap_or(DEFAULT_LISTEN), upstream).await?;
            if !differs(existing.slot.route().as_ref(), &wanted) {
                done.push(existing.slot);
                continue;
            }
            close(&existing).await;
        }
        let member = new_proxy(input, name, upstream).await?;
        done.push(Arc::clone(&member.slot));
        registry.insert(member);
    }
    Ok(())
}

/// Toxiproxy's `Differs`: another listen address or another upstream text.
fn differs(current: Option<&ProxyRoute>, wanted: &ProxyRoute) -> bool {
    current.is_none_or(|current| {
        current.listen != wanted.listen || current.upstream_text != wanted.upstream_text
    })
}

/// Stops a proxy leaving the registry: the API's own is stopped; a driver's is
/// disabled (its environment stops it).
async fn close(member: &Member) {
    match member.origin {
        Origin::Api => member.slot.stop().await,
        Origin::Driver => {
            let _ = member.slot.set_enabled(false).await;
        }
    }
}

async fn update_proxy(
    registry: &ProxyRegistry,
    name: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let member = found(registry, name)?;
    let slot = &member.slot;
    let input = input::proxy(body)?;
    let current = slot.route();
    let enabled = match input.enabled {
        Some(enabled) => enabled,
        None => slot.is_enabled().await,
    };
    let listen = input
        .listen
        .or_else(|| current.as_ref().map(|route| route.listen.to_string()));
    let upstream = input
        .upstream
        .or_else(|| current.as_ref().map(|route| route.upstream_text.clone()));
    match (listen, upstream) {
        (Some(listen), Some(upstream)) => {
            let wanted = route_of(&listen, &upstream).await?;
            if differs(current.as_ref(), &wanted) {
                slot.reroute(wanted, enabled).await?;
            } else if enabled != slot.is_enabled().await {
                slot.set_enabled(enabled).await?;
            }
        }
        // A driver's proxy not started yet and no route given.
        _ => slot.set_enabled(enabled).await?,
    }
    Ok(Reply::json(StatusCode::OK, &view(slot).await))
}

async fn delete(registry: &ProxyRegistry, name: &str) -> Result<Reply, ApiError> {
    let _changes = registry.lock_changes().await;
    let member = registry
        .remove(name)
        .ok_or_else(ApiError::proxy_not_found)?;
    close(&member).await;
    Ok(Reply::no_content())
}

/// `POST /reset`: every proxy enabled, every toxic removed.
async fn reset(registry: &ProxyRegistry) -> Result<Reply, ApiError> {
    for member in registry.all() {
        match member.slot.set_enabled(true).await {
            // A driver's proxy whose environment has not started it yet.
            Ok(()) | Err(FaultProxyError::NotStarted { .. }) => {}
            Err(error) => return Err(error.into()),
        }
        member.slot.toxics().clear();
    }
    Ok(Reply::no_content())
}

fn add_toxic(registry: &ProxyRegistry, proxy: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let member = found(registry, proxy)?;
    let input = input::new_toxic(body)?;
    if member.slot.toxics().get(&input.name).is_some() {
        return Err(ApiError::toxic_exists());
    }
    let toxic = member.slot.toxics().add_any_toxicity(input.toxic()?)?;
    Ok(Reply::json(StatusCode::OK, &toxic))
}

fn update_toxic(
    registry: &ProxyRegistry,
    proxy: &str,
    name: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let member = found(registry, proxy)?;
    let existing = member
        .slot
        .toxics()
        .get(name)
        .ok_or_else(ApiError::toxic_not_found)?;
    let toxic = member
        .slot
        .toxics()
        .update_any_toxicity(input::updated_toxic(&existing, body)?)?;
    Ok(Reply::json(StatusCode::OK, &toxic))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_decoded_and_never_empty() {
        assert_eq!(
            segments("/proxies/slow%20link/toxics"),
            Some(vec!["proxies".into(), "slow link".into(), "toxics".into()])
        );
        assert_eq!(segments("/proxies/"), None);
        assert_eq!(segments("/proxies//toxics"), None);
        assert_eq!(segments("/proxies/%zz"), None);
    }
}
