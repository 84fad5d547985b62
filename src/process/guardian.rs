//! The guardian: a small process that kills every spawned process group once the program that
//! spawned them is gone, however it ended — grandchildren included.
//!
//! The parent-death signal (see `parent_death`) reaches only the direct child: the kernel clears
//! it in the child's own children. A shell's background job, or a server's forked worker, would
//! outlive a `SIGKILL`ed test program, reparented to init. The guardian closes that gap.
//!
//! # How it works
//!
//! The first time a group is watched, testrig starts `/bin/sh` reading a pipe (a connected Unix
//! socket pair) whose write end only this program holds (close-on-exec, so no child inherits
//! it). It is told, one
//! line each, `+PGID` when a group is spawned and `-PGID` once the group is gone. When the pipe
//! reaches end-of-file — this program ended, whether by `exit` or by `SIGKILL` — the guardian
//! sends `SIGKILL` to every group it still holds, then exits. It runs in a process group of its
//! own (a terminal's Ctrl-C or a harness killing the test's group does not take it first) and
//! ignores `SIGINT` and `SIGHUP`; it does not carry the parent-death signal, which would kill it
//! before it could act.
//!
//! # Never a recycled group
//!
//! A process-group id cannot be given to a new process while any member of the group, zombie
//! leader included, still exists. testrig sends `-PGID` right after the leader was reaped and
//! its leftovers sent `SIGKILL` (the supervisor), or right after the whole group was sent
//! `SIGKILL` while the leader was still unreaped (a spawn nobody waited for, a supervisor dropped
//! with its runtime). Lines in a pipe are read in order, so a `-PGID` written before the program
//! died is always seen before the end-of-file. The only window left is the few microseconds
//! between the reaping of a leader and the write of its `-PGID`: the program would have to die
//! exactly then and the kernel cycle through every pid (`pid_max`) before the guardian acts.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};

use super::group::ProcessGroup;

/// The guardian's program: `/bin/sh -c SCRIPT`, reading `+PGID` / `-PGID` lines on stdin and
/// killing the groups it holds at end-of-file; then, if told `C<dir>` (the session cgroup), it
/// kills every process of that cgroup and below (`cgroup.kill`) and removes the cgroups, deepest
/// first, once empty (the kernel kills asynchronously and has no event a shell can wait on: it tries again
/// every 100 ms, for 5 s at most). Groups are kept as ` 12 345 ` (a space each side
/// of every id) so one can be found and removed with plain parameter expansion.
const SCRIPT: &str = r#"trap '' INT HUP
groups=' '
cgroup=''
while read -r line; do
    case $line in
        C*) cgroup=${line#C} ;;
        +*) groups="$groups${line#+} " ;;
        -*) case $groups in
                *" ${line#-} "*) groups="${groups%% ${line#-} *} ${groups#* ${line#-} }" ;;
            esac ;;
    esac
done
for group in $groups; do
    kill -9 -"$group" 2>/dev/null
done
if [ -n "$cgroup" ]; then
    echo 1 >"$cgroup/cgroup.kill"
    tries=0
    while [ "$tries" -lt 50 ]; do
        find "$cgroup" -depth -type d -exec rmdir {} +
        [ -d "$cgroup" ] || break
        tries=$((tries + 1))
        sleep 0.1
    done
fi 2>/dev/null
"#;

/// The guardian as this program sees it.
enum Guardian {
    /// Not started yet, or found gone (it is restarted, and told every watched group, on the
    /// next message).
    Absent,
    /// Running; `pipe` is the only write end of its stdin.
    Running { child: Child, pipe: UnixStream },
}

/// The guardian and the groups it must kill if this program dies now.
struct Watch {
    guardian: Guardian,
    groups: BTreeSet<ProcessGroup>,
    /// The session cgroup, holding the cgroup of every spawned program (see `cgroup`).
    cgroup: Option<PathBuf>,
}

static WATCH: Mutex<Watch> = Mutex::new(Watch {
    guardian: Guardian::Absent,
    groups: BTreeSet::new(),
    cgroup: None,
});

/// Has the guardian kill every process in the cgroup `dir` and below (and remove them) when this
/// program dies: the processes that left their process group die too.
pub(crate) fn watch_cgroup(dir: &Path) {
    let mut watch = lock();
    watch.cgroup = Some(dir.to_path_buf());
    let message = format!("C{}\n", dir.display());
    watch.tell(&message);
}

/// Has the guardian kill `group` if this program dies before [`release`] is called for it.
pub(crate) fn watch(group: ProcessGroup) {
    let mut watch = lock();
    watch.groups.insert(group);
    watch.tell(&format!("+{}\n", group.id()));
}

/// Tells the guardian `group` is gone (its leader reaped and its leftovers killed, or the whole
/// group killed while its leader was still unreaped): it must never be signalled again.
pub(crate) fn release(group: ProcessGroup) {
    let mut watch = lock();
    if watch.groups.remove(&group) {
        watch.tell(&format!("-{}\n", group.id()));
    }
}

impl Watch {
    /// Writes `message` to the guardian, starting it first if needed (a new guardian is told
    /// every watched group instead). Failures are logged: the direct children still die with
    /// this program (parent-death signal), only their descendants would not.
    fn tell(&mut self, message: &str) {
        let written = match &mut self.guardian {
            Guardian::Running { pipe, .. } => pipe.write_all(message.as_bytes()),
            Guardian::Absent => Err(io::ErrorKind::NotConnected.into()),
        };
        if written.is_ok() {
            return;
        }
        self.bury();
        let mut everything: String = self
            .groups
            .iter()
            .map(|group| format!("+{}\n", group.id()))
            .collect();
        if let Some(cgroup) = &self.cgroup {
            everything.push_str(&format!("C{}\n", cgroup.display()));
        }
        let started = start().and_then(|(child, mut pipe)| {
            pipe.write_all(everything.as_bytes())?;
            Ok(Guardian::Running { child, pipe })
        });
        match started {
            Ok(guardian) => self.guardian = guardian,
            Err(error) => tracing::warn!(
                %error,
                "cannot start testrig's guardian: the descendants of spawned programs may \
                 outlive this program if it is killed"
            ),
        }
    }

    /// Forgets a guardian that stopped listening, reaping it (it has exited or is killed now).
    fn bury(&mut self) {
        if let Guardian::Running { mut child, pipe } =
            std::mem::replace(&mut self.guardian, Guardian::Absent)
        {
            drop(pipe);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts a guardian; returns it and the write end of its stdin.
fn start() -> io::Result<(Child, UnixStream)> {
    // A connected socket pair serves as the pipe. Both ends are close-on-exec: only the
    // guardian's stdin (a `dup2` of its end) survives its `exec`, and no other child ever holds
    // this program's end.
    let (writer, reader) = UnixStream::pair()?;
    let child = Command::new("/bin/sh")
        .arg("-c")
        .arg(SCRIPT)
        .stdin(OwnedFd::from(reader))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()?;
    tracing::debug!(pid = child.id(), "started testrig's guardian");
    Ok((child, writer))
}

fn lock() -> MutexGuard<'static, Watch> {
    // Every update leaves `Watch` consistent (a set insert or remove, a guardian replaced in one
    // assignment): a poisoned lock still holds a usable value.
    WATCH
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
