//! An iperf3-compatible command line on testrig's native iperf engine: `testrig iperf3`
//! (`cli/src/iperf3/`), built here as an example of this crate, so the interop tests of
//! `testrig-drivers` run it as a process against the real `iperf3`.
//!
//! ```text
//! cargo run --release --example iperf3 -- -s -1
//! cargo run --release --example iperf3 -- -c 127.0.0.1 -t 2 -P 2 -J
//! ```

use std::process::ExitCode;

/// The command line's source, shared with the `testrig` binary.
#[path = "../../../cli/src/iperf3/mod.rs"]
mod iperf3;

fn main() -> ExitCode {
    iperf3::main(std::env::args().skip(1))
}
