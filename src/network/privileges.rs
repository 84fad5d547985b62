//! Whether this process may build networks, and how a process without root gets to.

use std::fs;
use std::io;
use std::sync::OnceLock;

use super::error::NetworkError;

/// Whether this process can build a [`Network`](super::Network), from
/// [`availability`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Availability {
    /// It can: it may create network namespaces and configure them.
    Available,
    /// It cannot; `missing` says what is missing and how to get it.
    Unavailable {
        /// What is missing, e.g. `CAP_SYS_ADMIN (not root, and not in a user namespace …)`.
        missing: String,
    },
}

impl Availability {
    /// What is missing, when networks cannot be built.
    pub fn missing(&self) -> Option<&str> {
        match self {
            Availability::Available => None,
            Availability::Unavailable { missing } => Some(missing),
        }
    }
}

/// Whether this process can build networks here: tried once (a thread creates a network
/// namespace and lets it go), then remembered.
///
/// A test that needs a network prints `skip: <missing>` when it cannot, and fails instead
/// when the `CI` variable is set.
///
/// # Examples
/// ```no_run
/// if let Some(missing) = testrig::network::availability().missing() {
///     eprintln!("skip: {missing}");
///     return;
/// }
/// ```
pub fn availability() -> Availability {
    static PROBE: OnceLock<Availability> = OnceLock::new();
    PROBE.get_or_init(probe).clone()
}

fn probe() -> Availability {
    let created = std::thread::spawn(|| {
        // SAFETY: only this short-lived thread changes namespace; it ends right after.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    })
    .join()
    .unwrap_or_else(|_| Err(io::Error::other("the probe thread panicked")));
    match created {
        Ok(()) => Availability::Available,
        Err(error) => Availability::Unavailable {
            missing: format!(
                "CAP_SYS_ADMIN to create network namespaces (unshare: {error}); run as root, or \
                 call testrig::network::enter_user_namespace() first thing in main{}",
                user_namespace_note()
            ),
        },
    }
}

/// Why a user namespace would not help either, when the kernel says so.
fn user_namespace_note() -> String {
    let read = |path: &str| {
        fs::read_to_string(path)
            .ok()
            .map(|text| text.trim().to_owned())
    };
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return " (but user namespaces are off here: user.max_user_namespaces = 0)".into();
    }
    if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return " (but unprivileged user namespaces are off here: kernel.unprivileged_userns_clone = 0)".into();
    }
    if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        return " (but AppArmor restricts unprivileged user namespaces here: \
                 kernel.apparmor_restrict_unprivileged_userns = 1)"
            .into();
    }
    String::new()
}

/// Makes a process without root able to build networks: moves it into a new user namespace
/// where its user is root (uid and gid mapped to 0), with the capabilities that network
/// namespaces need. Does nothing for root.
///
/// Call it **first thing in `main`, before any runtime or thread starts**: the kernel lets
/// only a single-threaded process enter a user namespace. Inside, the process keeps its own
/// files' access (it is its own user seen from outside) and loses nothing it had; processes
/// it spawns inherit the namespace.
///
/// # Errors
/// [`NetworkError::Unsupported`] when the process already has threads, or the kernel refuses
/// user namespaces (naming the setting that refuses them).
///
/// # Examples
/// ```no_run
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     testrig::network::enter_user_namespace()?;
///     let runtime = tokio::runtime::Runtime::new()?;
///     runtime.block_on(async {
///         // build and start networks here
///     });
///     Ok(())
/// }
/// ```
pub fn enter_user_namespace() -> Result<(), NetworkError> {
    // SAFETY: getters without side effects.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if uid == 0 {
        return Ok(());
    }
    let unsupported = |missing: String| NetworkError::Unsupported {
        wanted: "a user namespace".into(),
        missing,
    };
    let threads = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Threads:"))
                .and_then(|count| count.trim().parse::<u32>().ok())
        })
        .unwrap_or(1);
    if threads > 1 {
        return Err(unsupported(format!(
            "a single-threaded process: this one has {threads} threads; call \
             enter_user_namespace() first in main, before any runtime starts"
        )));
    }
    // SAFETY: unshare on a single-threaded process, checked above.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
        let error = io::Error::last_os_error();
        return Err(unsupported(format!(
            "permission to create user namespaces (unshare: {error}){}",
            user_namespace_note()
        )));
    }
    let write = |path: &str, text: String| {
        fs::write(path, text).map_err(|error| unsupported(format!("writing {path}: {error}")))
    };
    // An unprivileged process may map only its own ids, and its gid only once setgroups is
    // denied.
    write("/proc/self/setgroups", "deny".into())?;
    write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    write("/proc/self/gid_map", format!("0 {gid} 1"))?;
    Ok(())
}
