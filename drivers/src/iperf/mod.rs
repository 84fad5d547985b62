//! iperf: testrig's own implementation of the iperf3 protocol (client and server,
//! interoperable with the real `iperf3` 3.12 in both roles), typed results shared with a
//! parser of `iperf3 -J` output, and an iperf3-compatible command line.
//!
//! # Examples
//!
//! ```no_run
//! use std::time::Duration;
//! use testrig_drivers::iperf::{ClientConfig, NativeClient, NativeServer};
//!
//! # async fn example() -> Result<(), testrig_drivers::iperf::IperfError> {
//! let server = NativeServer::bind("127.0.0.1:0".parse().unwrap()).await?.spawn();
//! let config = ClientConfig::builder("127.0.0.1", server.local_addr().port())
//!     .duration(Duration::from_secs(1))
//!     .build()?;
//! let result = NativeClient::new(config).run().await?;
//! assert!(result.bytes_received() > 0);
//! server.shutdown().await;
//! # Ok(()) }
//! ```

pub mod binary;
pub mod cli;
mod config;
mod driver;
mod engine;
mod error;
mod iperf_test;
mod kinds;
mod protocol;
mod result;
mod stream_options;

pub use config::{ClientConfig, ClientConfigBuilder, DEFAULT_PORT};
pub use driver::{ClientOptions, Engine, IperfClient, IperfDriverError, IperfServer};
pub use engine::{
    ClientProgress, NativeClient, NativeServer, ServedTest, ServerConfig, ServerHandle,
    ServerProgress, StreamsConnected,
};
pub use error::{IperfError, Phase};
pub use iperf_test::{BothDirections, Gate, IperfTest, IperfTestError, Peer};
pub use kinds::{AddressFamily, Direction, Protocol, TestLength};
pub use result::{
    Connection, ControlPeer, CpuUtilization, DirectionSummary, FineSample, IntervalReport,
    Iperf3JsonError, IperfResult, Measurement, Role, ServerOutput, StartInfo, StreamMeasurement,
    StreamSummary, Summary, TestSettings, iperf3_error_json, iperf3_json_text,
};
pub use stream_options::StreamOptions;
