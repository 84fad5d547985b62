//! The session cgroup: where this test program's cgroups live, found once.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::Cgroup;
use super::cgroup::remove_tree;
use crate::process::guardian;

/// The environment variable that turns cgroups off for every program spawned by this test
/// program (`0`, `off`, `false` or `no`): they are then held by their process group only.
pub const CGROUP_VAR: &str = "TESTRIG_CGROUP";

/// This test program's cgroup (`<parent>/testrig/<pid>`), under which each spawned program gets
/// one of its own. The guardian kills and removes it when this program ends.
#[derive(Debug)]
pub(crate) struct Session {
    dir: PathBuf,
    next: AtomicU64,
}

/// The session, created on first use; or why cgroups cannot be used here (said once, in the log).
pub(crate) fn session() -> Result<&'static Session, &'static str> {
    static SESSION: OnceLock<Result<Session, String>> = OnceLock::new();
    SESSION
        .get_or_init(|| {
            let session = Session::open();
            match &session {
                Ok(session) => {
                    tracing::debug!(cgroup = %session.dir.display(), "spawned programs run in cgroups");
                    guardian::watch_cgroup(&session.dir);
                }
                Err(why) => tracing::warn!(
                    "cgroup v2 is not available ({why}): spawned programs are held by their \
                     process group only, and a descendant that leaves it (setsid) is reported \
                     after the program ends, not killed"
                ),
            }
            session
        })
        .as_ref()
        .map_err(String::as_str)
}

impl Session {
    fn open() -> Result<Session, String> {
        if let Ok(value) = std::env::var(CGROUP_VAR)
            && matches!(
                value.to_ascii_lowercase().as_str(),
                "0" | "off" | "false" | "no"
            )
        {
            return Err(format!("turned off with {CGROUP_VAR}={value}"));
        }
        let mount = mount()
            .ok_or("no writable cgroup2 file system is mounted (none in /proc/self/mounts)")?;
        let own = own_cgroup(mount);
        // Under this program's own cgroup when it may create one there (a delegated subtree),
        // else at the root of the hierarchy.
        let parents: Vec<&Path> = match &own {
            Some(own) if own != mount => vec![own, mount],
            _ => vec![mount],
        };
        let mut refusals = Vec::new();
        for parent in parents {
            match Session::create(&parent.join("testrig")) {
                Ok(session) => return Ok(session),
                Err(why) => refusals.push(why),
            }
        }
        Err(refusals.join("; "))
    }

    fn create(base: &Path) -> Result<Session, String> {
        let cannot = |what: &str, path: &Path, error: io::Error| {
            format!("cannot {what} {}: {error}", path.display())
        };
        if base.to_string_lossy().contains('\n') {
            return Err(format!("{} holds a line break", base.display()));
        }
        match fs::create_dir(base) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(cannot("create the cgroup", base, error)),
        }
        remove_stale_sessions(base);
        let dir = base.join(std::process::id().to_string());
        match fs::create_dir(&dir) {
            Ok(()) => {}
            // Left by an earlier program with this pid, now gone: reused, without the cgroups
            // it left (those still holding a process stay, and their names are skipped).
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                for child in fs::read_dir(&dir).into_iter().flatten().flatten() {
                    if child.file_type().is_ok_and(|kind| kind.is_dir()) {
                        let _ = remove_tree(&child.path());
                    }
                }
            }
            Err(error) => return Err(cannot("create the cgroup", &dir, error)),
        }
        for file in [
            "cgroup.procs",
            "cgroup.kill",
            "cgroup.freeze",
            "cgroup.events",
        ] {
            if !dir.join(file).exists() {
                let _ = fs::remove_dir(&dir);
                return Err(format!(
                    "{} has no {file} (cgroup.kill needs Linux 5.14 or later)",
                    dir.display()
                ));
            }
        }
        Ok(Session {
            dir,
            next: AtomicU64::new(1),
        })
    }

    /// Creates the cgroup of a program named `name`, and opens its `cgroup.procs`.
    pub(crate) fn create_cgroup(&self, name: &str) -> io::Result<(Cgroup, File)> {
        let name: String = name
            .chars()
            .take(64)
            .map(|c| match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
                _ => '_',
            })
            .collect();
        // A name may be taken by a cgroup an earlier program with this pid left holding a
        // process: the next number is tried.
        loop {
            let number = self.next.fetch_add(1, Ordering::Relaxed);
            match Cgroup::create(self.dir.join(format!("{number}-{name}"))) {
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists && number < 1 << 20 => {}
                created => return created,
            }
        }
    }
}

/// Removes the empty session cgroups of test programs that are gone (killed together with their
/// guardian). A session still holding processes is left alone.
fn remove_stale_sessions(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|name| name.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let _ = remove_tree(&entry.path());
    }
}

/// The mount point of the writable cgroup v2 hierarchy.
fn mount() -> Option<&'static Path> {
    static MOUNT: OnceLock<Option<PathBuf>> = OnceLock::new();
    MOUNT
        .get_or_init(|| {
            let mounts = fs::read_to_string("/proc/self/mounts").ok()?;
            find_mount(&mounts)
        })
        .as_deref()
}

fn find_mount(mounts: &str) -> Option<PathBuf> {
    mounts.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_, point, kind, options, ..] = fields.as_slice() else {
            return None;
        };
        let writable = options.split(',').any(|option| option == "rw");
        (*kind == "cgroup2" && writable).then(|| PathBuf::from(unescape(point)))
    })
}

/// `/proc/mounts` writes a space as `\040` (and tab, line break, backslash likewise).
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 4);
        match code.and_then(|code| u8::from_str_radix(code, 8).ok()) {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[at + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The directory of the cgroup v2 of process `pid` (`self` for this program).
fn cgroup_of(mount: &Path, pid: &str) -> Option<PathBuf> {
    let cgroups = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = cgroups.lines().find_map(|line| line.strip_prefix("0::"))?;
    Some(mount.join(path.trim_start_matches('/')))
}

fn own_cgroup(mount: &Path) -> Option<PathBuf> {
    cgroup_of(mount, "self")
}

/// Whether the process `pid` is in a frozen cgroup v2 (paused by `cgroup.freeze`).
#[cfg(feature = "testing")]
pub(crate) fn frozen_pid(pid: u32) -> bool {
    let Some(dir) = mount().and_then(|mount| cgroup_of(mount, &pid.to_string())) else {
        return false;
    };
    File::open(dir.join("cgroup.events"))
        .and_then(|mut events| {
            super::events::read_key(&mut events, super::events::EventKey::Frozen)
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writable_cgroup2_mount_is_found_and_unescaped() {
        let mounts = "cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n\
                      cgroup2 /sys/fs/cgroup/un\\040ified cgroup2 rw,relatime 0 0\n";
        assert_eq!(
            find_mount(mounts),
            Some(PathBuf::from("/sys/fs/cgroup/un ified"))
        );
        let read_only = "cgroup2 /sys/fs/cgroup cgroup2 ro,nosuid 0 0\n";
        assert_eq!(find_mount(read_only), None);
    }
}
