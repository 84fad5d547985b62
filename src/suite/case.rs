use std::fmt;
use std::future::Future;
use std::time::Duration;

use super::step::Step;
use crate::env::Environment;
use crate::error::BoxError;

/// One test case of a [`Suite`](super::Suite): an async body that gets the
/// suite's started [`Environment`] (drivers by name and concrete type through
/// [`Environment::get`]).
///
/// [`Suite::case`](super::Suite::case) covers the common case; build a `Case`
/// for a per-case timeout or to mark it ignored.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use testrig::suite::Case;
///
/// let case = Case::new("slow_handshake", |env| async move {
///     assert!(env.resource("server").is_ok());
///     Ok(())
/// })
/// .timeout(Duration::from_secs(5))
/// .ignored();
/// ```
#[must_use]
pub struct Case {
    pub(crate) name: String,
    pub(crate) body: Step,
    pub(crate) timeout: Option<Duration>,
    pub(crate) ignored: bool,
}

impl Case {
    /// A case called `name` running `body`. The body returns
    /// `Result<(), BoxError>`: a plain `Ok(())` passes, and `?` takes any error
    /// (`testrig::Error`, `std::io::Error`, a `String`…). It fails the case by returning
    /// an error or by panicking (an `assert!`). A driver that fails during the case and
    /// is still `Failed` at its end fails it too, unless the case declared it
    /// with [`Environment::expect_failure`].
    pub fn new<F, Fut>(name: impl Into<String>, body: F) -> Self
    where
        F: FnOnce(Environment) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        Self {
            name: name.into(),
            body: Step::new(body),
            timeout: None,
            ignored: false,
        }
    }

    /// Cancels the body and fails the case when it runs longer than `timeout`
    /// (default: the suite's [`timeout`](super::Suite::timeout)).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Marks the case ignored: it runs only with `--ignored` or
    /// `--include-ignored` (`cargo nextest run --run-ignored …`).
    pub fn ignored(mut self) -> Self {
        self.ignored = true;
        self
    }
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Case")
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .field("ignored", &self.ignored)
            .finish_non_exhaustive()
    }
}
