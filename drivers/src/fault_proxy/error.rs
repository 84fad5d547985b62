use std::net::SocketAddr;

/// What went wrong in a fault proxy operation, naming the proxy.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FaultProxyError {
    /// The proxy is not started (toxics may still be added: they apply once it is).
    #[error("fault proxy `{proxy}` is not started")]
    NotStarted {
        /// The proxy.
        proxy: String,
    },
    /// A toxic of that name is already on the proxy (Toxiproxy's 409).
    #[error("fault proxy `{proxy}`: a toxic named `{toxic}` already exists")]
    ToxicExists {
        /// The proxy.
        proxy: String,
        /// The toxic's name.
        toxic: String,
    },
    /// No toxic of that name is on the proxy (Toxiproxy's 404).
    #[error("fault proxy `{proxy}`: no toxic named `{toxic}`")]
    ToxicNotFound {
        /// The proxy.
        proxy: String,
        /// The name asked for.
        toxic: String,
    },
    /// An update changes what cannot change: a toxic's type or stream.
    #[error(
        "fault proxy `{proxy}`: toxic `{toxic}` is a {was} toxic, it cannot become {now} (remove it and add a new one)"
    )]
    ToxicChanged {
        /// The proxy.
        proxy: String,
        /// The toxic.
        toxic: String,
        /// Its type and stream.
        was: String,
        /// The update's.
        now: String,
    },
    /// A toxic attribute is out of range.
    #[error(
        "fault proxy `{proxy}`: toxic `{toxic}`: {field} = {value} is invalid, expected {expected}"
    )]
    InvalidToxic {
        /// The proxy.
        proxy: String,
        /// The toxic.
        toxic: String,
        /// The attribute.
        field: &'static str,
        /// Its value.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// The listening address could not be bound (at start or at `enable`).
    #[error("fault proxy `{proxy}`: cannot listen on {address}")]
    Listen {
        /// The proxy.
        proxy: String,
        /// The address.
        address: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The listening or upstream host did not resolve.
    #[error("fault proxy `{proxy}`: cannot resolve {role} `{host}:{port}`")]
    Resolve {
        /// The proxy.
        proxy: String,
        /// `listen` or `upstream`.
        role: &'static str,
        /// The host.
        host: String,
        /// The port.
        port: u16,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The proxy was placed on a host of an emulated network: it runs on this machine only
    /// (for now), where it could not reach that network's addresses.
    #[error(
        "fault proxy `{proxy}`: host = `{host}`: a fault proxy runs on this machine only; place it on no host"
    )]
    OnHost {
        /// The proxy.
        proxy: String,
        /// The host it was placed on.
        host: String,
    },
    /// The Toxiproxy API could not listen on its address.
    #[error("Toxiproxy API: cannot listen on {address}")]
    ApiListen {
        /// The address.
        address: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
