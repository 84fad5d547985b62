/// Longest selection spelled out in a report file name.
const MAX_SPELLED: usize = 120;

/// The file name (without extension) of a suite's report.
///
/// The suite's name when the run covered the suite: every case, or every case
/// that runs by default (there being some). Else the suite's name and the
/// selected cases, so that processes running different cases (nextest runs
/// one case per process) do not overwrite each other's reports:
/// `echo.ping_pong`, `echo.a+b`, or `echo.a+3-more` when the list is long.
pub(crate) fn report_stem(
    suite: &str,
    cases: &[&str],
    default_cases: &[&str],
    selected: &[&str],
) -> String {
    let covers = |wanted: &[&str]| wanted.iter().all(|case| selected.contains(case));
    if covers(cases) || (!default_cases.is_empty() && covers(default_cases)) {
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
        assert_eq!(
            report_stem("echo", &["a", "b"], &["a", "b"], &["a", "b"]),
            "echo"
        );
        let with_ignored = ["a", "ignored"];
        assert_eq!(report_stem("echo", &with_ignored, &["a"], &["a"]), "echo");
        assert_eq!(
            report_stem("echo", &with_ignored, &["a"], &with_ignored),
            "echo"
        );
        assert_eq!(report_stem("echo", &["ignored"], &[], &["ignored"]), "echo");
    }

    #[test]
    fn a_narrowed_run_is_named_after_the_cases_it_selected() {
        assert_eq!(
            report_stem("echo", &["a", "b"], &["a", "b"], &["b"]),
            "echo.b"
        );
        let abc = ["a", "b", "c"];
        assert_eq!(report_stem("echo", &abc, &abc, &["a", "c"]), "echo.a+c");
        // Every case ignored: one of them is not the whole suite.
        assert_eq!(report_stem("echo", &["x", "y"], &[], &["y"]), "echo.y");
    }

    #[test]
    fn a_long_selection_is_abbreviated() {
        let names: Vec<String> = (0..40).map(|i| format!("case_{i}")).collect();
        let all: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(
            report_stem("echo", &all, &all, &all[1..]),
            "echo.case_1+38-more"
        );
    }
}
