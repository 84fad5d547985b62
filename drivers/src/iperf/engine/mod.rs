//! The engines under the drivers, for advanced use: testrig's native iperf3 client and
//! server on tokio ([`NativeClient`], [`NativeServer`]), and the real `iperf3` program run
//! as a process ([`Iperf3Client`], [`Iperf3Server`]). A test usually wants the drivers
//! ([`IperfClient`](super::IperfClient), [`IperfServer`](super::IperfServer),
//! [`IperfTest`](super::IperfTest)), which choose an engine by an
//! [`Engine`](super::Engine) value.

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
pub(crate) mod server;
mod server_config;
mod session;
mod sock_diag;
mod sockets;
mod stream_io;
mod tcp_info;
mod test_run;
mod udp_receive;

pub use super::binary::{DEFAULT_IPERF3_PROGRAM, Iperf3Client, Iperf3Server};
pub use client::{ClientProgress, NativeClient};
pub use server::NativeServer;
pub use server_config::{ServerConfig, ServerProgress};
