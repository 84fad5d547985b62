//! `SshError`: why an SSH host could not be connected, or a file not installed there.

use std::path::PathBuf;
use std::time::Duration;

use crate::process::ProcessError;

/// Why [`SshBuilder::connect`](super::SshBuilder::connect) failed. Each names the host (its
/// name, and the destination when it differs) and says what ssh said.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SshError {
    /// An option was refused before anything ran.
    #[error("ssh host `{host}`: {field} `{value}` is not valid: {reason}")]
    Invalid {
        /// The host's name.
        host: String,
        /// The option (`destination`, `port`, `identity`…).
        field: &'static str,
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The host presented a key that differs from the one known for it: possibly another
    /// machine in its place. Nothing was run there.
    #[error(
        "ssh host `{host}` ({destination}): its host key differs from the one in known_hosts \
         ({known_hosts}); refused. If the host was rebuilt, remove its old key \
         (`ssh-keygen -R`). ssh said: {said}"
    )]
    HostKeyMismatch {
        /// The host's name.
        host: String,
        /// Where it was reached.
        destination: String,
        /// The known hosts file consulted (`~/.ssh/known_hosts` unless one was given).
        known_hosts: String,
        /// ssh's own words.
        said: String,
    },
    /// The host's key is not known and the check is strict ([`HostKeys::Strict`]).
    ///
    /// [`HostKeys::Strict`]: super::HostKeys::Strict
    #[error(
        "ssh host `{host}` ({destination}): its host key is not in known_hosts ({known_hosts}) \
         and host keys are checked strictly; add it, or accept new keys for a throwaway host \
         (`HostKeys::AcceptNew`). ssh said: {said}"
    )]
    HostKeyUnknown {
        /// The host's name.
        host: String,
        /// Where it was reached.
        destination: String,
        /// The known hosts file consulted.
        known_hosts: String,
        /// ssh's own words.
        said: String,
    },
    /// ssh could not connect or log in (refused, unreachable, authentication failed…).
    #[error("ssh host `{host}` ({destination}): cannot connect: {said}")]
    Connect {
        /// The host's name.
        host: String,
        /// Where it was reached.
        destination: String,
        /// ssh's own words (its last lines).
        said: String,
    },
    /// The connection was not made within the connect timeout.
    #[error("ssh host `{host}` ({destination}): not connected after {after:?}")]
    Timeout {
        /// The host's name.
        host: String,
        /// Where it was reached.
        destination: String,
        /// How long it waited.
        after: Duration,
    },
    /// The local `ssh` could not be run (not installed, or the via host is stopped).
    #[error("ssh host `{host}`: cannot run the local ssh client")]
    Spawn {
        /// The host's name.
        host: String,
        /// What the process machinery said.
        #[source]
        source: ProcessError,
    },
    /// The connection was made but the first command over it failed.
    #[error("ssh host `{host}` ({destination}): connected, but asking its address failed: {said}")]
    Query {
        /// The host's name.
        host: String,
        /// Where it was reached.
        destination: String,
        /// What went wrong.
        said: String,
    },
    /// The agent asked for with [`SshAgent::Program`](super::SshAgent::Program) did not start.
    #[error("ssh host `{host}`: the agent {} did not start: {said}", program.display())]
    Agent {
        /// The host's name.
        host: String,
        /// The local agent program.
        program: PathBuf,
        /// What went wrong, in its words or ssh's.
        said: String,
    },
    /// The directory of the control socket could not be made.
    #[error("ssh host `{host}`: cannot create the control directory {}", path.display())]
    ControlDir {
        /// The host's name.
        host: String,
        /// The directory.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be installed on the host ([`Host::install`](crate::Host::install)).
    #[error("ssh host `{host}`: cannot install {}: {said}", file.display())]
    Install {
        /// The host's name.
        host: String,
        /// The local file.
        file: PathBuf,
        /// What went wrong.
        said: String,
    },
    /// No local `testrig` binary was found ([`testrig_binary`](super::testrig_binary)).
    #[error(
        "no testrig binary found (set TESTRIG_BIN, or build it: `cargo build -p testrig-cli`); \
         searched: {searched}"
    )]
    NoTestrigBinary {
        /// Where it was looked for.
        searched: String,
    },
    /// A port forward through the connection could not be made or closed
    /// ([`Host::forward`](crate::Host::forward)).
    #[error("ssh host `{host}`: cannot forward a local port to {remote}: {said}")]
    Forward {
        /// The host's name.
        host: String,
        /// The remote end of the forward.
        remote: std::net::SocketAddr,
        /// What ssh said.
        said: String,
    },
}
