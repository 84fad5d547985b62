//! The control connection: one-byte states and 4-byte big-endian length-framed JSON documents.

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{COOKIE_SIZE, Cookie, TestState};
use crate::iperf::error::{IperfError, Phase};

/// The control connection of one test. Callers bound every call with a deadline.
#[derive(Debug)]
pub(crate) struct ControlChannel {
    stream: TcpStream,
}

impl ControlChannel {
    pub(crate) fn new(stream: TcpStream) -> Self {
        // Control messages are tiny and latency-sensitive, like iperf3's.
        let _ = stream.set_nodelay(true);
        Self { stream }
    }

    /// The control socket's MSS, which iperf3 uses as the default UDP block size.
    pub(crate) fn mss(&self) -> Option<u32> {
        let mss = socket2::SockRef::from(&self.stream).tcp_mss().ok()?;
        (mss > 0 && mss <= super::MAX_UDP_BLOCK).then_some(mss)
    }

    pub(crate) async fn write_cookie(&mut self, cookie: &Cookie) -> Result<(), IperfError> {
        self.stream
            .write_all(cookie.as_bytes())
            .await
            .map_err(IperfError::io(Phase::Cookie))
    }

    pub(crate) async fn read_cookie(&mut self) -> Result<Cookie, IperfError> {
        let mut bytes = [0u8; COOKIE_SIZE];
        read_exact(&mut self.stream, &mut bytes, Phase::Cookie).await?;
        Ok(Cookie::from_wire(bytes))
    }

    pub(crate) async fn write_state(
        &mut self,
        state: TestState,
        phase: Phase,
    ) -> Result<(), IperfError> {
        self.stream
            .write_all(&[state.to_byte()])
            .await
            .map_err(IperfError::io(phase))
    }

    /// Sends `SERVER_ERROR` and iperf3's two codes.
    pub(crate) async fn write_server_error(&mut self, code: i32, errno: i32) {
        let mut message = [0u8; 9];
        message[0] = TestState::ServerError.to_byte();
        message[1..5].copy_from_slice(&code.to_be_bytes());
        message[5..9].copy_from_slice(&errno.to_be_bytes());
        // Best effort: the session ends right after either way.
        let _ = self.stream.write_all(&message).await;
    }

    /// Reads one state byte. Cancel-safe: a byte is either consumed whole or not at all.
    pub(crate) async fn read_state(&mut self, phase: Phase) -> Result<TestState, IperfError> {
        let mut byte = [0u8; 1];
        let n = self
            .stream
            .read(&mut byte)
            .await
            .map_err(IperfError::io(phase))?;
        if n == 0 {
            return Err(IperfError::PeerClosed { phase });
        }
        TestState::from_byte(byte[0]).ok_or(IperfError::UnexpectedState {
            phase,
            code: byte[0] as i8,
        })
    }

    /// Reads the two codes that follow `SERVER_ERROR` and turns them into an error.
    pub(crate) async fn read_server_error(&mut self, phase: Phase) -> IperfError {
        let mut codes = [0u8; 8];
        match read_exact(&mut self.stream, &mut codes, phase).await {
            Ok(()) => {
                let code = i32::from_be_bytes([codes[0], codes[1], codes[2], codes[3]]);
                let errno = i32::from_be_bytes([codes[4], codes[5], codes[6], codes[7]]);
                IperfError::server_error(code, errno)
            }
            Err(error) => error,
        }
    }

    pub(crate) async fn write_json<T: Serialize>(
        &mut self,
        document: &T,
        phase: Phase,
    ) -> Result<(), IperfError> {
        let body = serde_json::to_vec(document)
            .map_err(|e| IperfError::protocol(phase, format!("cannot encode JSON: {e}")))?;
        let len = u32::try_from(body.len())
            .map_err(|_| IperfError::protocol(phase, "JSON document larger than 4 GiB"))?;
        let mut frame = Vec::with_capacity(4 + body.len());
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(&body);
        self.stream
            .write_all(&frame)
            .await
            .map_err(IperfError::io(phase))
    }

    /// Reads one length-framed JSON document of at most `max_len` bytes. The length is checked
    /// before anything is allocated, so a hostile peer cannot make us allocate more.
    pub(crate) async fn read_json<T: DeserializeOwned>(
        &mut self,
        max_len: usize,
        phase: Phase,
    ) -> Result<T, IperfError> {
        let mut len = [0u8; 4];
        read_exact(&mut self.stream, &mut len, phase).await?;
        let len = u32::from_be_bytes(len) as usize;
        if len > max_len {
            return Err(IperfError::protocol(
                phase,
                format!("JSON message of {len} bytes exceeds the {max_len}-byte limit"),
            ));
        }
        let mut body = vec![0u8; len];
        read_exact(&mut self.stream, &mut body, phase).await?;
        serde_json::from_slice(&body)
            .map_err(|e| IperfError::protocol(phase, format!("invalid JSON document: {e}")))
    }

    /// Waits until the peer closes the connection (used after `IPERF_DONE`).
    pub(crate) async fn drain_until_closed(&mut self) {
        let mut sink = [0u8; 64];
        while let Ok(n) = self.stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    }

    pub(crate) async fn shutdown(&mut self) {
        let _ = self.stream.shutdown().await;
    }
}

async fn read_exact(
    stream: &mut TcpStream,
    buf: &mut [u8],
    phase: Phase,
) -> Result<(), IperfError> {
    match stream.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err(IperfError::PeerClosed { phase })
        }
        Err(e) => Err(IperfError::Io { phase, source: e }),
    }
}
