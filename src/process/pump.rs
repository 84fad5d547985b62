//! The task that reads one output pipe to its end: into the log file and, line by line, the hub.

use std::fs::File;
use std::io::Write;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::task::JoinHandle;

use super::line_hub::LineHub;
use super::splitter::LineSplitter;
use super::{Line, Stream};

/// Bytes read from a pipe at once: the pipe's own capacity, so a burst is drained in one read.
const CHUNK: usize = 64 * 1024;

/// Starts reading `pipe` until its end (the program and everything it started closed it).
///
/// The pipe is read continuously, so a program printing faster than anyone looks at its output
/// never blocks on a full pipe, and nothing is lost: every byte goes to `file`, every line to `hub`.
/// The file is written with plain blocking writes: a page-cache write of one chunk takes
/// microseconds, cheaper than a hop to tokio's blocking pool per chunk.
pub(crate) fn pump(
    mut pipe: impl AsyncRead + Unpin + Send + 'static,
    mut file: File,
    stream: Stream,
    hub: Arc<LineHub>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut buffer = vec![0; CHUNK];
        let mut splitter = LineSplitter::default();
        let mut file_ok = true;
        let emit = |bytes: &[u8]| {
            let text = String::from_utf8_lossy(bytes);
            hub.dispatch(Line {
                stream,
                text: &text,
            });
        };
        loop {
            let read = match pipe.read(&mut buffer).await {
                Ok(0) => break,
                Ok(read) => read,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    tracing::warn!(%stream, %error, "reading process output failed");
                    break;
                }
            };
            let chunk = &buffer[..read];
            if file_ok && let Err(error) = file.write_all(chunk) {
                // Keep streaming lines even if the disk is full; say it once.
                tracing::warn!(%stream, %error, "writing process output to its log file failed");
                file_ok = false;
            }
            splitter.push(chunk, emit);
        }
        splitter.finish(emit);
    })
}
