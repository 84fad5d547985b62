//! The native engine: an iperf3-compatible client and server on tokio.

mod admission;
mod budget;
mod client;
mod counters;
mod cpu;
mod deadline;
mod drain;
mod fine_sampler;
mod pacer;
mod payload_file;
mod read_batching;
mod receive_idle;
mod server;
mod server_config;
mod session;
mod sock_diag;
mod sockets;
mod stream_io;
mod tcp_info;
mod test_run;
mod udp_receive;

pub use client::{ClientProgress, NativeClient, StreamsConnected};
pub use server::{NativeServer, ServedTest, ServerHandle};
pub use server_config::{ServerConfig, ServerProgress};
