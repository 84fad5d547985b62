use std::fmt::Write;

use super::{Outcome, Report};
use crate::error::Phase;

impl Report {
    /// The report as JUnit XML: one `testsuite` for the environment with a `testcase`
    /// per test case. The drivers are not test cases: each one's kind, final status,
    /// setup and teardown times are `properties` of the suite, their log tails its
    /// `system-out`, their warnings and errors its `system-err`. A start or a teardown
    /// that failed is a failed `testcase` `setup` or `teardown`, so a CI that counts
    /// test cases sees it.
    pub fn to_junit_xml(&self) -> String {
        let mut cases = String::new();
        let (mut tests, mut failures, mut skipped) = (0, 0, 0);
        let mut total = self.setup.unwrap_or_default().as_secs_f64()
            + self.teardown.unwrap_or_default().as_secs_f64();
        let setup_failures = self.setup_failures();
        if !setup_failures.is_empty() {
            tests += 1;
            failures += 1;
            write_failed_phase(
                &mut cases,
                &self.environment,
                "setup",
                self.setup,
                &setup_failures,
            );
        }
        for case in &self.cases {
            tests += 1;
            total += case.duration.as_secs_f64();
            let _ = write!(
                cases,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.6}\">",
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
        let teardown_failures = self.teardown_failures();
        if !teardown_failures.is_empty() {
            tests += 1;
            failures += 1;
            write_failed_phase(
                &mut cases,
                &self.environment,
                "teardown",
                self.teardown,
                &teardown_failures,
            );
        }
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <testsuites name=\"testrig\" tests=\"{tests}\" failures=\"{failures}\" time=\"{total:.6}\">\n  \
             <testsuite name=\"{name}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{total:.6}\"{timestamp}>\n\
             {properties}{cases}{output}  </testsuite>\n</testsuites>\n",
            name = escape(&self.environment),
            timestamp = self
                .started_at
                .map(|t| format!(" timestamp=\"{}\"", humantime::format_rfc3339_seconds(t)))
                .unwrap_or_default(),
            properties = self.driver_properties(),
            output = self.suite_output(),
        )
    }

    /// Each driver as properties: `driver.NAME.kind`, `.status`, `.setup_s`, `.teardown_s`.
    fn driver_properties(&self) -> String {
        if self.drivers.is_empty() {
            return String::new();
        }
        let mut out = String::from("    <properties>\n");
        for driver in &self.drivers {
            let mut property = |key: &str, value: &str| {
                let _ = writeln!(
                    out,
                    "      <property name=\"driver.{}.{key}\" value=\"{}\"/>",
                    escape(&driver.name),
                    escape(value)
                );
            };
            property("kind", &driver.kind);
            property("status", &driver.status.to_string());
            if let Some(setup) = driver.setup {
                property("setup_s", &format!("{:.6}", setup.as_secs_f64()));
            }
            if let Some(teardown) = driver.teardown {
                property("teardown_s", &format!("{:.6}", teardown.as_secs_f64()));
            }
        }
        out.push_str("    </properties>\n");
        out
    }

    /// The drivers' log tails as the suite's `system-out`; their warnings and errors,
    /// and the environment's errors, as its `system-err`.
    fn suite_output(&self) -> String {
        let mut logs = Vec::new();
        let mut problems: Vec<String> = self.errors.clone();
        for driver in &self.drivers {
            logs.extend(
                driver
                    .log_tail
                    .iter()
                    .map(|line| format!("[{}] {line}", driver.name)),
            );
            problems.extend(
                driver
                    .warnings
                    .iter()
                    .map(|warning| format!("driver `{}`: warning: {warning}", driver.name)),
            );
            problems.extend(driver.errors.iter().map(|error| {
                format!(
                    "driver `{}` failed in {:?}: {}",
                    driver.name, error.phase, error.message
                )
            }));
        }
        let mut out = String::new();
        if !logs.is_empty() {
            let _ = writeln!(
                out,
                "    <system-out>{}</system-out>",
                escape(&logs.join("\n"))
            );
        }
        if !problems.is_empty() {
            let _ = writeln!(
                out,
                "    <system-err>{}</system-err>",
                escape(&problems.join("\n"))
            );
        }
        out
    }

    /// The errors of the environment's start: the drivers' start-phase errors, else the
    /// environment's own (a start that failed before any driver recorded one).
    fn setup_failures(&self) -> Vec<String> {
        let drivers = self.driver_errors(|phase| {
            matches!(
                phase,
                Phase::PreStart | Phase::Start | Phase::Ready | Phase::PostStart | Phase::Failover
            )
        });
        if drivers.is_empty() && self.cases.is_empty() && self.outcome == Outcome::Failed {
            return self.errors.clone();
        }
        drivers
    }

    /// The errors of the environment's teardown.
    fn teardown_failures(&self) -> Vec<String> {
        self.driver_errors(|phase| matches!(phase, Phase::PreStop | Phase::Stop | Phase::PostStop))
    }

    fn driver_errors(&self, in_phase: impl Fn(Phase) -> bool) -> Vec<String> {
        self.drivers
            .iter()
            .flat_map(|driver| {
                driver
                    .errors
                    .iter()
                    .filter(|error| in_phase(error.phase))
                    .map(|error| format!("driver `{}`: {}", driver.name, error.message))
            })
            .collect()
    }
}

/// A failed `setup` or `teardown` test case listing what failed.
fn write_failed_phase(
    out: &mut String,
    environment: &str,
    phase: &str,
    time: Option<std::time::Duration>,
    failed: &[String],
) {
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{phase}\" time=\"{:.6}\">\n      \
         <failure message=\"{}\">{}</failure>\n    </testcase>\n",
        escape(environment),
        time.unwrap_or_default().as_secs_f64(),
        escape(first_line(&failed[0])),
        escape(&failed.join("\n"))
    );
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
