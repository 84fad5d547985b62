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
