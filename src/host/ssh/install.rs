//! Putting a local file on an SSH host, once: [`Host::install`](crate::Host::install), and
//! finding the `testrig` binary that carries the native iperf engine and the resident agent.
//!
//! A file is installed **by content**: its remote name is its file name and a hash of its
//! bytes (`testrig-3f2a…`), under the remote user's cache directory
//! (`${XDG_CACHE_HOME:-$HOME/.cache}/testrig/bin/`). One command over the connection asks
//! whether that file is there and, only when it is not, receives the bytes on its stdin into a
//! temporary file that is renamed into place once complete, so a copy cut short never
//! passes for the file and two installers racing both end with the same file. A second
//! install of the same file through the same connection costs nothing (remembered); through a
//! fresh connection, one round trip.

use std::collections::HashMap;
use std::ffi::OsString;
use std::hash::Hasher;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use super::error::SshError;
use crate::Host;

/// The remote side: `$1` the file's name in the cache, `$2` its size in bytes. Prints
/// `have <path>` when the file is there; otherwise `need <path>`, reads the bytes on stdin,
/// checks their count and prints `done <path>`.
const RECEIVE: &str = r#"dir="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/testrig/bin"
file="$dir/$1"
if [ -x "$file" ]; then
    echo "have $file"
    exit 0
fi
mkdir -p "$dir" || exit 1
part="$file.part.$$"
echo "need $file"
cat >"$part" || { rm -f "$part"; exit 1; }
size=$(wc -c <"$part" | tr -d ' ')
if [ "$size" != "$2" ]; then
    rm -f "$part"
    echo "received $size of $2 bytes" >&2
    exit 1
fi
chmod 755 "$part" && mv -f "$part" "$file" && echo "done $file"
"#;

/// How long an install may take: a round trip, then the bytes at no less than 10 MiB/s.
fn deadline_for(size: u64) -> Duration {
    Duration::from_secs(30) + Duration::from_secs(size / (10 << 20))
}

/// Installs `local` on `host` (an SSH host named `host_name`), remembering what was installed
/// through its connection in `installed`; see the module.
pub(super) async fn install(
    host: &Host,
    host_name: &str,
    installed: &tokio::sync::Mutex<HashMap<String, PathBuf>>,
    local: &Path,
) -> Result<PathBuf, SshError> {
    let failed = |said: String| SshError::Install {
        host: host_name.to_owned(),
        file: local.to_path_buf(),
        said,
    };
    let local = std::fs::canonicalize(local).map_err(|error| failed(error.to_string()))?;
    let (name, size) = {
        let local = local.clone();
        tokio::task::spawn_blocking(move || cache_name(&local))
            .await
            .map_err(|error| failed(error.to_string()))?
            .map_err(|error| failed(error.to_string()))?
    };
    let mut installed = installed.lock().await;
    if let Some(remote) = installed.get(&name) {
        return Ok(remote.clone());
    }
    let remote = tokio::time::timeout(deadline_for(size), receive(host, &local, &name, size))
        .await
        .map_err(|_| {
            failed(format!(
                "not installed within {:?} ({size} bytes)",
                deadline_for(size)
            ))
        })?
        .map_err(failed)?;
    installed.insert(name, remote.clone());
    Ok(remote)
}

/// The install's one command on `host`: asks for `name`, sends the bytes of `local` when asked.
async fn receive(host: &Host, local: &Path, name: &str, size: u64) -> Result<PathBuf, String> {
    let mut command = std::process::Command::new("sh");
    command
        .arg("-c")
        .arg(RECEIVE)
        .arg("testrig-install")
        .arg(name)
        .arg(size.to_string());
    // Prepared once complete: every word quoted for the remote shell.
    host.prepare(&mut command)
        .map_err(|error| error.to_string())?;
    let mut command = tokio::process::Command::from(command);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|error| error.to_string())?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let errors = tokio::spawn(async move {
        let mut said = String::new();
        let _ = stderr.read_to_string(&mut said).await;
        said
    });
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .await
        .map_err(|error| error.to_string())?;
    let remote = match line.trim_end().split_once(' ') {
        Some(("have", path)) => Some(PathBuf::from(path)),
        Some(("need", _)) => {
            let mut file = tokio::fs::File::open(local)
                .await
                .map_err(|error| error.to_string())?;
            tokio::io::copy(&mut file, &mut stdin)
                .await
                .map_err(|error| format!("sending the file: {error}"))?;
            None
        }
        _ => None,
    };
    drop(stdin);
    if remote.is_none() {
        line.clear();
        stdout
            .read_line(&mut line)
            .await
            .map_err(|error| error.to_string())?;
    }
    let status = child.wait().await.map_err(|error| error.to_string())?;
    let said = errors.await.unwrap_or_default();
    match (remote, line.trim_end().split_once(' ')) {
        (Some(remote), _) if status.success() => Ok(remote),
        (None, Some(("done", path))) if status.success() => Ok(PathBuf::from(path)),
        _ => Err(format!(
            "the remote side failed ({status}): {}",
            said.trim().lines().last().unwrap_or("it said nothing")
        )),
    }
}

/// The name `local` has in the remote cache: its file name, `-`, a hash of its bytes; and its
/// size. Hashes are remembered per path, size and modification time, so a binary is read once
/// per process.
pub(super) fn cache_name(local: &Path) -> std::io::Result<(String, u64)> {
    type Key = (PathBuf, u64, Option<SystemTime>);
    static HASHES: OnceLock<Mutex<HashMap<Key, u64>>> = OnceLock::new();
    let metadata = std::fs::metadata(local)?;
    if !metadata.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let key = (
        local.to_path_buf(),
        metadata.len(),
        metadata.modified().ok(),
    );
    let hashes = HASHES.get_or_init(Default::default);
    let known = hashes.lock().expect("not poisoned").get(&key).copied();
    let hash = match known {
        Some(hash) => hash,
        None => {
            let hash = hash_of(local)?;
            hashes.lock().expect("not poisoned").insert(key, hash);
            hash
        }
    };
    let file_name = local
        .file_name()
        .map_or_else(|| "file".into(), |name| name.to_string_lossy().into_owned());
    let file_name: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok((format!("{file_name}-{hash:016x}"), metadata.len()))
}

/// A hash of the file's bytes (SipHash with fixed keys: stable for a given Rust release; a
/// change of algorithm only costs a second copy).
fn hash_of(path: &Path) -> std::io::Result<u64> {
    #[allow(deprecated)] // SipHasher's fixed keys are what a content name needs.
    let mut hasher = std::hash::SipHasher::new();
    let mut file = std::fs::File::open(path)?;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.write(&buffer[..read]);
    }
    Ok(hasher.finish())
}

/// Finds the local `testrig` binary (it carries the native iperf engine, `testrig iperf3`, and
/// the resident agent). In order: the file named by `TESTRIG_BIN`; this program itself when it
/// is `testrig`; `testrig` beside this program or one directory up (cargo's layout:
/// `target/<profile>/testrig` beside `target/<profile>/deps/` and `examples/`); `testrig` on
/// `PATH`.
///
/// # Errors
/// [`SshError::NoTestrigBinary`] listing the places searched.
pub fn testrig_binary() -> Result<PathBuf, SshError> {
    let mut searched: Vec<PathBuf> = Vec::new();
    if let Some(named) = std::env::var_os("TESTRIG_BIN") {
        let named = PathBuf::from(named);
        if named.is_file() {
            return Ok(named);
        }
        return Err(SshError::NoTestrigBinary {
            searched: format!("TESTRIG_BIN={} (no such file)", named.display()),
        });
    }
    if let Ok(exe) = std::env::current_exe() {
        if exe.file_name() == Some("testrig".as_ref()) {
            return Ok(exe);
        }
        let mut dir = exe.parent();
        for _ in 0..2 {
            let Some(here) = dir else { break };
            searched.push(here.join("testrig"));
            dir = here.parent();
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        searched.extend(std::env::split_paths(&path).map(|dir| dir.join("testrig")));
    }
    searched
        .iter()
        .find(|candidate| candidate.is_file())
        .cloned()
        .ok_or_else(|| SshError::NoTestrigBinary {
            searched: join_paths(&searched),
        })
}

fn join_paths(paths: &[PathBuf]) -> String {
    let words: Vec<OsString> = paths.iter().map(|path| path.clone().into()).collect();
    words
        .iter()
        .map(|word| word.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_named_by_its_content() {
        let dir = std::env::temp_dir().join(format!("testrig-install-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a b"), dir.join("c"));
        std::fs::write(&a, b"same").unwrap();
        std::fs::write(&b, b"same").unwrap();
        let (name_a, size) = cache_name(&a).unwrap();
        let (name_b, _) = cache_name(&b).unwrap();
        assert_eq!(size, 4);
        assert!(name_a.starts_with("a_b-"), "{name_a}");
        assert_eq!(name_a["a_b-".len()..], name_b["c-".len()..]);
        std::fs::write(&b, b"other").unwrap();
        let (name_c, _) = cache_name(&b).unwrap();
        assert_ne!(name_b, name_c);
        assert!(cache_name(&dir).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn deadlines_grow_with_the_size() {
        assert_eq!(deadline_for(0), Duration::from_secs(30));
        assert_eq!(deadline_for(200 << 20), Duration::from_secs(50));
    }
}
