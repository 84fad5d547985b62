//! A command line the `iperf3` example cannot run gets what the real iperf3 3.12 prints for
//! it: getopt's complaint and the usage on standard error for a flag it does not know or that
//! lacks its value; `parameter error - …` on standard error and the usage on standard output
//! for a value it refuses; exit status 1 either way.

mod iperf_support;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

/// The usage's first two lines, iperf3's.
const USAGE_START: &str =
    "Usage: iperf3 [-s|-c host] [options]\n       iperf3 [-h|--help] [-v|--version]\n";

/// Runs `program` as `iperf3` (getopt names the program as it was called: as found on the
/// `PATH`, that is `iperf3`) with `args`; it must end within 10 s (these fail before any
/// connection).
async fn run(program: &Path, args: &[&str]) -> Output {
    let child = tokio::process::Command::new(program)
        .arg0("iperf3")
        .args(args)
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(10), child)
        .await
        .unwrap_or_else(|_| panic!("{} {args:?} did not end within 10 s", program.display()))
        .expect("the program runs")
}

/// What a consumer of the output sees: the status, the first line of standard error, and
/// where the usage went.
#[derive(Debug, PartialEq)]
struct Refusal {
    status: Option<i32>,
    complaint: String,
    usage_on_stdout: bool,
    usage_on_stderr: bool,
}

impl Refusal {
    fn of(output: &Output) -> Self {
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        Self {
            status: output.status.code(),
            complaint: stderr.lines().next().unwrap_or_default().to_owned(),
            usage_on_stdout: stdout.starts_with(USAGE_START),
            usage_on_stderr: stderr.contains(USAGE_START),
        }
    }
}

#[tokio::test]
async fn unknown_flags_and_missing_values_get_getopts_words_and_the_usage_on_stderr() {
    let binary = iperf3_or_skip!();
    let example = iperf_support::example_iperf3();
    for args in [
        &["--bogus"][..],
        &["-x"],
        &["-c"],
        &["-c", "127.0.0.1", "-p"],
        &["-c", "127.0.0.1", "--port"],
        &["-c", "127.0.0.1", "--fq-rate"],
        &["-s", "--frobnicate"],
    ] {
        let theirs = Refusal::of(&run(&binary, args).await);
        let ours = Refusal::of(&run(&example, args).await);
        assert_eq!(ours, theirs, "{args:?}");
        assert!(ours.usage_on_stderr && !ours.usage_on_stdout, "{args:?}");
    }
}

#[tokio::test]
async fn refused_values_get_iperf3s_parameter_error_words_and_the_usage_on_stdout() {
    let binary = iperf3_or_skip!();
    let example = iperf_support::example_iperf3();
    for args in [
        &["-p", "5201"][..],
        &["-s", "-c", "127.0.0.1"],
        &["-s", "-p", "99999"],
        &["-c", "127.0.0.1", "-p", "0"],
        &["-c", "127.0.0.1", "--cport", "70000"],
        &["-c", "127.0.0.1", "-P", "200"],
        &["-c", "127.0.0.1", "-u", "-l", "70000"],
        &["-c", "127.0.0.1", "-l", "2M"],
        &["-c", "127.0.0.1", "-i", "0.05"],
        &["-c", "127.0.0.1", "-t", "100000"],
        &["-c", "127.0.0.1", "-t", "1", "-n", "1M"],
        &["-c", "127.0.0.1", "-R", "--bidir"],
        &["-c", "127.0.0.1", "-S", "300"],
        &["-c", "127.0.0.1", "-M", "10000"],
        &["-c", "127.0.0.1", "-w", "1G"],
        &["-c", "127.0.0.1", "-b", "1M/2000"],
        &["-c", "127.0.0.1", "-f", "x"],
        &["-c", "127.0.0.1", "--snd-timeout", "99999999999"],
        &["-c", "127.0.0.1", "-R", "--rcv-timeout", "5"],
    ] {
        let theirs = run(&binary, args).await;
        let ours = run(&example, args).await;
        assert_eq!(Refusal::of(&ours), Refusal::of(&theirs), "{args:?}");
        assert!(
            Refusal::of(&ours)
                .complaint
                .starts_with("iperf3: parameter error - "),
            "{args:?}"
        );
        // After the complaint, an empty line, as iperf3 prints it.
        assert_eq!(
            String::from_utf8_lossy(&ours.stderr),
            String::from_utf8_lossy(&theirs.stderr),
            "{args:?}"
        );
    }
}

#[tokio::test]
async fn values_iperf3_lets_through_are_refused_here_in_its_shape_naming_the_flag() {
    // iperf3 3.12 reads these with atoi and tries them; this engine refuses them before
    // connecting, as a parameter error that names what is wrong.
    let example = iperf_support::example_iperf3();
    for (args, words) in [
        (&["-c", "127.0.0.1", "-t", "abc"][..], "\"abc\" for --time"),
        (&["-c", "127.0.0.1", "-P", "0"], "parallel \"0\""),
        (&["-c", "127.0.0.1", "-l", "0"], "block_size \"0\""),
        (&["-c", "127.0.0.1", "-b", "10Q"], "\"10Q\" for --bitrate"),
    ] {
        let output = run(&example, args).await;
        let refusal = Refusal::of(&output);
        assert_eq!(refusal.status, Some(1), "{args:?}");
        assert!(
            refusal.complaint.starts_with("iperf3: parameter error - ")
                && refusal.complaint.contains(words),
            "{args:?}: {refusal:?}"
        );
        assert!(refusal.usage_on_stdout, "{args:?}");
    }
}

#[tokio::test]
async fn an_address_of_the_other_family_than_4_or_6_asks_gets_getaddrinfos_words() {
    let binary = iperf3_or_skip!();
    let example = iperf_support::example_iperf3();
    for args in [
        &["-c", "127.0.0.1", "-6", "-t", "1"][..],
        &["-c", "::1", "-4", "-t", "1"],
    ] {
        let theirs = run(&binary, args).await;
        let ours = run(&example, args).await;
        assert_eq!(Refusal::of(&ours), Refusal::of(&theirs), "{args:?}");
        assert_eq!(
            Refusal::of(&ours).complaint,
            "iperf3: error - unable to connect to server: Address family for hostname not supported",
            "{args:?}"
        );
    }
}
