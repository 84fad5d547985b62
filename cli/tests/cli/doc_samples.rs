//! The sample output in docs/cli.md is what `testrig run` really prints for the quick
//! start rig, with times, ports, sizes and paths masked.

use regex::Regex;

use crate::support::{printed, repo, run, scratch};

/// Masks what differs from run to run: paths, durations, then any other number; and
/// collapses the column padding that depends on them.
fn masked(line: &str) -> String {
    let path = Regex::new(r"/[^\s]+").unwrap();
    let duration = Regex::new(r"\d+(\.\d+)?\s?(µs|ms|s)\b").unwrap();
    let number = Regex::new(r"\d+(\.\d+)?").unwrap();
    let line = path.replace_all(line, "PATH");
    let line = duration.replace_all(&line, "TIME");
    let line = number.replace_all(&line, "N");
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `text` block that follows `heading` in a doc, without its elision lines (`...`).
fn sample_after(doc: &str, heading: &str) -> Vec<String> {
    let from = doc.find(heading).expect("the heading is in the doc");
    let block = &doc[from..];
    let start = block.find("```text\n").expect("a text block follows") + "```text\n".len();
    let end = start + block[start..].find("```").expect("the block ends");
    block[start..end]
        .lines()
        .filter(|line| line.trim() != "...")
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_cli_guide_shows_what_run_prints_for_the_quickstart_rig() {
    let doc = std::fs::read_to_string(repo().join("docs/cli.md")).unwrap();
    let sample = sample_after(&doc, "### What it prints");
    assert!(sample.len() > 10, "the sample is there: {sample:?}");

    let dir = scratch("doc-sample");
    let output = run(&[
        "run",
        "examples/rigs/quickstart.toml",
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    let real: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(masked)
        .collect();
    for line in &sample {
        assert!(
            real.contains(&masked(line)),
            "docs/cli.md shows a line `testrig run` does not print:\n  {line}\nmasked: {}\nreal output, masked:\n{}",
            masked(line),
            real.join("\n")
        );
    }
    // The counts are not masked away: the header names them.
    let header = String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let counts = |line: &str| {
        line.split(':')
            .next_back()
            .map(str::trim)
            .map(str::to_owned)
    };
    assert_eq!(counts(&header), counts(&sample[0]), "{header}");
    std::fs::remove_dir_all(dir).unwrap();
}
