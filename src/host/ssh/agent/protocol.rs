//! The agent's wire format: one byte stream each way over the agent's SSH channel.
//!
//! ```text
//! agent → here, once:  the preamble line `TESTRIG-AGENT 2\n` (2: the protocol's version),
//!                      then a HELLO frame
//! then, both ways:     frames
//!
//! frame:   id: u32 BE | kind: u8 | length: u32 BE | payload: length bytes
//! ```
//!
//! The id names one spawned program (chosen here, never reused); HELLO has id 0. Bytes before the
//! preamble are skipped (a login script that prints, a test harness's banner).
//!
//! | kind | way | payload |
//! |------|-----|---------|
//! | `SPAWN` 1 | → agent | fields `tag: u8, length: u32 BE, bytes`: `p` program (once), `a` an argument, `e` `KEY=VALUE`, `u` a variable to remove, `c` the working directory, `m` the working directory to make first (`mkdir -p`) |
//! | `SIGNAL` 2 | → agent | the signal's name without `SIG` (`TERM`), or its number, for the program's group |
//! | `HELLO` 0x80 | ← agent | two lines: `$SSH_CONNECTION`, the user's name |
//! | `SPAWNED` 0x81 | ← agent | the program's pid there: u32 BE (also its process group's id) |
//! | `STDOUT` 0x82, `STDERR` 0x83 | ← agent | bytes it printed |
//! | `EXITED` 0x84 | ← agent | `c` then its exit code (i32 BE), or `s` then the signal's name (or number) that ended it; sent after its output |
//! | `FAILED` 0x85 | ← agent | why it did not start: a [`Failure`] byte, then a message |

use std::io::{self, Read};

/// The line the agent prints first: the version of the protocol it speaks.
pub(crate) const PREAMBLE: &[u8] = b"TESTRIG-AGENT 2\n";

/// How the preamble starts, whatever the version.
pub(crate) const PREAMBLE_START: &[u8] = b"TESTRIG-AGENT ";

/// The largest payload accepted (output is sent in chunks well under it).
pub(crate) const MAX_PAYLOAD: u32 = 1 << 20;

/// Start a program.
pub(crate) const SPAWN: u8 = 1;
/// Signal a program's group.
pub(crate) const SIGNAL: u8 = 2;
/// Where the connection arrived and as whom.
pub(crate) const HELLO: u8 = 0x80;
/// The program started.
pub(crate) const SPAWNED: u8 = 0x81;
/// Bytes on its stdout.
pub(crate) const STDOUT: u8 = 0x82;
/// Bytes on its stderr.
pub(crate) const STDERR: u8 = 0x83;
/// It ended.
pub(crate) const EXITED: u8 = 0x84;
/// It could not start.
pub(crate) const FAILED: u8 = 0x85;

/// Why a program did not start: the first byte of a `FAILED` payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Neither a path to a file nor in the agent's `PATH`.
    NotFound = 1,
    /// The working directory is not a directory.
    NoDirectory = 2,
    /// Anything else (not executable, out of resources…).
    Other = 3,
}

impl Failure {
    pub(crate) fn from_byte(byte: u8) -> Failure {
        match byte {
            1 => Failure::NotFound,
            2 => Failure::NoDirectory,
            _ => Failure::Other,
        }
    }
}

/// One frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) id: u32,
    pub(crate) kind: u8,
    pub(crate) payload: Vec<u8>,
}

impl Frame {
    pub(crate) fn new(id: u32, kind: u8, payload: Vec<u8>) -> Frame {
        Frame { id, kind, payload }
    }

    /// The frame as bytes on the wire.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(9 + self.payload.len());
        self.encode_into(&mut bytes);
        bytes
    }

    /// Appends the frame's bytes to `bytes`.
    pub(crate) fn encode_into(&self, bytes: &mut Vec<u8>) {
        let length = u32::try_from(self.payload.len()).expect("payloads are under 4 GiB");
        bytes.extend_from_slice(&self.id.to_be_bytes());
        bytes.push(self.kind);
        bytes.extend_from_slice(&length.to_be_bytes());
        bytes.extend_from_slice(&self.payload);
    }

    /// Reads one frame; `None` at a clean end of the stream (between frames).
    pub(crate) fn read(reader: &mut impl Read) -> io::Result<Option<Frame>> {
        let mut header = [0; 9];
        match reader.read(&mut header[..1])? {
            0 => return Ok(None),
            _ => reader.read_exact(&mut header[1..])?,
        }
        let (id, kind, length) = parse_header(&header)?;
        let mut payload = vec![0; length as usize];
        reader.read_exact(&mut payload)?;
        Ok(Some(Frame { id, kind, payload }))
    }

    /// Reads one frame from an async stream; `None` at a clean end of the stream.
    pub(crate) async fn read_async(
        reader: &mut (impl tokio::io::AsyncRead + Unpin),
    ) -> io::Result<Option<Frame>> {
        use tokio::io::AsyncReadExt;
        let mut header = [0; 9];
        match reader.read(&mut header[..1]).await? {
            0 => return Ok(None),
            _ => reader.read_exact(&mut header[1..]).await?,
        };
        let (id, kind, length) = parse_header(&header)?;
        let mut payload = vec![0; length as usize];
        reader.read_exact(&mut payload).await?;
        Ok(Some(Frame { id, kind, payload }))
    }
}

fn parse_header(header: &[u8; 9]) -> io::Result<(u32, u8, u32)> {
    let id = u32::from_be_bytes(header[0..4].try_into().expect("4 bytes"));
    let length = u32::from_be_bytes(header[5..9].try_into().expect("4 bytes"));
    if length > MAX_PAYLOAD {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame of {length} bytes (at most {MAX_PAYLOAD})"),
        ));
    }
    Ok((id, header[4], length))
}

/// What a `SPAWN` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Spawn {
    pub(crate) program: Vec<u8>,
    pub(crate) args: Vec<Vec<u8>>,
    /// `KEY=VALUE` to set, or (`None`) `KEY` to remove, in order.
    pub(crate) env: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    pub(crate) cwd: Option<Vec<u8>>,
    /// Whether the agent makes the working directory first.
    pub(crate) make_cwd: bool,
}

impl Spawn {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut field = |tag: u8, value: &[u8]| {
            let length = u32::try_from(value.len()).expect("fields are under 4 GiB");
            bytes.push(tag);
            bytes.extend_from_slice(&length.to_be_bytes());
            bytes.extend_from_slice(value);
        };
        field(b'p', &self.program);
        for arg in &self.args {
            field(b'a', arg);
        }
        for (key, value) in &self.env {
            match value {
                Some(value) => field(b'e', &[key.as_slice(), b"=", value].concat()),
                None => field(b'u', key),
            }
        }
        if let Some(cwd) = &self.cwd {
            field(if self.make_cwd { b'm' } else { b'c' }, cwd);
        }
        bytes
    }

    pub(crate) fn decode(mut bytes: &[u8]) -> io::Result<Spawn> {
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
        let mut spawn = Spawn::default();
        let mut program = None;
        while !bytes.is_empty() {
            if bytes.len() < 5 {
                return Err(bad("a truncated field"));
            }
            let tag = bytes[0];
            let length = u32::from_be_bytes(bytes[1..5].try_into().expect("4 bytes")) as usize;
            let value = bytes
                .get(5..5 + length)
                .ok_or_else(|| bad("a truncated field"))?
                .to_vec();
            bytes = &bytes[5 + length..];
            match tag {
                b'p' => program = Some(value),
                b'a' => spawn.args.push(value),
                b'e' => {
                    let at = value
                        .iter()
                        .position(|&b| b == b'=')
                        .ok_or_else(|| bad("an `e` field without `=`"))?;
                    spawn
                        .env
                        .push((value[..at].to_vec(), Some(value[at + 1..].to_vec())));
                }
                b'u' => spawn.env.push((value, None)),
                b'c' => spawn.cwd = Some(value),
                b'm' => {
                    spawn.cwd = Some(value);
                    spawn.make_cwd = true;
                }
                other => return Err(bad(&format!("an unknown field `{}`", other as char))),
            }
        }
        spawn.program = program.ok_or_else(|| bad("no program"))?;
        Ok(spawn)
    }
}

/// The name the wire carries for signal `number` (`TERM`), or its number.
pub(crate) fn signal_name(number: i32) -> String {
    SIGNALS
        .iter()
        .find(|(_, n)| *n == number)
        .map_or_else(|| number.to_string(), |(name, _)| (*name).to_owned())
}

/// The signal a wire name stands for, on this machine.
pub(crate) fn signal_number(name: &str) -> Option<i32> {
    let name = name.trim().trim_start_matches("SIG");
    SIGNALS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, number)| *number)
        .or_else(|| name.parse().ok())
}

/// Signals by name, so that each side uses its own numbers.
const SIGNALS: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("SYS", libc::SIGSYS),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_reads_back_as_written() {
        let frame = Frame::new(7, STDOUT, b"hello\n".to_vec());
        let mut bytes = frame.encode();
        Frame::new(8, EXITED, vec![]).encode_into(&mut bytes);
        let mut reader = bytes.as_slice();
        assert_eq!(Frame::read(&mut reader).unwrap(), Some(frame));
        assert_eq!(Frame::read(&mut reader).unwrap().unwrap().id, 8);
        assert_eq!(Frame::read(&mut reader).unwrap(), None);
    }

    #[test]
    fn an_oversized_or_truncated_frame_is_an_error() {
        let mut bytes = Frame::new(1, STDOUT, vec![]).encode();
        bytes[5..9].copy_from_slice(&(MAX_PAYLOAD + 1).to_be_bytes());
        assert!(Frame::read(&mut bytes.as_slice()).is_err());
        let bytes = Frame::new(1, STDOUT, b"abc".to_vec()).encode();
        assert!(Frame::read(&mut &bytes[..10]).is_err());
    }

    #[test]
    fn a_spawn_request_reads_back_as_written() {
        let spawn = Spawn {
            program: b"sh".to_vec(),
            args: vec![b"-c".to_vec(), b"echo 'a=b'".to_vec(), Vec::new()],
            env: vec![
                (b"A".to_vec(), Some(b"x=y".to_vec())),
                (b"B".to_vec(), None),
            ],
            cwd: Some(b"/tmp".to_vec()),
            make_cwd: true,
        };
        assert_eq!(Spawn::decode(&spawn.encode()).unwrap(), spawn);
        assert!(Spawn::decode(b"a\0\0\0\0").is_err(), "no program");
    }

    #[test]
    fn signals_travel_by_name() {
        assert_eq!(signal_name(libc::SIGTERM), "TERM");
        assert_eq!(signal_number("TERM"), Some(libc::SIGTERM));
        assert_eq!(signal_number("SIGKILL"), Some(libc::SIGKILL));
        assert_eq!(signal_name(40), "40");
        assert_eq!(signal_number("40"), Some(40));
        assert_eq!(signal_number("NOPE"), None);
    }
}
