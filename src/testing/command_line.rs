/// Waits up to `within` until the command line of process `pid` reads `command` (its
/// arguments joined by spaces), e.g. a background `setsid sleep 1000` that has run `setsid`
/// and then `exec`ed `sleep`; whether it did.
///
/// Looks at `/proc/<pid>/cmdline` every 5 ms: nothing announces an `exec` to another
/// process, so this is a test-side poll with a deadline.
pub async fn wait_for_command_line(pid: u32, command: &str, within: std::time::Duration) -> bool {
    let give_up = crate::deadline::deadline(std::time::Instant::now(), within);
    loop {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline
            .split(|&byte| byte == 0)
            .filter(|arg| !arg.is_empty())
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect();
        if args.join(" ") == command {
            return true;
        }
        if std::time::Instant::now() >= give_up {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
