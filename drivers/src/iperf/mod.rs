//! iperf: testrig's own implementation of the iperf3 protocol (client and server,
//! interoperable with the real `iperf3` 3.12 in both roles) and typed results shared with a
//! parser of `iperf3 -J` output.
//!
//! A test measures with the drivers [`IperfServer`] and [`IperfClient`] (or [`IperfTest`]
//! between two peers), which run on the [`Engine`] they are given; what a client measures
//! is one [`ClientOptions`] value. The engines themselves are in [`engine`].
//!
//! # Examples
//!
//! ```no_run
//! use std::time::Duration;
//! use testrig_drivers::iperf::ClientOptions;
//! use testrig_drivers::iperf::engine::{NativeClient, NativeServer, ServerConfig};
//!
//! # async fn example() -> Result<(), testrig_drivers::iperf::IperfError> {
//! let server = NativeServer::bind("127.0.0.1:0".parse().unwrap(), ServerConfig::default()).await?;
//! let options = ClientOptions::new().duration(Duration::from_secs(1));
//! let result = NativeClient::new("127.0.0.1", server.local_addr().port(), options)?
//!     .run()
//!     .await?;
//! assert!(result.bytes_received() > 0);
//! server.shutdown().await;
//! # Ok(()) }
//! ```

mod binary;
mod client_options;
mod config;
mod driver;
pub mod engine;
mod error;
mod iperf_test;
mod kinds;
mod protocol;
mod result;
mod stream_options;
#[doc(hidden)]
pub mod text;

/// iperf3's units: the sizes and bitrates its flags take (`10M`, `1.5G`) and the way it
/// prints transfers and bitrates.
///
/// # Examples
///
/// ```
/// use testrig_drivers::iperf::units::{format_bitrate, parse_bitrate, parse_size};
///
/// assert_eq!(parse_size("128K"), Some(128 * 1024));
/// assert_eq!(parse_bitrate("1.5G"), Some(1_500_000_000));
/// assert_eq!(format_bitrate(100e6), " 100 Mbits/sec");
/// ```
pub mod units {
    pub use super::text::units::{format_bitrate, format_bytes, parse_bitrate, parse_size};
}

pub use client_options::ClientOptions;
pub use config::DEFAULT_PORT;
pub use driver::{Engine, IperfClient, IperfServer};
pub use engine::server::ServedTest;
pub use error::{IperfError, Phase};
pub use iperf_test::{BothDirections, Gate, IperfTest, Peer};
pub use kinds::{AddressFamily, Direction, Protocol};
pub use result::{
    Connection, ControlPeer, CpuUtilization, DirectionSummary, FineSample, IntervalReport,
    IperfResult, Measurement, Role, ServerOutput, StartInfo, StreamMeasurement, StreamSummary,
    Summary, TestSettings, iperf3_error_json, iperf3_json_text,
};
pub use stream_options::StreamOptions;
