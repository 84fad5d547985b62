use testrig::{RefKey, Template};

/// Reads a string of a field that takes either plain text or one reference:
/// `Ok(None)` for plain text, `Ok(Some(key))` for exactly `"${driver.key}"`,
/// an error for a malformed placeholder or text mixed with references.
pub(crate) fn single_reference(text: &str) -> Result<Option<RefKey>, String> {
    let template = Template::parse(text).map_err(|e| e.to_string())?;
    match template.references().as_slice() {
        [] => Ok(None),
        [only] if template.to_string() == format!("${{{only}}}") => Ok(Some(only.clone())),
        _ => Err(format!(
            "\"{text}\" mixes text and references; this key takes plain text or one reference such as \"${{server.port}}\""
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_a_lone_reference_and_mixtures_are_told_apart() {
        assert_eq!(single_reference("127.0.0.1"), Ok(None));
        assert_eq!(
            single_reference("${server.port}")
                .unwrap()
                .unwrap()
                .to_string(),
            "server.port"
        );
        assert!(single_reference("x${server.port}").is_err());
        assert!(
            single_reference("${port}")
                .unwrap_err()
                .contains("must be `${driver.key}`")
        );
    }
}
