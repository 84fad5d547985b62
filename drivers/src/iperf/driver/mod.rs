//! The iperf drivers: [`IperfServer`] and [`IperfClient`] with the core lifecycle, each
//! running on the engine it is given ([`Engine::Native`] by default).

mod client;
mod engine;
mod native_served;
mod program;
mod server;

use super::client_options::ClientOptions;
pub use client::IperfClient;
pub use engine::Engine;
pub use server::IperfServer;
