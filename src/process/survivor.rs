//! `Survivor`: a descendant of a spawned program still alive after the program ended and testrig
//! killed what it left behind — found by the marker every spawned program inherits.

use std::fmt;
use std::fs;

use super::group::ProcessGroup;

/// The environment variable testrig sets on every program it spawns, with a value unique to the
/// spawn (`<test program's pid>-<number>`). Descendants inherit it, so they can be found in
/// `/proc/<pid>/environ` after they left the process group.
pub const SPAWN_MARKER_VAR: &str = "TESTRIG_SPAWN";

/// A process started (directly or not) by a spawned program, still alive after that program
/// ended and its process group was killed: it left the group (`setsid`, `setpgid`), so group
/// signals missed it. Only looked for where cgroups are not used (with a cgroup, `cgroup.kill`
/// catches it; a process the cgroup could not kill either is reported the same way).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Survivor {
    /// Its pid.
    pub pid: u32,
    /// Its command line (arguments separated by spaces), or its name if that cannot be read.
    pub command: String,
}

impl Survivor {
    /// The process `pid`, with its command line as `/proc` tells it now.
    pub(crate) fn of(pid: u32) -> Survivor {
        let command = fs::read(format!("/proc/{pid}/cmdline"))
            .ok()
            .filter(|cmdline| !cmdline.is_empty())
            .map(|cmdline| {
                cmdline
                    .split(|&byte| byte == 0)
                    .filter(|arg| !arg.is_empty())
                    .map(String::from_utf8_lossy)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .or_else(|| {
                fs::read_to_string(format!("/proc/{pid}/comm"))
                    .ok()
                    .map(|comm| comm.trim_end().to_owned())
            })
            .unwrap_or_else(|| "?".to_owned());
        Survivor { pid, command }
    }
}

impl fmt::Display for Survivor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {} (`{}`)", self.pid, self.command)
    }
}

/// Every live process carrying `marker` (`TESTRIG_SPAWN=<marker>`) outside `group`, which was
/// just sent `SIGKILL` (its members are dying, not surviving). Zombies are dead and not listed.
pub(crate) fn find(marker: &str, group: ProcessGroup) -> Vec<Survivor> {
    let wanted = format!("{SPAWN_MARKER_VAR}={marker}");
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut survivors: Vec<Survivor> = entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != std::process::id())
        .filter(|&pid| {
            let Some((state, pgid)) = state_and_group(pid) else {
                return false;
            };
            let dead = matches!(state, 'Z' | 'X' | 'x');
            !dead && pgid != group.id() && carries(pid, wanted.as_bytes())
        })
        .map(Survivor::of)
        .collect();
    survivors.sort_by_key(|survivor| survivor.pid);
    survivors
}

/// The state letter and process-group id of `pid`, from `/proc/<pid>/stat`.
fn state_and_group(pid: u32) -> Option<(char, libc::pid_t)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat)
}

fn parse_stat(stat: &str) -> Option<(char, libc::pid_t)> {
    // `pid (comm) state ppid pgrp …`: comm may hold spaces and parentheses.
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let pgid = fields.nth(1)?.parse().ok()?;
    Some((state, pgid))
}

/// Whether the environment `pid` started with holds exactly the entry `wanted`.
fn carries(pid: u32, wanted: &[u8]) -> bool {
    fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| {
        environ
            .split(|&byte| byte == 0)
            .any(|entry| entry == wanted)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_and_group_are_read_after_a_name_holding_parentheses() {
        let stat = "42 (a (b) c) S 1 40 40 0 -1 4194560";
        assert_eq!(parse_stat(stat), Some(('S', 40)));
    }
}
