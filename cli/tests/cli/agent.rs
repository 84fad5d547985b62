//! `testrig agent` (hidden), spoken to as an SSH host's connection would: frames on stdin,
//! frames on stdout (see `testrig::host::ssh`'s agent protocol).

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(20);

fn frame(id: u32, kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut bytes = id.to_be_bytes().to_vec();
    bytes.push(kind);
    bytes.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

fn field(tag: u8, value: &str) -> Vec<u8> {
    let mut bytes = vec![tag];
    bytes.extend_from_slice(&u32::try_from(value.len()).unwrap().to_be_bytes());
    bytes.extend_from_slice(value.as_bytes());
    bytes
}

/// Reads frames `(id, kind, payload)` from `output` after the preamble, on a thread.
fn frames(mut output: impl Read + Send + 'static) -> mpsc::Receiver<(u32, u8, Vec<u8>)> {
    let (sender, frames) = mpsc::channel();
    std::thread::spawn(move || {
        let mut preamble = [0; 16];
        output.read_exact(&mut preamble).unwrap();
        assert_eq!(&preamble, b"TESTRIG-AGENT 2\n");
        loop {
            let mut header = [0; 9];
            if output.read_exact(&mut header).is_err() {
                return;
            }
            let id = u32::from_be_bytes(header[..4].try_into().unwrap());
            let length = u32::from_be_bytes(header[5..].try_into().unwrap());
            let mut payload = vec![0; length as usize];
            output.read_exact(&mut payload).unwrap();
            if sender.send((id, header[4], payload)).is_err() {
                return;
            }
        }
    });
    frames
}

#[test]
fn the_agent_runs_a_program_streams_its_output_reports_its_end_and_ends_with_its_stdin() {
    let mut agent = Command::new(env!("CARGO_BIN_EXE_testrig"))
        .arg("agent")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = agent.stdin.take().unwrap();
    let frames = frames(agent.stdout.take().unwrap());
    let next = || frames.recv_timeout(PATIENCE).expect("a frame in time");

    let (id, kind, _) = next();
    assert_eq!((id, kind), (0, 0x80), "hello first");

    // sh -c 'echo "$GREETING"; echo oops >&2; exit 3', GREETING=hi
    let spawn = [
        field(b'p', "sh"),
        field(b'a', "-c"),
        field(b'a', "echo \"$GREETING\"; echo oops >&2; exit 3"),
        field(b'e', "GREETING=hi"),
    ]
    .concat();
    stdin.write_all(&frame(1, 1, &spawn)).unwrap();
    let missing = [field(b'p', "no-such-program-here")].concat();
    stdin.write_all(&frame(2, 1, &missing)).unwrap();
    stdin.flush().unwrap();

    let (mut stdout, mut stderr, mut exit, mut spawned, mut failed) =
        (Vec::new(), Vec::new(), None, false, None);
    while exit.is_none() || failed.is_none() {
        match next() {
            (1, 0x81, pid) => spawned = pid.len() == 4,
            (1, 0x82, bytes) => stdout.extend(bytes),
            (1, 0x83, bytes) => stderr.extend(bytes),
            (1, 0x84, status) => exit = Some(status),
            (2, 0x85, why) => failed = Some(why),
            other => panic!("unexpected frame {other:?}"),
        }
    }
    assert!(spawned);
    assert_eq!(stdout, b"hi\n");
    assert_eq!(stderr, b"oops\n");
    assert_eq!(exit.unwrap(), [&b"c"[..], &3i32.to_be_bytes()].concat());
    assert_eq!(failed.unwrap()[0], 1, "not found");

    drop(stdin);
    let (sender, ended) = mpsc::channel();
    std::thread::spawn(move || sender.send(agent.wait().unwrap()));
    let status = ended
        .recv_timeout(PATIENCE)
        .expect("the agent ends with its stdin");
    assert!(status.success(), "{status}");
}
