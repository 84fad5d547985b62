//! `testrig check`: every shipped rig is valid; the command line is explained.

use crate::support::{printed, repo, run, scratch};

#[test]
fn every_rig_in_examples_rigs_passes_check() {
    let mut checked = 0;
    for entry in std::fs::read_dir(repo().join("examples/rigs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let relative = format!(
                "examples/rigs/{}",
                path.file_name().unwrap().to_str().unwrap()
            );
            let output = run(&["check", &relative]);
            assert_eq!(
                output.status.code(),
                Some(0),
                "{relative}\n{}",
                printed(&output)
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 2,
        "examples/rigs holds tcp.toml and quickstart.toml"
    );
}

#[test]
fn check_names_the_drivers_and_counts_the_steps() {
    let output = run(&["check", "examples/rigs/quickstart.toml"]);
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "examples/rigs/quickstart.toml: rig `quickstart` is valid: 4 driver(s) \
         [server (tcp_server), client (tcp_client), receiver (iperf_server), \
         sender (iperf_client)], 4 step(s)\n"
    );
}

#[test]
fn every_toml_block_of_the_cli_guide_parses_and_every_complete_rig_passes_check() {
    let guide = std::fs::read_to_string(repo().join("docs/cli.md")).unwrap();
    let dir = scratch("guide-rigs");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in guide.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```toml") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), text) => {
                block.push_str(text);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    for block in &blocks {
        toml::from_str::<toml::Table>(block)
            .unwrap_or_else(|e| panic!("a TOML block of docs/cli.md is not TOML: {e}\n{block}"));
    }
    let complete: Vec<_> = blocks.iter().filter(|b| b.contains("[rig]")).collect();
    assert!(complete.len() >= 2, "the guide shows complete rigs");
    for (i, block) in complete.iter().enumerate() {
        let path = dir.join(format!("guide-{i}.toml"));
        std::fs::write(&path, block).unwrap();
        let output = run(&["check", path.to_str().unwrap()]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "rig {i} of docs/cli.md:\n{block}\n{}",
            printed(&output)
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn help_lists_the_commands_and_the_exit_codes() {
    let output = run(&["--help"]);
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    let help = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "check",
        "up",
        "run",
        "Exit codes:",
        "2  the rig could not start",
        "3  bad rig file",
    ] {
        assert!(help.contains(expected), "{expected:?} in\n{help}");
    }
}

#[test]
fn a_wrong_command_line_exits_4() {
    let output = run(&["frobnicate"]);
    assert_eq!(output.status.code(), Some(4), "{}", printed(&output));
    let output = run(&["check"]);
    assert_eq!(output.status.code(), Some(4), "{}", printed(&output));
}

#[test]
fn a_missing_rig_file_exits_3_naming_the_file() {
    let output = run(&["check", "no/such/rig.toml"]);
    assert_eq!(output.status.code(), Some(3), "{}", printed(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .starts_with("error: cannot read rig file no/such/rig.toml: "),
        "{}",
        printed(&output)
    );
}
