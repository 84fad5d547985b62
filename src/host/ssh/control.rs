//! The directory of a host's control socket, and the options of a client multiplexed over its
//! master.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The options of a client multiplexed over the master of `control`: never a connection of
/// its own (`ControlMaster=no`, and port 9 should the socket be gone), never a prompt.
pub(super) fn client_args(control: &ControlDir) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["-S".into(), control.socket().into()];
    for option in ["ControlMaster=no", "BatchMode=yes", "LogLevel=ERROR"] {
        args.push("-o".into());
        args.push(option.into());
    }
    args.push("-p".into());
    args.push("9".into());
    args
}

/// The directory of a host's control socket and its master's logs, removed with the host.
#[derive(Debug)]
pub(super) struct ControlDir {
    path: PathBuf,
}

impl ControlDir {
    /// A fresh directory under the system temp directory, short enough for a Unix socket path.
    pub(super) fn create() -> std::io::Result<ControlDir> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let number = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("testrig-ssh-{}-{number}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        Ok(ControlDir { path })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn socket(&self) -> PathBuf {
        self.path.join("master")
    }

    /// The master's log (`ssh -E`).
    pub(super) fn log(&self) -> PathBuf {
        self.path.join("master.log")
    }
}

impl Drop for ControlDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
