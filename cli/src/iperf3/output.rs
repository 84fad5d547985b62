//! Where iperf3-style text goes, and the prefixes iperf3 puts on each printed line
//! (`--timestamps`, `-T`).

use std::io::{self, Write};

use testrig_drivers::iperf::text::clock;
use testrig_drivers::iperf::text::human::Printed;

/// The destination of a report: standard output or a `--logfile`, with iperf3's line
/// prefixes.
pub(crate) struct TextOutput {
    sink: Box<dyn Write + Send>,
    stdout: Option<Box<dyn Write + Send>>,
    title: Option<String>,
    timestamps: Option<String>,
}

impl std::fmt::Debug for TextOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextOutput")
            .field("title", &self.title)
            .field("timestamps", &self.timestamps)
            .finish_non_exhaustive()
    }
}

impl TextOutput {
    /// Everything to `sink`, including what iperf3 prints straight to standard output.
    pub(crate) fn new(sink: Box<dyn Write + Send>) -> Self {
        Self {
            sink,
            stdout: None,
            title: None,
            timestamps: None,
        }
    }

    /// The report to `sink` (a `--logfile`), and what iperf3 prints with plain `printf`
    /// (`-V`'s `Control connection MSS`) to `stdout`, as iperf3 does.
    #[must_use]
    pub(crate) fn split(sink: Box<dyn Write + Send>, stdout: Box<dyn Write + Send>) -> Self {
        Self {
            stdout: Some(stdout),
            ..Self::new(sink)
        }
    }

    /// `-T`: `TITLE:  ` before every report line (iperf3's client only).
    #[must_use]
    pub(crate) fn title(mut self, title: Option<String>) -> Self {
        self.title = title;
        self
    }

    /// `--timestamps[=FORMAT]`: the local time, formatted by `strftime(3)`, before every
    /// report line.
    #[must_use]
    pub(crate) fn timestamps(mut self, format: Option<String>) -> Self {
        self.timestamps = format;
        self
    }

    /// Writes what iperf3 would print, and flushes (iperf3's `--forceflush`; flushing
    /// every time costs nothing at the rate reports come).
    pub(crate) fn emit(&mut self, printed: &[Printed]) -> io::Result<()> {
        for piece in printed {
            match piece {
                Printed::Report(text) => {
                    let mut line = String::new();
                    if let Some(format) = &self.timestamps {
                        line.push_str(&clock::strftime(format, clock::now_secs(), true));
                    }
                    if let Some(title) = &self.title {
                        line.push_str(title);
                        line.push_str(":  ");
                    }
                    line.push_str(text);
                    self.sink.write_all(line.as_bytes())?;
                }
                Printed::Stdout(text) => match &mut self.stdout {
                    Some(stdout) => {
                        stdout.write_all(text.as_bytes())?;
                        stdout.flush()?;
                    }
                    None => self.sink.write_all(text.as_bytes())?,
                },
                Printed::Stderr(text) => {
                    let mut stderr = io::stderr().lock();
                    stderr.write_all(text.as_bytes())?;
                    stderr.flush()?;
                }
            }
        }
        self.sink.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_print_gets_the_timestamp_and_title_even_an_empty_one() {
        let shared = Shared::default();
        let mut output = TextOutput::new(Box::new(shared.clone()))
            .title(Some("t2".into()))
            .timestamps(Some("X ".into()));
        output
            .emit(&[
                Printed::Report("iperf 3.12\n".into()),
                Printed::Report(String::new()),
                Printed::Report("Linux\n".into()),
                Printed::Stdout("Control connection MSS 0\n".into()),
            ])
            .unwrap();
        let text = String::from_utf8(shared.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "X t2:  iperf 3.12\nX t2:  X t2:  Linux\nControl connection MSS 0\n"
        );
    }
}
