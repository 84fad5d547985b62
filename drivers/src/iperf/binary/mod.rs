//! The iperf3-binary engine: runs the real `iperf3` (Debian package `iperf3`) through
//! testrig's process machinery and reads its `-J` output into the same [`IperfResult`]
//! as the native engine.
//!
//! - [`Iperf3Client`] runs `iperf3 -c HOST -p PORT -J …` to completion under a deadline.
//! - [`Iperf3Server`] runs `iperf3 -s --forceflush -B HOST -p PORT` as a daemon; it is ready
//!   when iperf3 prints `Server listening`. iperf3 refuses port 0, so port 0 means "pick a
//!   free port", retried on "address in use".
//!
//! iperf3 3.12 prints no `Server listening` line in JSON mode (`-J`), so the server runs in
//! text mode and **its per-test results are not read**; the client's `-J` output holds both
//! sides' counts (`end.sum_sent`, `end.sum_received`).
//!
//! [`IperfResult`]: super::IperfResult

mod args;
mod client;
mod free_port;
mod program;
mod server;

pub use client::Iperf3Client;
pub use program::DEFAULT_IPERF3_PROGRAM;
pub(crate) use program::check_available;
pub use server::Iperf3Server;
