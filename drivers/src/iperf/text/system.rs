//! The host as iperf3 describes it (`-V`, `-v` and `-J`'s `system_info`).

/// This host as iperf3 describes it: `uname`'s system, node, release, version and
/// machine, space-separated.
pub(crate) fn this_system() -> String {
    // SAFETY: a zeroed `utsname` is valid plain data; `uname` fills it with
    // NUL-terminated arrays and touches nothing else.
    let name = unsafe {
        let mut name: libc::utsname = std::mem::zeroed();
        (libc::uname(&mut name) == 0).then_some(name)
    };
    let Some(name) = name else {
        return String::new();
    };
    let field = |chars: &[libc::c_char]| {
        let bytes: Vec<u8> = chars
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    [
        field(&name.sysname),
        field(&name.nodename),
        field(&name.release),
        field(&name.version),
        field(&name.machine),
    ]
    .join(" ")
}
