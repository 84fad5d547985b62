//! Relative paths in a rig are taken from the rig file's directory, whatever
//! directory `testrig` runs in.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::support::{printed, read_reports, scratch, testrig};

const PATHS_RIG: &str = r#"
[rig]
name = "paths"

[[driver]]
name = "server"
kind = "tcp_server"

# A program named by a path relative to this file, run in a working directory
# relative to this file; its readiness line goes to a log file relative to its
# working directory.
[[driver]]
name = "tool"
kind = "app"
binary = "bin/tool.sh"
args = ["${server.port}"]
cwd = "work"
ready_log_file = { path = "logs/tool.log", regex = 'port \d+ in (?P<dir>\S+)' }

# A task named with `./`, run in this file's directory, reading a file next to it.
[[driver]]
name = "task"
kind = "app"
binary = "./bin/task.sh"
cwd = "."
expect_exit = 0

[[step]]
kind = "wait_for_process"
driver = "task"
timeout = "10s"
expect_output = '^read: hello from the rig directory$$'
"#;

/// `<dir>/project/rigs/paths.toml` with its programs and data next to it;
/// returns the rig file.
fn project(dir: &Path) -> PathBuf {
    let rigs = dir.join("project/rigs");
    for sub in ["bin", "work", "data"] {
        std::fs::create_dir_all(rigs.join(sub)).unwrap();
    }
    let script = |name: &str, text: &str| {
        let path = rigs.join("bin").join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    script(
        "tool.sh",
        "#!/bin/sh\necho \"port $1 in $(pwd)\" >> logs/tool.log\nexec sleep 600\n",
    );
    script(
        "task.sh",
        "#!/bin/sh\nprintf 'read: '\ncat data/input.txt\n",
    );
    std::fs::write(
        rigs.join("data/input.txt"),
        "hello from the rig directory\n",
    )
    .unwrap();
    let rig = rigs.join("paths.toml");
    std::fs::write(&rig, PATHS_RIG).unwrap();
    rig
}

#[test]
fn relative_paths_in_a_rig_are_taken_from_its_directory_whatever_the_working_directory() {
    let dir = scratch("paths");
    let rig = project(&dir);
    let rigs = rig.parent().unwrap().canonicalize().unwrap();
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    // The rig named by its absolute path from an unrelated directory, and by a
    // relative path from a directory above it.
    let runs = [
        (elsewhere.clone(), rig.to_str().unwrap().to_owned()),
        (dir.join("project"), "rigs/paths.toml".to_owned()),
    ];
    for (number, (cwd, rig_arg)) in runs.iter().enumerate() {
        let reports = dir.join(format!("reports-{number}"));
        let output = testrig(&["run", rig_arg, "--report-dir", reports.to_str().unwrap()])
            .current_dir(cwd)
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "from {}:\n{}",
            cwd.display(),
            printed(&output)
        );
        let report = read_reports(&reports, "paths");
        let tool = report.drivers.iter().find(|d| d.name == "tool").unwrap();
        let work = Path::new(&tool.exports["dir"].to_string())
            .canonicalize()
            .unwrap();
        assert_eq!(
            work,
            rigs.join("work"),
            "`cwd` is taken from the rig's directory"
        );
        let log = std::fs::read_to_string(rigs.join("work/logs/tool.log")).unwrap();
        assert_eq!(
            log.lines().count(),
            1,
            "the log file is in the working directory, fresh for each run:\n{log}"
        );
    }
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "nothing is written where testrig runs"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_missing_program_named_by_a_relative_path_is_reported_at_its_place_in_the_rig_directory() {
    let dir = scratch("paths-missing");
    let rigs = dir.join("rigs");
    std::fs::create_dir_all(&rigs).unwrap();
    let rig = rigs.join("missing.toml");
    std::fs::write(
        &rig,
        "[rig]\nname = \"missing\"\n\n[[driver]]\nname = \"ghost\"\nkind = \"app\"\nbinary = \"bin/ghost\"\n",
    )
    .unwrap();
    let output = testrig(&[
        "up",
        rig.to_str().unwrap(),
        "--report-dir",
        dir.to_str().unwrap(),
    ])
    .current_dir(std::env::temp_dir())
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", printed(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!("binary `{}` not found", rigs.join("bin/ghost").display());
    assert!(
        stderr.contains(&expected),
        "{expected}\n{}",
        printed(&output)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_iperf3_program_named_by_a_relative_path_is_taken_from_the_rig_directory() {
    let dir = scratch("paths-iperf3");
    let rigs = dir.join("rigs");
    std::fs::create_dir_all(&rigs).unwrap();
    let rig = rigs.join("iperf3.toml");
    std::fs::write(
        &rig,
        "[rig]\nname = \"iperf3\"\n\n[[driver]]\nname = \"server\"\nkind = \"iperf_server\"\n\
         engine = \"iperf3\"\niperf3_program = \"tools/iperf3\"\n",
    )
    .unwrap();
    let output = testrig(&[
        "up",
        rig.to_str().unwrap(),
        "--report-dir",
        dir.to_str().unwrap(),
    ])
    .current_dir(std::env::temp_dir())
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", printed(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let resolved = rigs.join("tools/iperf3").display().to_string();
    assert!(
        stderr.contains(&resolved),
        "{resolved}\n{}",
        printed(&output)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_example_rigs_run_from_another_working_directory() {
    let dir = scratch("paths-examples");
    let examples = crate::support::repo()
        .join("examples/rigs")
        .canonicalize()
        .unwrap();
    for example in ["quickstart", "app"] {
        let rig = examples.join(format!("{example}.toml"));
        let output = testrig(&[
            "run",
            rig.to_str().unwrap(),
            "--report-dir",
            dir.to_str().unwrap(),
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{example}\n{}",
            printed(&output)
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}
