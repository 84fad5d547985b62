//! Tests of `testrig::suite` through the sample suite binaries
//! (`tests/sample_suite.rs`, `tests/sample_suite_failing.rs`), run as a person
//! or CI runs them: with libtest arguments, and through `cargo nextest run`.

#[path = "suite_runner/support.rs"]
mod support;

#[path = "suite_runner/in_process.rs"]
mod in_process;
#[path = "suite_runner/libtest.rs"]
mod libtest;
#[path = "suite_runner/nextest.rs"]
mod nextest;
#[path = "suite_runner/signals.rs"]
mod signals;
