use std::io;
use std::time::Duration;

/// What went wrong declaring, starting, changing or stopping a [`Network`](super::Network).
///
/// Each variant names the part of the network it is about (host, link, switch) and, for a
/// declaration, the field and the value that were refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkError {
    /// A declaration was refused when the network was built (or a fault's input): what, in
    /// which part, and why.
    #[error(transparent)]
    Invalid(Box<InvalidDeclaration>),
    /// The kernel, the installed tools or the privileges lack something the network needs
    /// (netem, `tc`, CAP_NET_ADMIN…).
    #[error("{wanted} is not available here: {missing}")]
    Unsupported {
        /// What was asked for, e.g. `netem on link a-b`.
        wanted: String,
        /// What is missing, e.g. `the kernel has no netem qdisc (sch_netem)`.
        missing: String,
    },
    /// The network is not in the state the operation needs (e.g. a fault on a network that
    /// is not running).
    #[error("network `{network}` is {state}; {operation} needs it {needed}")]
    State {
        /// The network's name.
        network: String,
        /// The operation that was refused.
        operation: &'static str,
        /// The state it is in.
        state: &'static str,
        /// The state the operation needs.
        needed: &'static str,
    },
    /// No host, switch or link by that name.
    #[error("network `{network}` has no {what} `{name}`")]
    Unknown {
        /// The network's name.
        network: String,
        /// `host`, `link`…
        what: &'static str,
        /// The name that was asked for.
        name: String,
    },
    /// A netlink request failed inside a namespace.
    #[error("{action} in namespace `{namespace}`")]
    Netlink {
        /// What was being done, e.g. `create veth eth0 to b`.
        action: String,
        /// The host or switch whose namespace it was done in.
        namespace: String,
        /// The kernel's answer.
        #[source]
        source: rtnetlink::Error,
    },
    /// A system call or file operation failed for a namespace.
    #[error("{action} for `{namespace}`")]
    Io {
        /// What was being done.
        action: String,
        /// The host or switch it was done for.
        namespace: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// `tc` (iproute2) refused a traffic-control change.
    #[error("`tc {args}` in namespace `{namespace}` failed: {stderr}")]
    Tc {
        /// The host or switch whose namespace `tc` ran in.
        namespace: String,
        /// tc's arguments.
        args: String,
        /// What tc printed.
        stderr: String,
    },
    /// An operation did not finish within its deadline.
    #[error("{operation} did not finish within {after:?}")]
    Timeout {
        /// What did not finish.
        operation: String,
        /// The deadline.
        after: Duration,
    },
}

/// A declaration refused: `what` `name` (e.g. link `a-b`) has `field` = `value`, which is
/// wrong because of `problem`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("network `{network}`: {what} `{name}`: {field} = `{value}`: {problem}")]
#[non_exhaustive]
pub struct InvalidDeclaration {
    /// The network's name.
    pub network: String,
    /// The kind of part: `host`, `link`, `switch`.
    pub what: &'static str,
    /// The part's name.
    pub name: String,
    /// The field that was refused.
    pub field: &'static str,
    /// The value that was refused.
    pub value: String,
    /// Why it was refused.
    pub problem: String,
}

impl NetworkError {
    pub(crate) fn invalid(declaration: InvalidDeclaration) -> NetworkError {
        NetworkError::Invalid(Box::new(declaration))
    }
}

pub(crate) type Result<T, E = NetworkError> = std::result::Result<T, E>;
