use testrig::{RefKey, Template, ValueTable};

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

/// Reads a string of a field that is settled before any driver starts (a path,
/// a program, a readiness regex), so it cannot hold references: the text with
/// `$$` turned into `$`, or an error naming the reference and what to write
/// instead (`instead`, e.g. "write the path itself").
pub(crate) fn without_references(text: &str, instead: &str) -> Result<String, String> {
    let template = Template::parse(text).map_err(|e| e.to_string())?;
    if let Some(reference) = template.references().first() {
        return Err(format!(
            "\"{text}\": this key is settled before any driver starts, so it cannot hold a reference such as `${{{reference}}}`; {instead} (`$$` is a `$` that starts no reference)"
        ));
    }
    template
        .render(&ValueTable::new())
        .map_err(|e| e.to_string())
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

    #[test]
    fn text_settled_before_the_start_refuses_references_and_unescapes_dollars() {
        assert_eq!(
            without_references("bin/a$$b $HOME", "x"),
            Ok("bin/a$b $HOME".into())
        );
        let error = without_references("${server.dir}/bin", "write the path itself").unwrap_err();
        assert!(
            error
                .contains("cannot hold a reference such as `${server.dir}`; write the path itself"),
            "{error}"
        );
        assert!(
            without_references("${dir}", "x")
                .unwrap_err()
                .contains("must be `${driver.key}`")
        );
    }
}
