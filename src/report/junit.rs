use std::fmt::Write;

use super::{Outcome, Report};

impl Report {
    /// The report as JUnit XML: one `testsuite` for the environment, a `testcase`
    /// per driver (its setup + teardown, failed when it recorded errors, its log
    /// tail as `system-out` and its warnings as `system-err`) and per test case.
    pub fn to_junit_xml(&self) -> String {
        let mut cases = String::new();
        let (mut tests, mut failures, mut skipped) = (0, 0, 0);
        let mut total = 0.0;
        for driver in &self.drivers {
            tests += 1;
            let time = driver.setup.unwrap_or_default() + driver.teardown.unwrap_or_default();
            total += time.as_secs_f64();
            let _ = write!(
                cases,
                "    <testcase classname=\"{}.drivers\" name=\"{}\" time=\"{:.6}\">",
                escape(&self.environment),
                escape(&driver.name),
                time.as_secs_f64()
            );
            if let Some(first) = driver.errors.first() {
                failures += 1;
                let body: Vec<&str> = driver.errors.iter().map(|e| e.message.as_str()).collect();
                let _ = write!(
                    cases,
                    "\n      <failure message=\"{}\" type=\"{:?}\">{}</failure>",
                    escape(first_line(&first.message)),
                    first.phase,
                    escape(&body.join("\n"))
                );
            }
            if !driver.log_tail.is_empty() {
                let _ = write!(
                    cases,
                    "\n      <system-out>{}</system-out>",
                    escape(&driver.log_tail.join("\n"))
                );
            }
            if !driver.warnings.is_empty() {
                let warnings: Vec<String> = driver
                    .warnings
                    .iter()
                    .map(|warning| format!("warning: {warning}"))
                    .collect();
                let _ = write!(
                    cases,
                    "\n      <system-err>{}</system-err>",
                    escape(&warnings.join("\n"))
                );
            }
            cases.push_str("\n    </testcase>\n");
        }
        for case in &self.cases {
            tests += 1;
            total += case.duration.as_secs_f64();
            let _ = write!(
                cases,
                "    <testcase classname=\"{}.cases\" name=\"{}\" time=\"{:.6}\">",
                escape(&self.environment),
                escape(&case.name),
                case.duration.as_secs_f64()
            );
            match case.outcome {
                Outcome::Passed => {}
                Outcome::Failed => {
                    failures += 1;
                    let message = case.message.as_deref().unwrap_or("failed");
                    let _ = write!(
                        cases,
                        "\n      <failure message=\"{}\">{}</failure>",
                        escape(first_line(message)),
                        escape(message)
                    );
                }
                Outcome::NotRun => {
                    skipped += 1;
                    let message = case.message.as_deref().unwrap_or("not run");
                    let _ = write!(
                        cases,
                        "\n      <skipped message=\"{}\"/>",
                        escape(first_line(message))
                    );
                }
            }
            cases.push_str("\n    </testcase>\n");
        }
        let errors = if self.errors.is_empty() {
            String::new()
        } else {
            format!(
                "    <system-err>{}</system-err>\n",
                escape(&self.errors.join("\n"))
            )
        };
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <testsuites name=\"testrig\" tests=\"{tests}\" failures=\"{failures}\" time=\"{total:.6}\">\n  \
             <testsuite name=\"{name}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{total:.6}\"{timestamp}>\n\
             {cases}{errors}  </testsuite>\n</testsuites>\n",
            name = escape(&self.environment),
            timestamp = self
                .started_at
                .map(|t| format!(" timestamp=\"{}\"", humantime::format_rfc3339_seconds(t)))
                .unwrap_or_default(),
        )
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// Escapes text for XML attributes and content; drops characters XML 1.0 forbids.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escape_handles_markup_and_control_characters() {
        assert_eq!(
            escape("a<b>&\"'\u{1}"),
            "a&lt;b&gt;&amp;&quot;&apos;\u{FFFD}"
        );
    }
}
