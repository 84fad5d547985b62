//! Wall-clock text as iperf3 prints it, through the C library's `strftime(3)` (iperf3's
//! `--timestamps` takes a `strftime` format, so only the C library renders it the same).

use std::ffi::CString;

/// iperf3's `--timestamps` default format (`TIMESTAMP_FORMAT`): the locale's date and time
/// and a space.
pub const DEFAULT_TIMESTAMP_FORMAT: &str = "%c ";

/// `secs` since the Unix epoch formatted with `strftime(format)`, in local time (`local`) or
/// UTC. An empty string when the format cannot be used (contains a NUL byte).
pub fn strftime(format: &str, secs: i64, local: bool) -> String {
    let Ok(c_format) = CString::new(format) else {
        return String::new();
    };
    let time = secs as libc::time_t;
    let mut buffer = vec![0u8; 256 + format.len() * 8];
    // SAFETY: `tm` is plain data that `localtime_r`/`gmtime_r` fill from `time`; `strftime`
    // writes at most `buffer.len()` bytes into `buffer` and reads the NUL-terminated format.
    let written = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        let converted = if local {
            libc::localtime_r(&time, &mut tm)
        } else {
            libc::gmtime_r(&time, &mut tm)
        };
        if converted.is_null() {
            return String::new();
        }
        libc::strftime(
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            c_format.as_ptr(),
            &tm,
        )
    };
    buffer.truncate(written);
    String::from_utf8_lossy(&buffer).into_owned()
}

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// iperf3's `-V` `Time:` text: RFC 1123 in GMT.
pub fn rfc1123(secs: i64) -> String {
    strftime("%a, %d %b %Y %H:%M:%S %Z", secs, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1123_is_iperf3s_time_line() {
        assert_eq!(rfc1123(1_796_181_159), "Wed, 02 Dec 2026 03:12:39 GMT");
    }

    #[test]
    fn a_format_with_seconds_since_the_epoch_is_rendered() {
        assert_eq!(strftime("%s ", 1_796_181_159, true), "1796181159 ");
    }
}
