//! A [`ClientConfig`] as `iperf3 -c` arguments.

use std::time::Duration;

use crate::iperf::config::{ClientConfig, Direction, Protocol, TestLength};

/// The arguments of `iperf3 -c … -J` for `config`.
///
/// iperf3 3.12 reads `-t` and `-O` as whole seconds, so sub-second durations are rounded
/// up; `-i` takes fractions.
pub(crate) fn client_args(config: &ClientConfig) -> Vec<String> {
    let mut args = vec![
        "-c".to_owned(),
        config.host.clone(),
        "-p".to_owned(),
        config.port.to_string(),
        "-J".to_owned(),
    ];
    let mut push = |flag: &str, value: String| {
        args.push(flag.to_owned());
        args.push(value);
    };
    if let Some(bind) = config.bind {
        push("-B", bind.to_string());
    }
    match config.length {
        TestLength::Duration(d) => push("-t", whole_seconds(d).max(1).to_string()),
        TestLength::Bytes(n) => push("-n", n.to_string()),
        TestLength::Blocks(n) => push("-k", n.to_string()),
    }
    if config.streams != 1 {
        push("-P", config.streams.to_string());
    }
    if let Some(len) = config.block_size {
        push("-l", len.to_string());
    }
    if let Some(rate) = config.bitrate {
        push("-b", rate.to_string());
    }
    if !config.omit.is_zero() {
        push("-O", whole_seconds(config.omit).to_string());
    }
    push(
        "-i",
        config
            .interval
            .map_or_else(|| "0".to_owned(), |i| format!("{}", i.as_secs_f64())),
    );
    push(
        "--connect-timeout",
        config.connect_timeout.as_millis().to_string(),
    );
    if config.protocol == Protocol::Udp {
        args.push("-u".to_owned());
        if config.udp_counters_64bit {
            args.push("--udp-counters-64bit".to_owned());
        }
    }
    match config.direction {
        Direction::Forward => {}
        Direction::Reverse => args.push("-R".to_owned()),
        Direction::Bidirectional => args.push("--bidir".to_owned()),
    }
    if config.get_server_output {
        args.push("--get-server-output".to_owned());
    }
    args
}

fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_ask_for_json_on_the_given_target() {
        let config = ClientConfig::builder("10.0.0.2", 5301).build().unwrap();
        assert_eq!(
            client_args(&config).join(" "),
            "-c 10.0.0.2 -p 5301 -J -t 10 -i 1 --connect-timeout 10000"
        );
    }

    #[test]
    fn every_option_maps_to_its_iperf3_flag() {
        let config = ClientConfig::builder("h", 1)
            .bind("127.0.0.1".parse().unwrap())
            .udp()
            .bitrate(100_000_000)
            .parallel(4)
            .duration(Duration::from_millis(1500))
            .block_size(1200)
            .omit(Duration::from_millis(500))
            .interval(Some(Duration::from_millis(500)))
            .bidirectional()
            .get_server_output(true)
            .build()
            .unwrap();
        assert_eq!(
            client_args(&config).join(" "),
            "-c h -p 1 -J -B 127.0.0.1 -t 2 -P 4 -l 1200 -b 100000000 -O 1 -i 0.5 \
             --connect-timeout 10000 -u --bidir --get-server-output"
        );
    }

    #[test]
    fn bytes_blocks_reverse_and_no_intervals() {
        let bytes = ClientConfig::builder("h", 1)
            .bytes(1 << 20)
            .reverse()
            .interval(None)
            .build()
            .unwrap();
        assert_eq!(
            client_args(&bytes).join(" "),
            "-c h -p 1 -J -n 1048576 -i 0 --connect-timeout 10000 -R"
        );
        let blocks = ClientConfig::builder("h", 1).blocks(10).build().unwrap();
        assert!(client_args(&blocks).join(" ").contains("-k 10"));
    }
}
