//! A [`ClientConfig`] as `iperf3 -c` arguments.

use std::time::Duration;

use crate::iperf::config::ClientConfig;
use crate::iperf::kinds::{AddressFamily, Direction, Protocol, TestLength};

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
    if let Some(bind) = config.options.bind {
        push("-B", bind.to_string());
    }
    match config.options.length {
        TestLength::Duration(d) => push("-t", whole_seconds(d).max(1).to_string()),
        TestLength::Bytes(n) => push("-n", n.to_string()),
        TestLength::Blocks(n) => push("-k", n.to_string()),
        TestLength::UntilInterrupted => push("-t", "0".to_owned()),
    }
    if config.options.streams != 1 {
        push("-P", config.options.streams.to_string());
    }
    if let Some(len) = config.options.block_size {
        push("-l", len.to_string());
    }
    let o = &config.options.stream_options;
    match (config.options.bitrate, o.burst) {
        (_, Some(burst)) => push("-b", format!("{}/{burst}", config.bitrate().unwrap_or(0))),
        (Some(rate), None) => push("-b", rate.to_string()),
        (None, None) => {}
    }
    if !config.options.omit.is_zero() {
        push("-O", whole_seconds(config.options.omit).to_string());
    }
    push(
        "-i",
        config
            .options
            .interval
            .map_or_else(|| "0".to_owned(), |i| format!("{}", i.as_secs_f64())),
    );
    push(
        "--connect-timeout",
        config.options.connect_timeout.as_millis().to_string(),
    );
    if config.options.protocol == Protocol::Udp {
        args.push("-u".to_owned());
        if config.options.udp_counters_64bit {
            args.push("--udp-counters-64bit".to_owned());
        }
    }
    match config.options.direction {
        Direction::Forward => {}
        Direction::Reverse => args.push("-R".to_owned()),
        Direction::Bidirectional => args.push("--bidir".to_owned()),
    }
    if config.options.get_server_output {
        args.push("--get-server-output".to_owned());
    }
    stream_args(config, &mut args);
    args
}

/// The stream options, address family, ports and extra data as iperf3 flags.
fn stream_args(config: &ClientConfig, args: &mut Vec<String>) {
    let mut push = |flag: &str, value: Option<String>| {
        args.push(flag.to_owned());
        args.extend(value);
    };
    let o = &config.options.stream_options;
    if let Some(window) = o.window {
        push("-w", Some(window.to_string()));
    }
    if o.no_delay {
        push("-N", None);
    }
    if let Some(mss) = o.mss {
        push("-M", Some(mss.to_string()));
    }
    if let Some(algorithm) = &o.congestion {
        push("-C", Some(algorithm.clone()));
    }
    if o.tos > 0 {
        push("-S", Some(o.tos.to_string()));
    }
    if let Some(rate) = o.fq_rate {
        push("--fq-rate", Some(rate.to_string()));
    }
    if let Some(tick) = o.pacing_timer {
        push("--pacing-timer", Some(tick.as_micros().to_string()));
    }
    if let Some(timeout) = o.send_timeout {
        push("--snd-timeout", Some(timeout.as_millis().to_string()));
    }
    if let Some(timeout) = o.receive_timeout {
        push("--rcv-timeout", Some(timeout.as_millis().to_string()));
    }
    if o.repeating_payload {
        push("--repeating-payload", None);
    }
    if o.dont_fragment {
        push("--dont-fragment", None);
    }
    match config.options.family {
        AddressFamily::Any => {}
        AddressFamily::V4 => push("-4", None),
        AddressFamily::V6 => push("-6", None),
    }
    if let Some(port) = config.options.client_port {
        push("--cport", Some(port.to_string()));
    }
    if let Some(text) = &config.options.extra_data {
        push("--extra-data", Some(text.clone()));
    }
    if let Some(title) = &config.options.title {
        push("--title", Some(title.clone()));
    }
    if let Some(device) = &config.options.bind_device {
        push("--bind-dev", Some(device.clone()));
    }
}

fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iperf::client_options::ClientOptions;

    #[test]
    fn defaults_ask_for_json_on_the_given_target() {
        let config = ClientConfig::new("10.0.0.2", 5301, &ClientOptions::new()).unwrap();
        assert_eq!(
            client_args(&config).join(" "),
            "-c 10.0.0.2 -p 5301 -J -t 10 -i 1 --connect-timeout 10000"
        );
    }

    #[test]
    fn every_option_maps_to_its_iperf3_flag() {
        let config = ClientConfig::new(
            "h",
            1,
            &ClientOptions::new()
                .bind("127.0.0.1".parse().unwrap())
                .udp()
                .bitrate(100_000_000)
                .parallel(4)
                .duration(Duration::from_millis(1500))
                .block_size(1200)
                .omit(Duration::from_millis(500))
                .interval(Some(Duration::from_millis(500)))
                .bidirectional()
                .get_server_output(true),
        )
        .unwrap();
        assert_eq!(
            client_args(&config).join(" "),
            "-c h -p 1 -J -B 127.0.0.1 -t 2 -P 4 -l 1200 -b 100000000 -O 1 -i 0.5 \
             --connect-timeout 10000 -u --bidir --get-server-output"
        );
    }

    #[test]
    fn stream_options_family_ports_and_extra_data_map_to_their_iperf3_flags() {
        use crate::iperf::StreamOptions;
        let config = ClientConfig::new(
            "h",
            1,
            &ClientOptions::new()
                .bitrate(10_000_000)
                .stream_options(
                    StreamOptions::new()
                        .window(262_144)
                        .no_delay(true)
                        .mss(1200)
                        .congestion("reno")
                        .tos(40)
                        .fq_rate(8_000_000)
                        .pacing_timer(Duration::from_micros(2000))
                        .repeating_payload(true)
                        .dont_fragment(true)
                        .burst(4),
                )
                .family(crate::iperf::AddressFamily::V4)
                .client_port(6000)
                .extra_data("run 7"),
        )
        .unwrap();
        let args = client_args(&config);
        let tail = &args[args.len() - 20..];
        assert_eq!(
            tail,
            [
                "-w",
                "262144",
                "-N",
                "-M",
                "1200",
                "-C",
                "reno",
                "-S",
                "40",
                "--fq-rate",
                "8000000",
                "--pacing-timer",
                "2000",
                "--repeating-payload",
                "--dont-fragment",
                "-4",
                "--cport",
                "6000",
                "--extra-data",
                "run 7",
            ]
        );
        assert!(args.join(" ").contains("-b 10000000/4"), "{args:?}");
    }

    #[test]
    fn bytes_blocks_reverse_and_no_intervals() {
        let bytes = ClientConfig::new(
            "h",
            1,
            &ClientOptions::new().bytes(1 << 20).reverse().interval(None),
        )
        .unwrap();
        assert_eq!(
            client_args(&bytes).join(" "),
            "-c h -p 1 -J -n 1048576 -i 0 --connect-timeout 10000 -R"
        );
        let blocks = ClientConfig::new("h", 1, &ClientOptions::new().blocks(10)).unwrap();
        assert!(client_args(&blocks).join(" ").contains("-k 10"));
        let open = ClientConfig::new("h", 1, &ClientOptions::new().until_interrupted()).unwrap();
        assert!(client_args(&open).join(" ").contains("-t 0"));
    }
}
