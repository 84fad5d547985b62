//! Helpers for tests, testrig's own and its users'.
//!
//! Behind the `testing` cargo feature (off by default), so they stay out of the API a
//! program links: turn it on for tests only,
//!
//! ```toml
//! [dev-dependencies]
//! testrig = { version = "0.1", features = ["testing"] }
//! ```
//!
//! - Scripted drivers ([`ScriptedDriver`], recording into a [`Journal`]): behaviour a test
//!   scripts (slow, failing, dying) over real sockets, for testing environments and writing
//!   examples.
//! - For tests that start processes: [`ProcessTracker`], to end a test by asserting that none
//!   of them is left alive; [`ProcessIdentity`], to watch one process by pid (alive, stopped,
//!   gone) without mistaking a recycled pid for it; and [`HelperProgram`], the test binary run
//!   again as a helper program that behaves exactly as a test needs.
//! - [`ScratchDir`]: a fresh directory for a test's files, kept when the test fails.
//! - [`Sshd`]: a real `sshd` in a network namespace, a remote host for tests of SSH hosts.
//! - [`wait_for_command_line`]: waits until a process has `exec`ed a given command.
//! - [`ClosedPort`]: a loopback port that refuses connections while the test holds it.

mod closed_port;
mod command_line;
mod helper_program;
mod journal;
mod picture;
mod process_identity;
mod process_tracker;
mod scratch_dir;
mod scripted;
mod sshd;
mod start_context;

pub use closed_port::ClosedPort;
pub use command_line::wait_for_command_line;
pub use helper_program::HelperProgram;
pub use journal::{Entry, Event, Journal};
pub use picture::Picture;
pub use process_identity::ProcessIdentity;
pub use process_tracker::ProcessTracker;
pub use scratch_dir::ScratchDir;
pub use scripted::ScriptedDriver;
pub use sshd::{
    RemoteSshd, SSHD_PATIENCE, Sshd, SshdHosts, local_processes_with, says_the_connection_ended,
};
pub use start_context::{resource, resource_on, start_context};
