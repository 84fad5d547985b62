/// Longest selection spelled out in a report file name.
const MAX_SPELLED: usize = 120;

/// The file name (without extension) of a suite's report.
///
/// The suite's name when the run covered the suite (every case that runs by
/// default was selected); else the suite's name and the selected cases, so
/// that processes running different cases (nextest runs one case per process)
/// do not overwrite each other's reports: `echo.ping_pong`, `echo.a+b`, or
/// `echo.a+3-more` when the list is long.
pub(crate) fn report_stem(suite: &str, default_cases: &[&str], selected: &[&str]) -> String {
    if default_cases.iter().all(|case| selected.contains(case)) {
        return suite.to_owned();
    }
    let spelled = selected.join("+");
    match selected {
        [first, rest @ ..] if spelled.len() > MAX_SPELLED => {
            format!("{suite}.{first}+{}-more", rest.len())
        }
        _ => format!("{suite}.{spelled}"),
    }
}

#[cfg(test)]
mod tests {
    use super::report_stem;

    #[test]
    fn a_run_of_every_default_case_is_named_after_the_suite() {
        assert_eq!(report_stem("echo", &["a", "b"], &["a", "b"]), "echo");
        assert_eq!(report_stem("echo", &["a"], &["a", "ignored"]), "echo");
        assert_eq!(report_stem("echo", &[], &["ignored"]), "echo");
    }

    #[test]
    fn a_narrowed_run_is_named_after_the_cases_it_selected() {
        assert_eq!(report_stem("echo", &["a", "b"], &["b"]), "echo.b");
        assert_eq!(report_stem("echo", &["a", "b", "c"], &["a", "c"]), "echo.a+c");
    }

    #[test]
    fn a_long_selection_is_abbreviated() {
        let names: Vec<String> = (0..40).map(|i| format!("case_{i}")).collect();
        let all: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(
            report_stem("echo", &all, &all[1..]),
            "echo.case_1+38-more"
        );
    }
}
