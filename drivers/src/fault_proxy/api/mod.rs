//! Toxiproxy's HTTP API (Shopify/toxiproxy 2.x, `api.go`) over a set of proxies, so
//! the Toxiproxy clients of any language drive the proxies of a running test.

mod input;
mod registry;
mod reply;
mod routes;
mod server;

pub use registry::ProxyRegistry;
pub use server::ToxiproxyApi;
