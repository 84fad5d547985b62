use std::path::PathBuf;

use crate::process::Command;

/// The test program itself, run again as a helper program: a test that needs a program
/// behaving in a precise way (printing a mebibyte as fast as it can, listening on a port and
/// printing it, starting a daemon of its own) writes it as an ignored test, and spawns this
/// test binary running only that test, with a *mode* in an environment variable.
///
/// No second binary to build or find, and the helper is written in Rust next to the tests that
/// use it. The helper test does nothing when run as an ordinary test (the variable is unset).
///
/// # Examples
/// ```no_run
/// use std::time::Duration;
/// use testrig::process::{Command, Exit, Process};
/// use testrig::testing::HelperProgram;
///
/// const HELPER: HelperProgram = HelperProgram::new("helper_program", "MY_TESTS_HELPER");
///
/// // In the test file: `#[test] #[ignore = "the helper program other tests run"]`.
/// fn helper_program() {
///     match HELPER.mode().as_deref() {
///         None => {}
///         Some("exit-3") => std::process::exit(3),
///         Some(mode) => panic!("unknown helper mode `{mode}`"),
///     }
/// }
///
/// // A test (`#[tokio::test]`).
/// async fn the_helper_exits_with_3() {
///     let runpath = std::env::temp_dir().join("helper-example");
///     let helper = Process::spawn(HELPER.command("exit-3"), &runpath).await.unwrap();
///     assert_eq!(helper.wait(Duration::from_secs(10)).await.unwrap(), Exit::Code(3));
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct HelperProgram {
    test: &'static str,
    variable: &'static str,
}

impl HelperProgram {
    /// The helper program that the ignored test `test` (its full name in the test binary, e.g.
    /// `helper_program` at the top of an integration test file) runs in the mode given by the
    /// environment variable `variable`.
    pub const fn new(test: &'static str, variable: &'static str) -> HelperProgram {
        HelperProgram { test, variable }
    }

    /// The program to run: this test binary.
    ///
    /// # Panics
    /// When the path of the running binary cannot be known (see [`std::env::current_exe`]).
    pub fn program(&self) -> PathBuf {
        std::env::current_exe().expect("the path of the running test binary")
    }

    /// The arguments that make the test binary run only the helper test, ignored as it is, on
    /// one thread, with its output left alone and libtest's own kept short.
    pub fn args(&self) -> [&'static str; 6] {
        [
            "--ignored",
            "--exact",
            self.test,
            "--nocapture",
            "--test-threads=1",
            "--quiet",
        ]
    }

    /// The environment variable that carries the mode.
    pub fn variable(&self) -> &'static str {
        self.variable
    }

    /// A command running the helper program in `mode`.
    pub fn command(&self, mode: &str) -> Command {
        Command::new(self.program())
            .args(self.args())
            .env(self.variable, mode)
    }

    /// Within the helper test: the mode it runs in; `None` when it runs as an ordinary test
    /// (`cargo test -- --ignored`), where it should do nothing.
    pub fn mode(&self) -> Option<String> {
        std::env::var(self.variable).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_runs_this_binary_with_only_the_helper_test_and_the_mode() {
        let helper = HelperProgram::new("helper_program", "TESTRIG_EXAMPLE_HELPER");
        let command = helper.command("lines 3");
        assert_eq!(command.program(), std::env::current_exe().unwrap());
        let args: Vec<_> = command.get_args().collect();
        assert_eq!(args[..3], ["--ignored", "--exact", "helper_program"]);
        let mode = command
            .get_env()
            .find(|(key, _)| *key == "TESTRIG_EXAMPLE_HELPER");
        assert_eq!(
            mode,
            Some(("TESTRIG_EXAMPLE_HELPER".as_ref(), Some("lines 3".as_ref())))
        );
    }
}
