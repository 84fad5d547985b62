/// A driver option that deserialized but makes no sense (a client to port 0, a
/// retry policy whose `max` is below its `initial`), named by its dotted key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvalidOption {
    /// The dotted key, e.g. `reconnect.max`.
    pub(crate) key: String,
    /// What is wrong.
    pub(crate) message: String,
}

impl InvalidOption {
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}
