//! Suites: an environment plus the test cases that share it (testplan's
//! MultiTest), run as a `harness = false` cargo test target.
//!
//! The environment starts once before the first selected case, the cases run
//! against it one after the other, and it stops once after the last; hooks run
//! around the start and the stop. Each case is a libtest test named
//! `<suite>::<case>`, so `cargo test`, name filters, `--list`, `--exact`,
//! `--ignored` and `cargo nextest run` behave as test authors expect. Each
//! case's outcome, duration and failure message go into the environment's
//! report; a failed start marks the cases not run (and still tears down).
//!
//! In `Cargo.toml`:
//! ```toml
//! [[test]]
//! name = "echo_suite"
//! harness = false
//! ```
//! and in `tests/echo_suite.rs`, a `main` that calls [`run_suites`] (see
//! [`Suite`] for a full example, and the guide `docs/suites.md`).
//!
//! Needs the `suite` cargo feature (on by default).

mod case;
mod ending;
mod error;
mod harness;
mod hook;
mod interrupt;
mod panic_capture;
mod report_stem;
mod runner;
mod session;
mod step;
#[allow(clippy::module_inception)]
mod suite;

pub use case::Case;
pub use libtest_mimic::{Arguments, Conclusion};
pub use runner::{REPORT_DIR_VAR, Runner, run_suites};
pub use suite::{DEFAULT_TIMEOUT, Suite};
