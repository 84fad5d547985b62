//! Every file of `cli/tests/bad_rigs/` is refused with its own message, at its
//! own file:line:column, naming the key, with exit code 3.

use crate::support::{printed, run};

/// (file, line:column, what the message must say).
const EXPECTED: &[(&str, &str, &[&str])] = &[
    (
        "unknown_key.toml",
        "12:1",
        &[
            "driver `client`",
            "unknown field `prot`",
            "expected one of `host`, `port`",
        ],
    ),
    (
        "wrong_type.toml",
        "12:20",
        &[
            "driver `client`, key `connect_at_start`",
            "invalid type: string \"yes\", expected a boolean",
        ],
    ),
    (
        "missing_field.toml",
        "8:1",
        &["driver `client`", "missing field `port`"],
    ),
    (
        "unknown_kind.toml",
        "6:8",
        &[
            "driver `server`",
            "unknown driver kind `tcp_srever`",
            "expected one of `tcp_server`, `tcp_client`",
        ],
    ),
    (
        "unknown_driver_in_reference.toml",
        "11:8",
        &[
            "driver `client`, key `port`",
            "`${serer.port}` refers to driver `serer`, but the rig has no such driver (it has: server, client)",
        ],
    ),
    (
        "key_not_exported.toml",
        "11:8",
        &[
            "driver `client`, key `port`",
            "`server` (tcp_server) exports no `prot`; it exports: host, port, address",
        ],
    ),
    (
        "dependency_cycle.toml",
        "7:15",
        &[
            "driver `a`, key `depends_on`",
            "dependency cycle: a -> b -> a",
        ],
    ),
    (
        "duplicate_driver_name.toml",
        "9:8",
        &[
            "driver `server`, key `name`",
            "two drivers are named `server` (the first is on line 5)",
        ],
    ),
    (
        "invalid_toml.toml",
        "11:23",
        &["invalid TOML", "invalid basic string"],
    ),
    (
        "step_unknown_driver.toml",
        "15:10",
        &[
            "step 1, key `client`",
            "no driver is named `cliente`; the rig has: server, client",
        ],
    ),
    (
        "tcp_exchange_connect_and_client.toml",
        "16:11",
        &[
            "step 1, key `connect`",
            "`connect` talks to an address on its own: leave out `client` and `server`",
        ],
    ),
    (
        "tcp_exchange_nobody_to_talk_to.toml",
        "8:1",
        &[
            "step 1",
            "needs `client` and `server`",
            "or `connect` (an address",
        ],
    ),
    (
        "tcp_exchange_connect_with_reply.toml",
        "12:9",
        &[
            "step 1, key `reply`",
            "with `connect` no server driver checks what arrives or replies",
        ],
    ),
    (
        "step_driver_of_wrong_kind.toml",
        "15:10",
        &[
            "step 1, key `client`",
            "`server` is a tcp_server; this key needs a tcp_client",
        ],
    ),
    (
        "step_text_key_not_exported.toml",
        "17:8",
        &[
            "step 1, key `send`",
            "`${server.prot}`: `server` (tcp_server) exports no `prot`",
        ],
    ),
    (
        "port_out_of_range.toml",
        "7:8",
        &[
            "driver `server`, key `port`",
            "70000 is not a port number (0 to 65535)",
        ],
    ),
    (
        "client_port_zero.toml",
        "11:8",
        &[
            "driver `client`, key `port`",
            "a client needs the server's port, not 0",
        ],
    ),
    (
        "missing_rig_table.toml",
        "1:1",
        &["the rig file has no `[rig]` table"],
    ),
    (
        "reconnect_max_below_initial.toml",
        "15:7",
        &[
            "driver `client`, key `reconnect.max`",
            "`max` (1s) must be at least `initial` (2s)",
        ],
    ),
    (
        "wait_without_status.toml",
        "10:10",
        &[
            "step 1, key `driver`",
            "a wait for a driver needs the `status`",
        ],
    ),
    (
        "unknown_dependency.toml",
        "7:15",
        &[
            "driver `a`, key `depends_on`",
            "depends on `nobody`, but the rig has no driver `nobody` (it has: a)",
        ],
    ),
    (
        "unknown_step_key.toml",
        "11:1",
        &["step 1", "unknown field `timeout`, expected `driver`"],
    ),
    (
        "bad_duration.toml",
        "10:12",
        &["step 1, key `duration`", "\"soon\" is not a duration"],
    ),
    (
        "app_stop_timeout_overflows.toml",
        "9:16",
        &[
            "driver `web`, key `stop_timeout`",
            "\"18446744073709551615s\" is too long: a duration in a rig is at most 1 year",
        ],
    ),
    (
        "tcp_exchange_timeout_overflows.toml",
        "19:11",
        &[
            "step 1, key `timeout`",
            "\"18446744073709551615s\" is too long: a duration in a rig is at most 1 year",
        ],
    ),
    (
        "start_timeout_over_a_year.toml",
        "7:17",
        &[
            "driver `server`, key `start_timeout`",
            "31557601 seconds is too long: a duration in a rig is at most 1 year",
        ],
    ),
    (
        "not_utf8.toml",
        "2:12",
        &["the file is not UTF-8 text: byte 0xE9 here is not valid UTF-8"],
    ),
    (
        "keepalive_out_of_range.toml",
        "12:13",
        &[
            "driver `client`, key `keepalive`",
            "a keepalive time of 1year is out of range: the kernel takes 1s to 32767s",
        ],
    ),
    (
        "app_log_file_is_a_device.toml",
        "10:27",
        &[
            "driver `web`, key `ready_log_file.path`",
            "/dev/zero is a character device, not a regular file: the app archives (renames) its log file",
        ],
    ),
    (
        "app_bad_regex.toml",
        "12:16",
        &[
            "driver `web`, key `ready_stdout`",
            "`port (` is not a valid regex: unclosed group",
        ],
    ),
    (
        "app_unknown_signal.toml",
        "12:15",
        &["driver `web`, key `stop_signal`", "unknown signal `SIGFOO`"],
    ),
    (
        "app_unknown_key.toml",
        "12:1",
        &[
            "driver `web`",
            "unknown field `argz`, expected one of `binary`, `shell`, `args`",
        ],
    ),
    (
        "app_args_not_a_list.toml",
        "12:8",
        &[
            "driver `web`, key `args`",
            "invalid type: string \"-c true\", expected a sequence",
        ],
    ),
    (
        "app_arg_key_not_exported.toml",
        "12:26",
        &[
            "driver `web`, key `args`",
            "`${server.prot}`: `server` (tcp_server) exports no `prot`",
        ],
    ),
    (
        "app_env_unknown_driver.toml",
        "12:16",
        &[
            "driver `web`, key `env.PORT`",
            "`${serer.port}` refers to driver `serer`, but the rig has no such driver",
        ],
    ),
    (
        "app_malformed_placeholder.toml",
        "8:15",
        &[
            "driver `web`, key `args`",
            "placeholder `${port}` must be `${driver.key}`",
        ],
    ),
    (
        "app_without_binary.toml",
        "8:1",
        &["driver `web`", "an app needs a `binary` to run"],
    ),
    (
        "app_two_readiness.toml",
        "13:16",
        &[
            "driver `web`, key `ready_stderr`",
            "an app has one readiness, and `ready_stdout` is already set",
        ],
    ),
    (
        "app_reserved_group.toml",
        "12:46",
        &[
            "driver `web`, key `ready_log_file.regex`",
            "has a group named `pid`, which the app exports itself",
        ],
    ),
    (
        "app_exit_code_out_of_range.toml",
        "12:15",
        &[
            "driver `web`, key `expect_exit`",
            "300 is not an exit code (0 to 255)",
        ],
    ),
    (
        "wait_for_process_of_a_daemon.toml",
        "16:10",
        &[
            "step 1, key `driver`",
            "`web` has no `expect_exit`: it keeps running until stopped",
        ],
    ),
    (
        "wait_for_process_exit_code_disagrees.toml",
        "17:13",
        &[
            "step 1, key `exit_code`",
            "`job` is expected to exit with code 0 (its `expect_exit`); an exit with 1 would fail the driver",
        ],
    ),
    (
        "wait_for_process_of_a_tcp_server.toml",
        "10:10",
        &[
            "step 1, key `driver`",
            "`server` is a tcp_server; this key needs an app",
        ],
    ),
    (
        "wait_for_process_output_unknown_driver.toml",
        "18:17",
        &[
            "step 1, key `expect_output`",
            "`${serer.port}` refers to driver `serer`, but the rig has no such driver (it has: server, web)",
        ],
    ),
    (
        "wait_for_process_output_key_not_exported.toml",
        "18:17",
        &[
            "step 1, key `expect_output`",
            "`${server.prot}`: `server` (tcp_server) exports no `prot`; it exports: host, port, address",
        ],
    ),
    (
        "wait_for_process_output_bad_regex.toml",
        "18:17",
        &[
            "step 1, key `expect_output`",
            "`up on (${server.port}` is not a valid regex: unclosed group",
        ],
    ),
    (
        "app_readiness_with_reference.toml",
        "13:16",
        &[
            "driver `web`, key `ready_stdout`",
            "cannot hold a reference such as `${server.port}`; match the value with a pattern such as `\\d+` instead",
        ],
    ),
    (
        "app_cwd_with_reference.toml",
        "13:7",
        &[
            "driver `web`, key `cwd`",
            "cannot hold a reference such as `${server.dir}`; write the path itself",
        ],
    ),
    (
        "network_unknown_key.toml",
        "12:1",
        &[
            "link `a-b`",
            "unknown field `rat`",
            "expected one of `between`, `subnet`, `addresses`, `rate`, `rate_from`",
        ],
    ),
    (
        "network_link_unknown_host.toml",
        "11:17",
        &[
            "link `a-ghost`, key `between`",
            "`ghost`: no such host (the hosts are: a, b)",
        ],
    ),
    (
        "network_link_bad_rate.toml",
        "12:8",
        &[
            "link `a-b`, key `rate`",
            "`100 megabits` is not a rate: write a positive number and bit, kbit, mbit or gbit",
        ],
    ),
    (
        "network_link_rate_from_a_stranger.toml",
        "15:15",
        &[
            "link `a-b`, key `rate_from`",
            "`c`: not one of the link's two hosts",
        ],
    ),
    (
        "network_overlapping_subnets.toml",
        "19:26",
        &[
            "link `b-c`, key `subnet`",
            "`10.0.3.0/24`: overlaps 10.0.0.0/16 of link `a-b`",
        ],
    ),
    (
        "network_netem_loss_out_of_range.toml",
        "12:34",
        &[
            "link `a-b`, key `netem.loss`",
            "`140`: a percentage is between 0 and 100",
        ],
    ),
    (
        "network_netem_bad_delay.toml",
        "12:19",
        &[
            "link `a-b`, key `netem.delay`",
            "\"10 parsecs\" is not a duration",
        ],
    ),
    (
        "network_link_three_hosts.toml",
        "11:11",
        &[
            "link #1, key `between`",
            "a link joins two hosts: `between = [\"a\", \"b\"]`, not 3",
        ],
    ),
    (
        "network_unknown_shaper.toml",
        "12:10",
        &[
            "link `a-b`, key `shaper`",
            "unknown variant `cake`, expected `tbf` or `htb`",
        ],
    ),
    (
        "network_switch_unknown_host.toml",
        "13:21",
        &[
            "switch `lan`, key `hosts`",
            "`c`: no such host (the hosts are: a, bc)",
        ],
    ),
    (
        "network_address_outside_subnet.toml",
        "13:19",
        &[
            "link `a-b`, key `addresses.a`",
            "`10.1.0.1/24`: not an address of the link's subnet 10.0.0.0/24",
        ],
    ),
    (
        "network_host_named_like_a_driver.toml",
        "8:8",
        &[
            "host `b`, key `name`",
            "a driver (line 11) has this name too",
        ],
    ),
    (
        "network_driver_on_unknown_host.toml",
        "16:6",
        &[
            "driver `server`, key `on`",
            "host `c`: the rig has no such host (it has: a, b)",
        ],
    ),
    (
        "network_driver_on_without_network.toml",
        "7:6",
        &[
            "driver `server`, key `on`",
            "host `a`: the rig declares no hosts; add a `[[host]]` table",
        ],
    ),
    (
        "network_host_missing_export.toml",
        "22:8",
        &[
            "driver `client`, key `host`",
            "`${b.adress}`: `b` (host) exports no `adress`; it exports: address,",
        ],
    ),
    (
        "network_as_a_list.toml",
        "10:1",
        &["`network` must be a table: write it as `[network]` (one bracket)"],
    ),
    (
        "network_step_unknown_action.toml",
        "15:10",
        &[
            "step 1, key `action`",
            "unknown variant `link_flap`, expected one of `link_down`, `link_up`, `set_rate`, `set_netem`, `partition`, `heal`",
        ],
    ),
    (
        "network_step_hosts_not_linked.toml",
        "19:11",
        &[
            "step 1, key `between`",
            "no link joins `a` and `c`; the network has: a-b",
        ],
    ),
    (
        "network_step_rate_on_link_down.toml",
        "17:8",
        &[
            "step 1, key `rate`",
            "`rate` goes with `action = \"set_rate\"`, not `link_down`",
        ],
    ),
    (
        "network_step_bad_rate.toml",
        "18:8",
        &["step 1, key `rate`", "`fast` is not a rate", "or \"none\""],
    ),
    (
        "network_step_partition_unknown_host.toml",
        "16:17",
        &[
            "step 1, key `between`",
            "no host is named `ghost`; the network has: a, b",
        ],
    ),
    (
        "network_reference_to_unknown_host.toml",
        "22:8",
        &[
            "driver `client`, key `host`",
            "`${c.address}` refers to `c`, but the rig has no such driver or host (drivers: server, client; hosts: a, b)",
        ],
    ),
    (
        "network_step_host_key_not_exported.toml",
        "26:8",
        &[
            "step 1, key `send`",
            "`${b.eth1.address}`: `b` (host) exports no `eth1.address`; it exports: address, interface, ipv4, ipv6, eth0.address,",
        ],
    ),
    (
        "ssh_host_unknown_key.toml",
        "7:1",
        &[
            "host `lab`",
            "unknown field `prot`",
            "expected one of `name`, `ssh`, `port`, `identity`, `known_hosts`, `host_keys`",
        ],
    ),
    (
        "ssh_host_bad_host_keys.toml",
        "7:13",
        &[
            "host `lab`, key `host_keys`",
            "unknown variant `lax`, expected `strict` or `accept-new`",
        ],
    ),
    (
        "ssh_host_option_testrig_sets.toml",
        "7:15",
        &[
            "host `lab`, key `ssh_options`",
            "`Port=2222` is not valid: set with `port`",
        ],
    ),
    (
        "ssh_driver_on_missing_host.toml",
        "11:6",
        &[
            "driver `web`, key `on`",
            "host `lbb`: the rig has no such host (it has: lab)",
        ],
    ),
    (
        "iperf_max_below_min.toml",
        "17:15",
        &[
            "step 1, key `max_bitrate`",
            "max_bitrate 6.00 Mbits/sec is below min_bitrate 60.0 Mbits/sec",
        ],
    ),
];

#[test]
fn each_bad_rig_is_refused_at_its_line_and_column_naming_the_key_with_exit_code_3() {
    for (file, at, fragments) in EXPECTED {
        let path = format!("cli/tests/bad_rigs/{file}");
        let output = run(&["check", &path]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(3),
            "{file}\n{}",
            printed(&output)
        );
        assert!(
            stderr.starts_with(&format!("error: {path}:{at}: ")),
            "{file}: expected the error at {path}:{at}\n{stderr}"
        );
        for fragment in *fragments {
            assert!(
                stderr.contains(fragment),
                "{file}: missing {fragment:?}\n{stderr}"
            );
        }
        assert!(
            stderr.contains(" | "),
            "{file}: the offending line is shown\n{stderr}"
        );
    }
}

#[test]
fn every_file_in_the_corpus_has_an_expected_error() {
    let dir = crate::support::repo().join("cli/tests/bad_rigs");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            EXPECTED.iter().any(|(file, _, _)| *file == name),
            "{name} has no expected error in bad_rigs.rs"
        );
    }
}

#[test]
fn run_and_up_refuse_a_bad_rig_with_exit_code_3_before_starting_anything() {
    for command in ["run", "up"] {
        let output = run(&[command, "cli/tests/bad_rigs/key_not_exported.toml"]);
        assert_eq!(output.status.code(), Some(3), "{}", printed(&output));
        assert!(output.stdout.is_empty(), "{}", printed(&output));
    }
}
