use std::path::Path;

use testrig::Environment;

/// Prints the environment's summary and writes its JSON and JUnit reports to
/// `report_dir` (default: the run's directory).
pub(crate) fn finish(env: &Environment, report_dir: Option<&Path>) {
    let report = env.report();
    print!("{}", report.summary());
    let dir = report_dir.unwrap_or_else(|| env.runpath());
    match report.write_to(dir) {
        Ok(files) => println!(
            "reports: {} {}",
            files.json.display(),
            files.junit.display()
        ),
        Err(error) => eprintln!("warning: {error}"),
    }
}
