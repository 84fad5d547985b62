/// A suite definition the runner refuses, before running anything.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SuiteError {
    /// A suite or case name that cannot be used in a test name.
    #[error("{what} name `{name}` is invalid: {reason}")]
    InvalidName {
        /// `"suite"` or `"case"` (with its suite: `"case of suite `echo`"`).
        what: String,
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// Two suites of one binary share a name.
    #[error("two suites are named `{name}`")]
    DuplicateSuite {
        /// The repeated name.
        name: String,
    },
    /// Two cases of one suite share a name.
    #[error("suite `{suite}` has two cases named `{case}`")]
    DuplicateCase {
        /// The suite.
        suite: String,
        /// The repeated case name.
        case: String,
    },
}

/// Why `name` cannot name a suite or case, if it cannot.
pub(crate) fn invalid_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.contains("::") {
        Some("it cannot contain `::` (the separator between suite and case)")
    } else if name.chars().any(char::is_whitespace) {
        Some("it cannot contain whitespace (test names are command-line arguments)")
    } else {
        None
    }
}
