//! Reading a rig file: only a regular file, at most [`MAX_RIG_BYTES`], UTF-8
//! text — so a FIFO, a device or a runaway file is refused with a clear error
//! instead of hanging `check` or filling the memory.

use std::fs::{File, FileType};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use super::{RigError, Source};

/// The largest rig file `testrig` reads: 1 MiB. A rig is written by hand and
/// holds a few kilobytes; the bound keeps a wrong path (a log, an image) from
/// being read, and a generated rig from taking minutes and gigabytes to check
/// (measured: about 3 KB of memory and 80 µs per driver in a debug build, so
/// 16 MiB of `[[driver]]` tables would take a minute and a gigabyte or more).
pub(crate) const MAX_RIG_BYTES: u64 = 1024 * 1024;

/// Reads the rig file at `path`. The file's type is checked before it is
/// opened, and opened without blocking (a FIFO swapped in meanwhile cannot
/// stall the open), checked again once open, and read through a bounded
/// `take`, so neither a pipe nor an endless device is ever waited on or read
/// to the end.
pub(crate) fn read_rig_file(path: &Path) -> Result<Source, RigError> {
    let read_error = |error| RigError::Read {
        path: path.to_owned(),
        error,
    };
    let metadata = std::fs::metadata(path).map_err(read_error)?;
    check_regular(path, metadata.file_type())?;
    check_size(path, metadata.len())?;
    let mut file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(read_error)?;
    let opened = file.metadata().map_err(read_error)?;
    check_regular(path, opened.file_type())?;
    check_size(path, opened.len())?;
    let mut bytes = Vec::with_capacity(usize::try_from(opened.len()).unwrap_or(0));
    // One byte more than allowed tells a file that grew past the limit.
    (&mut file)
        .take(MAX_RIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    check_size(path, bytes.len() as u64)?;
    Source::from_bytes(path, bytes)
}

fn check_regular(path: &Path, file_type: FileType) -> Result<(), RigError> {
    match not_regular(file_type) {
        None => Ok(()),
        Some(kind) => Err(RigError::NotARegularFile {
            path: path.to_owned(),
            kind,
        }),
    }
}

/// What a file that is not a regular file is, in words ("a FIFO (named
/// pipe)"); `None` for a regular file.
pub(crate) fn not_regular(file_type: FileType) -> Option<&'static str> {
    if file_type.is_file() {
        return None;
    }
    Some(if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a file"
    })
}

fn check_size(path: &Path, size: u64) -> Result<(), RigError> {
    if size > MAX_RIG_BYTES {
        return Err(RigError::TooLarge {
            path: path.to_owned(),
            limit: MAX_RIG_BYTES,
        });
    }
    Ok(())
}
