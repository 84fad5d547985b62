use std::path::{Path, PathBuf};

/// A fresh, empty directory for one test's files (an environment's runpath, a process's logs),
/// removed when the test passes and kept when it fails, for its logs.
///
/// # Examples
/// ```
/// use testrig::Environment;
/// use testrig::testing::ScratchDir;
///
/// // In an integration test, `env!("CARGO_TARGET_TMPDIR")` is a good parent.
/// let scratch = ScratchDir::new(std::env::temp_dir().join("my-tests"), "echo_survives_a_restart");
/// let env = Environment::builder("echo").runpath(scratch.path()).build()?;
/// # Ok::<_, testrig::BuildError>(())
/// ```
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// The directory `<parent>/<test>-<pid>`: owned by this run of the test program (runs in
    /// parallel do not share it), emptied if an earlier run with the same pid left it.
    ///
    /// # Panics
    /// When the directory cannot be created.
    pub fn new(parent: impl AsRef<Path>, test: &str) -> ScratchDir {
        let path = parent
            .as_ref()
            .join(format!("{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        if let Err(error) = std::fs::create_dir_all(&path) {
            panic!(
                "cannot create the scratch directory {}: {error}",
                path.display()
            );
        }
        ScratchDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    /// Removes the directory, unless the test is failing (the thread panics): then what the
    /// test's programs wrote there helps.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_is_fresh_and_removed_when_dropped() {
        let parent = std::env::temp_dir().join("testrig-scratch-dir-tests");
        let stale = parent.join(format!("fresh-{}", std::process::id()));
        std::fs::create_dir_all(&stale).unwrap();
        std::fs::write(stale.join("left over"), "").unwrap();

        let scratch = ScratchDir::new(&parent, "fresh");
        assert_eq!(scratch.path(), stale);
        assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
        drop(scratch);
        assert!(!stale.exists());
    }

    #[test]
    fn a_failing_test_keeps_its_directory() {
        let parent = std::env::temp_dir().join("testrig-scratch-dir-tests");
        let kept = std::thread::spawn(move || {
            let scratch = ScratchDir::new(&parent, "failing");
            let path = scratch.path().to_owned();
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                let _owned = scratch;
                panic!("the test fails");
            }));
            path
        })
        .join()
        .unwrap();
        assert!(kept.exists());
        std::fs::remove_dir_all(kept).unwrap();
    }
}
