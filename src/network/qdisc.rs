//! Rates and netem on an interface, through iproute2's `tc` run inside the namespace.
//!
//! Why `tc` and not netlink: `netlink-packet-route` (0.34, under `rtnetlink` 0.24) encodes
//! only the `ingress` and `fq_codel` qdiscs, not `tbf`, `htb` or `netem`, whose options are
//! binary structures with rate tables that `tc` computes. A qdisc is set once per shaped
//! interface and on rate faults, so one short process each time costs little.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Stdio;

use tokio::sync::OnceCell;

use super::error::{NetworkError, Result};
use super::namespace::{Namespace, setns};
use super::shaping::{Netem, Rate, Shaper, Shaping};

/// The `tc` invocations that give `interface` the `shaping` of what it sends.
pub(crate) fn commands(interface: &str, shaping: &Shaping, shaper: Shaper) -> Vec<Vec<String>> {
    let dev = |verb: &str, object: &str| -> Vec<String> {
        vec![object.into(), verb.into(), "dev".into(), interface.into()]
    };
    match (shaping.rate, shaping.netem, shaper) {
        (None, None, _) => vec![[dev("del", "qdisc"), vec!["root".into()]].concat()],
        (rate, Some(netem), _) => {
            // netem has a rate of its own: one qdisc does both.
            let mut args = [dev("replace", "qdisc"), vec!["root".into(), "netem".into()]].concat();
            args.extend(netem_args(&netem, rate));
            vec![args]
        }
        (Some(rate), None, Shaper::Tbf) => {
            let mut args = [dev("replace", "qdisc"), vec!["root".into(), "tbf".into()]].concat();
            args.extend([
                "rate".into(),
                rate.to_string(),
                "burst".into(),
                burst_bytes(rate).to_string(),
                "latency".into(),
                "100ms".into(),
            ]);
            vec![args]
        }
        (Some(rate), None, Shaper::Htb) => {
            let qdisc = [
                dev("replace", "qdisc"),
                ["root", "handle", "1:", "htb", "default", "1"]
                    .map(String::from)
                    .to_vec(),
            ]
            .concat();
            let class = [
                dev("replace", "class"),
                vec![
                    "parent".into(),
                    "1:".into(),
                    "classid".into(),
                    "1:1".into(),
                    "htb".into(),
                    "rate".into(),
                    rate.to_string(),
                    "ceil".into(),
                    rate.to_string(),
                ],
            ]
            .concat();
            vec![qdisc, class]
        }
    }
}

/// Ten milliseconds' worth of the rate, and never less than ten full-size frames: a burst
/// smaller than a frame would stall the link.
fn burst_bytes(rate: Rate) -> u64 {
    (rate.bits_per_second() / 8 / 100).max(15_140)
}

fn netem_args(netem: &Netem, rate: Option<Rate>) -> Vec<String> {
    let mut args = Vec::new();
    if !netem.delay.is_zero() || !netem.jitter.is_zero() {
        args.extend(["delay".into(), format!("{}us", netem.delay.as_micros())]);
        if !netem.jitter.is_zero() {
            args.push(format!("{}us", netem.jitter.as_micros()));
        }
    }
    for (name, percent) in [
        ("loss", netem.loss),
        ("reorder", netem.reorder),
        ("duplicate", netem.duplicate),
    ] {
        if percent > 0.0 {
            args.extend([name.into(), format!("{percent}%")]);
        }
    }
    if let Some(rate) = rate {
        args.extend(["rate".into(), rate.to_string()]);
    }
    args
}

/// Runs `tc args` inside `namespace`.
pub(crate) async fn tc(namespace: &Namespace, args: &[String]) -> Result<()> {
    let label = namespace.label().to_owned();
    let fd = namespace.fd().map_err(|_| NetworkError::Io {
        action: "run tc".into(),
        namespace: label.clone(),
        source: io::Error::other("the namespace is closed"),
    })?;
    let mut command = std::process::Command::new("tc");
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let raw = fd.as_raw_fd();
    // SAFETY: setns is async-signal-safe; `fd` outlives the spawn (held below).
    unsafe {
        command.pre_exec(move || setns(raw));
    }
    let mut command = tokio::process::Command::from(command);
    command.kill_on_drop(true);
    let output = command.output().await;
    drop(fd);
    let output = output.map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => NetworkError::Unsupported {
            wanted: format!("`tc {}`", args.join(" ")),
            missing: "the `tc` program (iproute2; scripts/setup installs it)".into(),
        },
        _ => NetworkError::Io {
            action: "run tc".into(),
            namespace: label.clone(),
            source,
        },
    })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    // Removing shaping that is not there is not a failure.
    let deleting = args.get(1).is_some_and(|verb| verb == "del");
    if deleting
        && (stderr.contains("No such file or directory")
            || stderr.contains("Cannot delete qdisc with handle of zero"))
    {
        return Ok(());
    }
    Err(NetworkError::Tc {
        namespace: label,
        args: args.join(" "),
        stderr,
    })
}

/// Whether the kernel has netem: tried once per process on the loopback of a scratch
/// namespace. `Err` says what is missing.
pub(crate) async fn netem_available() -> std::result::Result<(), String> {
    static PROBE: OnceCell<std::result::Result<(), String>> = OnceCell::const_new();
    PROBE
        .get_or_init(|| async {
            let scratch = Namespace::create("netem probe").await.map_err(|error| {
                format!("cannot create a scratch namespace to probe netem: {error}")
            })?;
            let args: Vec<String> = ["qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"]
                .map(String::from)
                .to_vec();
            let result = tc(&scratch, &args).await;
            scratch.close(std::time::Duration::from_secs(1)).await;
            match result {
                Ok(()) => Ok(()),
                Err(NetworkError::Tc { stderr, .. }) => Err(format!(
                    "the kernel has no netem qdisc (sch_netem; tc said: {stderr})"
                )),
                Err(NetworkError::Unsupported { missing, .. }) => Err(missing),
                Err(other) => Err(format!("probing netem failed: {other}")),
            }
        })
        .await
        .clone()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn line(commands: Vec<Vec<String>>) -> Vec<String> {
        commands.into_iter().map(|c| c.join(" ")).collect()
    }

    #[test]
    fn a_rate_alone_is_one_token_bucket() {
        let shaping = Shaping {
            rate: Some(Rate::mbit(100)),
            netem: None,
        };
        assert_eq!(
            line(commands("eth0", &shaping, Shaper::Tbf)),
            ["qdisc replace dev eth0 root tbf rate 100000000bit burst 125000 latency 100ms"]
        );
    }

    #[test]
    fn htb_is_a_root_qdisc_and_one_class() {
        let shaping = Shaping {
            rate: Some(Rate::mbit(1)),
            netem: None,
        };
        assert_eq!(
            line(commands("eth1", &shaping, Shaper::Htb)),
            [
                "qdisc replace dev eth1 root handle 1: htb default 1",
                "class replace dev eth1 parent 1: classid 1:1 htb rate 1000000bit ceil 1000000bit"
            ]
        );
    }

    #[test]
    fn netem_carries_the_rate_itself() {
        let shaping = Shaping {
            rate: Some(Rate::mbit(10)),
            netem: Some(
                Netem::new()
                    .delay(Duration::from_millis(20))
                    .jitter(Duration::from_millis(1))
                    .loss(0.5),
            ),
        };
        assert_eq!(
            line(commands("eth0", &shaping, Shaper::Tbf)),
            ["qdisc replace dev eth0 root netem delay 20000us 1000us loss 0.5% rate 10000000bit"]
        );
    }

    #[test]
    fn no_shaping_removes_the_root_qdisc() {
        assert_eq!(
            line(commands("eth0", &Shaping::default(), Shaper::Tbf)),
            ["qdisc del dev eth0 root"]
        );
    }
}
