//! The remote supervisor (a POSIX `sh` script passed on the command line), the local wrapper
//! around each `ssh` client, and the quoting that gets a program's arguments through the
//! remote shell unchanged.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::process::{Command, SPAWN_MARKER_VAR};

/// Runs `"$@"` in a process group of its own (`setsid` where the remote has it), stdin from
/// `/dev/null`; relays each line of its own stdin (the channel's) as a signal to that group;
/// at end-of-file kills the group. When the program ends: kills what it left in its group,
/// stops the relay, exits with the program's status. Its own stderr is silenced once the
/// program and the relay have theirs, so the shell's job notices ("Killed") never reach the
/// program's output.
pub(super) const SUPERVISOR: &str = r#"if command -v setsid >/dev/null 2>&1; then
    setsid "$@" </dev/null &
else
    "$@" </dev/null &
fi
pid=$!
exec 3<&0
{
    while read -r signal; do
        kill -s "$signal" -- "-$pid" 2>/dev/null || kill -s "$signal" "$pid" 2>/dev/null
    done
    kill -s KILL -- "-$pid" 2>/dev/null || kill -s KILL "$pid" 2>/dev/null
} <&3 >/dev/null 2>&1 &
relay=$!
exec 3<&- </dev/null 2>/dev/null
wait "$pid"
status=$?
kill -s KILL -- "-$pid"
kill "$relay"
exit "$status"
"#;

/// The local side: runs `ssh` (`$4…`) and, when it exits with 255 (an error of ssh's own,
/// such as a lost connection), prints the last lines of the master's stderr (`$2`) for the
/// host (`$1`), so whoever reads the program's output sees why. The master writes why it ended
/// before it removes its control socket (`$3`) but may close its clients first: so it waits
/// for the socket to go, for a second at most (a master that is still there has nothing more to
/// say), polling as a shell must.
pub(super) const LOCAL_WRAPPER: &str = r#"host=$1 log=$2 socket=$3
shift 3
"$@"
status=$?
if [ "$status" -eq 255 ]; then
    tries=0
    while [ -S "$socket" ] && [ "$tries" -lt 100 ]; do
        sleep 0.01
        tries=$((tries + 1))
    done
    echo "testrig: ssh to $host failed (status 255); the connection says:" >&2
    tail -n 3 "$log" >&2
fi
exit "$status"
"#;

/// The command line the remote shell runs for `command`: `cd` to its working directory (else
/// to `default_dir`, made first: its directory of the host's remote runpath), then
/// `exec env …` (its environment changes and the spawn marker) `sh -c SUPERVISOR` with the
/// program and its arguments, every word quoted.
pub(super) fn remote_command(
    command: &Command,
    marker: &str,
    default_dir: Option<&std::path::Path>,
) -> OsString {
    let mut words: Vec<OsString> = Vec::new();
    if let Some(dir) = command.get_cwd() {
        words.extend(["cd".into(), quote(dir.as_os_str()), "&&".into()]);
    } else if let Some(dir) = default_dir {
        let dir = quote(dir.as_os_str());
        words.extend(["mkdir".into(), "-p".into(), dir.clone(), "&&".into()]);
        words.extend(["cd".into(), dir, "&&".into()]);
    }
    words.extend(["exec".into(), "env".into()]);
    for (key, value) in command.get_env() {
        match value {
            Some(value) => {
                let mut pair = key.to_owned();
                pair.push("=");
                pair.push(value);
                words.push(quote(&pair));
            }
            None => words.extend(["-u".into(), quote(key)]),
        }
    }
    words.push(quote(OsStr::new(&format!("{SPAWN_MARKER_VAR}={marker}"))));
    words.extend([
        "sh".into(),
        "-c".into(),
        quote(OsStr::new(SUPERVISOR)),
        "testrig-supervisor".into(),
        quote(command.program().as_os_str()),
    ]);
    words.extend(command.get_args().map(quote));
    join(&words)
}

/// `word` for a POSIX shell: in single quotes, each `'` written `'\''`.
pub(super) fn quote(word: &OsStr) -> OsString {
    let mut quoted = Vec::with_capacity(word.len() + 2);
    quoted.push(b'\'');
    for &byte in word.as_bytes() {
        match byte {
            b'\'' => quoted.extend_from_slice(b"'\\''"),
            _ => quoted.push(byte),
        }
    }
    quoted.push(b'\'');
    OsString::from_vec(quoted)
}

/// Words joined with spaces.
pub(super) fn join(words: &[OsString]) -> OsString {
    let mut line = OsString::new();
    for (index, word) in words.iter().enumerate() {
        if index > 0 {
            line.push(" ");
        }
        line.push(word);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `sh` makes of `line`: its words, one a line.
    fn words_of(line: &OsStr) -> String {
        let output = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg({
                let mut script = OsString::from("printf '%s\\n' ");
                script.push(line);
                script
            })
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap()
    }

    #[test]
    fn quoted_words_reach_the_shell_unchanged() {
        let tricky = [
            "plain",
            "two words",
            "it's",
            "'",
            "$HOME `id` $(id) \\ \" ; | & > *",
            "",
            "new\nline",
        ];
        let words: Vec<OsString> = tricky.iter().map(|w| quote(OsStr::new(w))).collect();
        let expected: String = tricky.iter().map(|w| format!("{w}\n")).collect();
        assert_eq!(words_of(&join(&words)), expected);
    }

    /// Runs `line` as sshd would (`sh -c LINE`), here, its stdin held open until the
    /// program is done (end-of-file would kill it), and returns what it printed.
    fn run_as_sshd(line: OsString) -> String {
        use std::io::Read;
        let mut child = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(line)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let mut output = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut output)
            .unwrap();
        drop(stdin);
        assert!(child.wait().unwrap().success());
        output
    }

    #[test]
    fn the_remote_command_runs_the_program_with_its_arguments_environment_and_directory() {
        let printf = Command::new("printf").args(["%s|%s|%s\\n", "a b", "it's", "$HOME"]);
        assert_eq!(
            run_as_sshd(remote_command(&printf, "1-2", None)),
            "a b|it's|$HOME\n"
        );
        let env = Command::new("sh")
            .args(["-c", "echo \"$GREETING|$PWD|$TESTRIG_SPAWN\""])
            .env("GREETING", "hello there")
            .cwd("/");
        assert_eq!(
            run_as_sshd(remote_command(&env, "1-2", Some("/nonexistent".as_ref()))),
            "hello there|/|1-2\n"
        );
    }
}
