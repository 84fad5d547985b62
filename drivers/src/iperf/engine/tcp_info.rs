//! The kernel's view of a TCP connection (`TCP_INFO`): retransmits and congestion control,
//! which iperf3 reports for senders.

use std::os::fd::AsRawFd;

/// What a sender reports from `TCP_INFO`: a count, and gauges iperf3 writes per interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TcpInfoSample {
    pub(crate) total_retransmits: u64,
    /// Congestion window in bytes (segments × MSS, as iperf3 computes it).
    pub(crate) snd_cwnd: u64,
    /// The peer's advertised receive window, bytes.
    pub(crate) snd_wnd: u64,
    /// Smoothed round-trip time and its variation, microseconds.
    pub(crate) rtt: u64,
    pub(crate) rttvar: u64,
    /// Path MTU, bytes.
    pub(crate) pmtu: u64,
}

/// Reads `TCP_INFO` of a connected TCP socket; `None` where the OS cannot say.
pub(crate) fn sample(socket: &impl AsRawFd) -> Option<TcpInfoSample> {
    let mut info = std::mem::MaybeUninit::<libc::tcp_info>::zeroed();
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the fd is a live socket borrowed for the duration of the call; the kernel writes
    // at most `len` bytes into `info`, which is exactly that large and writable.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: zero-initialised and (partly) filled by the kernel; every field is plain data.
    let info = unsafe { info.assume_init() };
    Some(TcpInfoSample {
        total_retransmits: u64::from(info.tcpi_total_retrans),
        snd_cwnd: u64::from(info.tcpi_snd_cwnd) * u64::from(info.tcpi_snd_mss),
        snd_wnd: u64::from(info.tcpi_snd_wnd),
        rtt: u64::from(info.tcpi_rtt),
        rttvar: u64::from(info.tcpi_rttvar),
        pmtu: u64::from(info.tcpi_pmtu),
    })
}

/// The congestion-control algorithm of a TCP socket (e.g. `cubic`, `bbr`).
pub(crate) fn congestion(socket: &impl AsRawFd) -> Option<String> {
    let mut name = [0u8; 32];
    let mut len = name.len() as libc::socklen_t;
    // SAFETY: as above; the kernel writes at most `len` bytes of the algorithm's name.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CONGESTION,
            name.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return None;
    }
    let name = &name[..(len as usize).min(name.len())];
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    Some(String::from_utf8_lossy(&name[..end]).into_owned())
}
