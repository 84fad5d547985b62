//! The `App` process driver with real programs: `sh`, `sleep`, and this test binary itself
//! acting as a helper program (see `support::helper`). Every test ends by checking that no
//! process it started is alive.

#[path = "app/support.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use testrig::process::{Exit, Signal, Stream};
use testrig::testing::ProcessIdentity;
use testrig::{BuildError, ConnectionInfo, Driver, DriverSpec, Error, Phase, Ref, Status, Value};
use testrig_drivers::app::{App, AppError, Expectation};
use testrig_drivers::tcp::{TcpClient, TcpServer};

use support::{Scratch, helper, in_cgroup_or_skip, send_signal, wait_for_command};

const T: Duration = Duration::from_secs(5);

/// Not a test: the helper program the other tests run, by re-executing this binary with
/// `--ignored --exact helper_program` and the mode in an environment variable.
#[test]
#[ignore = "the helper program other tests run; not a test by itself"]
fn helper_program() {
    helper::main();
}

/// An `App` reports its type name as its kind (the `Driver` default).
#[test]
fn an_app_reports_its_kind_as_app() {
    let app = App::new("web", "true");
    assert_eq!(app.kind(), "App");
}

/// The helper that binds a real port and prints it.
fn listening_helper(name: &str) -> App {
    use helper::{HELPER, LISTEN};
    App::new(name, HELPER.program())
        .args(HELPER.args())
        .env(HELPER.variable(), LISTEN)
        .ready_on(Stream::Stdout, r"^listening on port (?P<port>\d+)$")
}

/// A shell script that prints `ready`, then waits (in short sleeps, so a trap runs promptly)
/// until `SIGUSR1`, on which it runs `on_usr1`.
fn until_usr1(name: &str, on_usr1: &str) -> App {
    App::shell(
        name,
        format!("trap '{on_usr1}' USR1; echo ready; while :; do sleep 0.02; done"),
    )
    .ready_on(Stream::Stdout, "^ready$")
}

#[tokio::test]
async fn a_port_printed_by_the_program_is_exported_and_a_client_connects_to_it() {
    let scratch = Scratch::new("a_port_printed_by_the_program_is_exported");
    let pids = scratch.pids();
    let env = scratch
        .env("port")
        .driver(listening_helper("app"))
        .driver(TcpClient::new("client", Ref::export("app", "port")))
        .build()
        .unwrap();
    env.run(|env| async move {
        let app = env.get::<App>("app")?;
        let client = env.get::<TcpClient>("client")?;
        let pid = app.process().expect("a started app has a process").pid();
        pids.track(pid);
        let port: u16 = app.extracted("port").unwrap().parse().unwrap();
        assert_eq!(client.target().unwrap().port(), port);
        client.send(b"ping\n").await?;
        assert_eq!(client.receive_line(T).await?, "ping");
        let resource = env.resource("app")?;
        let exports = resource.report().exports;
        assert_eq!(exports["pid"], Value::from(pid));
        assert_eq!(exports["port"].to_string(), port.to_string());
        assert_eq!(
            resource.report().connections,
            [ConnectionInfo::listening(
                "tcp",
                format!("127.0.0.1:{port}")
            )]
        );
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn arguments_and_environment_take_values_from_another_driver() {
    let scratch = Scratch::new("arguments_and_environment_take_values");
    let pids = scratch.pids();
    let app = App::new("app", "/bin/sh")
        .args([
            "-c",
            r#"echo "arg $1 env $SERVER_ADDRESS"; exec sleep 1000"#,
            "sh",
            "--port=${server.port}",
        ])
        .env("SERVER_ADDRESS", "${server.host}:${server.port}")
        .ready_on(
            Stream::Stdout,
            r"^arg --port=(?P<arg>\d+) env (?P<env>\S+)$",
        );
    let references: Vec<String> = testrig::Driver::references(&app)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(references, ["server.port", "server.host", "server.port"]);
    // Declared after the app: the reference alone orders the start.
    let env = scratch
        .env("wired")
        .driver(app)
        .driver(TcpServer::new("server"))
        .build()
        .unwrap();
    env.run(|env| async move {
        let app = env.get::<App>("app")?;
        pids.track(app.process().unwrap().pid());
        let port = env.get::<TcpServer>("server")?.local_addr().unwrap().port();
        assert_eq!(app.extracted("arg"), Some(port.to_string()));
        assert_eq!(app.extracted("env"), Some(format!("127.0.0.1:{port}")));
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn readiness_can_watch_stderr_or_either_stream() {
    let scratch = Scratch::new("stderr_or_either");
    let pids = scratch.pids();
    let script = "echo 'noise 1'; echo 'up on 7' >&2; exec sleep 1000";
    let env = scratch
        .env("streams")
        .driver(App::shell("err", script).ready_on(Stream::Stderr, r"(?P<n>\d+)$"))
        .driver(App::shell("any", script).ready_on(None, r"up on (?P<n>\d+)"))
        .build()
        .unwrap();
    env.run(|env| async move {
        for name in ["err", "any"] {
            let app = env.get::<App>(name)?;
            pids.track(app.process().unwrap().pid());
            assert_eq!(app.extracted("n").as_deref(), Some("7"), "{name}");
        }
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn export_keys_list_pid_and_the_regex_groups_so_a_bad_reference_fails_the_build() {
    let app = listening_helper("app");
    assert_eq!(testrig::Driver::export_keys(&app), ["pid", "port"]);
    let error = testrig::Environment::builder("bad")
        .driver(app)
        .driver(TcpClient::new("client", Ref::export("app", "prot")))
        .build()
        .unwrap_err();
    assert!(
        matches!(&error, BuildError::MissingExport { exported, .. } if exported == &["pid", "port"]),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_program_that_exits_before_it_is_ready_fails_the_start_at_once_with_its_status_and_output()
 {
    let scratch = Scratch::new("exits_before_ready");
    let app = App::shell(
        "app",
        "echo loading config; echo 'fatal: bad config' >&2; exit 3",
    )
    .ready_on(Stream::Stdout, "never printed");
    let env = scratch
        .env("early")
        .driver(DriverSpec::new(app).start_timeout(Duration::from_secs(20)))
        .build()
        .unwrap();
    let began = Instant::now();
    let error = env.start().await.unwrap_err().to_string();
    let elapsed = began.elapsed();
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    assert!(
        error.contains("exited with code 3 while starting"),
        "{error}"
    );
    assert!(error.contains("`never printed` on stdout"), "{error}");
    assert!(error.contains("stderr| fatal: bad config"), "{error}");
    assert!(error.contains("stdout| loading config"), "{error}");
    let app = env.get::<App>("app").unwrap();
    assert_eq!(
        app.process().and_then(|process| process.state().exit()),
        Some(Exit::Code(3))
    );
    assert_eq!(env.resource("app").unwrap().status(), Status::Failed);
    scratch.track(app.process().unwrap().pid());
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn readiness_that_never_comes_fails_at_the_start_timeout_naming_what_it_waited_for() {
    let scratch = Scratch::new("readiness_never_comes");
    let app = App::shell("app", "echo booting; exec sleep 1000")
        .ready_on(Stream::Stderr, r"listening on (?P<port>\d+)");
    let env = scratch
        .env("deadline")
        // Covers the spawn too, which alone took over 300 ms on a loaded machine.
        .driver(DriverSpec::new(app).start_timeout(Duration::from_secs(1)))
        .build()
        .unwrap();
    let error = env.start().await.unwrap_err().to_string();
    assert!(
        error.contains(
            r"timed out after 1s waiting for a line matching `listening on (?P<port>\d+)` on stderr"
        ),
        "{error}"
    );
    assert!(error.contains("stdout| booting"), "{error}");
    assert!(
        error.contains("it printed nothing on stderr in that time (only on the other stream"),
        "{error}"
    );
    let app = env.get::<App>("app").unwrap();
    // The failed start stopped the program.
    assert_eq!(
        app.process().and_then(|process| process.state().exit()),
        Some(Exit::Terminated(Signal::TERM))
    );
    scratch.track(app.process().unwrap().pid());
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_silent_program_that_never_gets_ready_is_suspected_of_buffering_its_output() {
    let scratch = Scratch::new("readiness_silent");
    // What a block-buffered program looks like from outside: nothing arrives.
    let app = App::shell("app", "exec sleep 1000").ready_on(Stream::Stdout, "serving");
    let env = scratch
        .env("silent")
        .driver(DriverSpec::new(app).start_timeout(Duration::from_secs(1)))
        .build()
        .unwrap();
    let error = env.start().await.unwrap_err().to_string();
    assert!(
        error.contains(
            "waiting for a line matching `serving` on stdout, and it printed nothing on stdout \
             in that time: is its output block-buffered"
        ),
        "{error}"
    );
    assert!(
        error.contains("PYTHONUNBUFFERED=1") && error.contains("stdbuf -oL"),
        "{error}"
    );
    let app = env.get::<App>("app").unwrap();
    scratch.track(app.process().unwrap().pid());
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_program_whose_lines_do_not_match_shows_them_under_the_timeout() {
    let scratch = Scratch::new("readiness_mismatch");
    let app = App::shell("app", "echo 'serving on :8000'; exec sleep 1000")
        .ready_on(Stream::Stdout, r"listening on port (?P<port>\d+)");
    let env = scratch
        .env("mismatch")
        .driver(DriverSpec::new(app).start_timeout(Duration::from_secs(1)))
        .build()
        .unwrap();
    let error = env.start().await.unwrap_err().to_string();
    assert!(
        error.contains("on stdout; the lines it printed (below) did not match"),
        "{error}"
    );
    assert!(error.contains("last line of its log:"), "{error}");
    assert!(error.contains("stdout| serving on :8000"), "{error}");
    let app = env.get::<App>("app").unwrap();
    scratch.track(app.process().unwrap().pid());
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn pause_freezes_the_program_resume_lets_it_run_and_a_paused_program_still_stops() {
    let scratch = Scratch::new("pause_resume");
    let pids = scratch.pids();
    let app = App::new("app", "sleep").args(["1000"]);
    let env = scratch.env("pause").driver(app).build().unwrap();
    env.run(|env| async move {
        let pid = env.get::<App>("app")?.process().unwrap().pid();
        pids.track(pid);
        let process = ProcessIdentity::of(pid).unwrap();
        env.resource("app")?.pause().await?;
        assert_eq!(env.resource("app")?.status(), Status::Paused);
        assert!(process.wait_stopped(T).await, "not stopped after pause");
        env.resource("app")?.resume().await?;
        assert_eq!(env.resource("app")?.status(), Status::Started);
        assert!(
            process.wait_continued(T).await,
            "still stopped after resume"
        );
        // Left paused: the teardown must still stop it with its stop signal.
        env.resource("app")?.pause().await?;
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    let app = env.get::<App>("app").unwrap();
    assert_eq!(
        app.process().and_then(|process| process.state().exit()),
        Some(Exit::Terminated(Signal::TERM))
    );
    assert_eq!(env.resource("app").unwrap().status(), Status::Stopped);
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_restart_archives_the_previous_logs_and_reads_the_log_file_of_the_new_run_only() {
    let scratch = Scratch::new("restart_archives");
    let pids = scratch.pids();
    // Each run counts itself in a file of the working directory (the runpath by default).
    let app = App::shell(
        "app",
        "n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; \
         echo run $n; echo run $n >&2; echo ready run $n >> app.log; exec sleep 1000",
    )
    .ready_on_log_file("app.log", r"ready run (?P<run>\d+)");
    let env = scratch.env("restart").driver(app).build().unwrap();
    let runpath = env.resource("app").unwrap().report().runpath;
    env.run(|env| async move {
        let app = env.get::<App>("app")?;
        pids.track(app.process().unwrap().pid());
        assert_eq!(app.extracted("run").as_deref(), Some("1"));
        env.resource("app")?.restart().await?;
        pids.track(app.process().unwrap().pid());
        assert_eq!(app.extracted("run").as_deref(), Some("2"));
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    let read = |file: &str| std::fs::read_to_string(runpath.join(file)).unwrap();
    assert_eq!(read("app.stdout.1.log"), "run 1\n");
    assert_eq!(read("app.stderr.1.log"), "run 1\n");
    assert_eq!(read("app.1.log"), "ready run 1\n");
    assert_eq!(read("app.stdout.log"), "run 2\n");
    assert_eq!(read("app.log"), "ready run 2\n");
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn readiness_on_a_log_file_follows_appended_lines_and_exports_their_groups() {
    let scratch = Scratch::new("log_file_readiness");
    let pids = scratch.pids();
    let app = App::shell(
        "app",
        "echo booting > logs/server.log; sleep 0.1; echo 'warming up' >> logs/server.log; \
         sleep 0.1; echo 'ready on port 4242' >> logs/server.log; exec sleep 1000",
    )
    .ready_on_log_file("logs/server.log", r"ready on port (?P<port>\d+)");
    let env = scratch.env("log").driver(app).build().unwrap();
    env.run(|env| async move {
        let app = env.get::<App>("app")?;
        pids.track(app.process().unwrap().pid());
        assert_eq!(
            env.resource("app")?.report().exports["port"].to_string(),
            "4242"
        );
        assert!(app.log_file().unwrap().ends_with("app/logs/server.log"));
        let tail = testrig::Driver::log_tail(&*app);
        assert_eq!(
            tail,
            [
                "server.log| booting",
                "server.log| warming up",
                "server.log| ready on port 4242"
            ]
        );
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_program_that_exits_before_its_log_file_line_fails_the_start_at_once() {
    let scratch = Scratch::new("exits_before_log_line");
    let app = App::shell(
        "app",
        "echo starting > app.log; echo 'no license' >&2; exit 2",
    )
    .ready_on_log_file("app.log", "^ready$");
    let env = scratch
        .env("early-log")
        .driver(DriverSpec::new(app).start_timeout(Duration::from_secs(20)))
        .build()
        .unwrap();
    let began = Instant::now();
    let error = env.start().await.unwrap_err().to_string();
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "took {:?}",
        began.elapsed()
    );
    assert!(
        error.contains("exited with code 2 while starting, before a line matching `^ready$` in"),
        "{error}"
    );
    assert!(error.contains("stderr| no license"), "{error}");
    assert!(error.contains("app.log| starting"), "{error}");
    scratch.track(env.get::<App>("app").unwrap().process().unwrap().pid());
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_started_program_that_dies_moves_the_driver_to_failed_with_its_output() {
    let scratch = Scratch::new("dies");
    let app =
        App::shell("app", "echo serving; exec sleep 1000").ready_on(Stream::Stdout, "serving");
    let env = scratch.env("dies").driver(app).build().unwrap();
    env.start().await.unwrap();
    let pid = env.get::<App>("app").unwrap().process().unwrap().pid();
    scratch.track(pid);
    send_signal(pid, libc::SIGKILL);
    assert_eq!(env.wait_for_failure(T).await.as_deref(), Some("app"));
    let errors = env.resource("app").unwrap().report().errors;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].phase, Phase::Run);
    let message = &errors[0].message;
    assert!(message.contains("died while started"), "{message}");
    assert!(
        message.contains(&format!(
            "(pid {pid}) died of SIGKILL; expected: it keeps running until stopped"
        )),
        "{message}"
    );
    assert!(message.contains("stdout| serving"), "{message}");
    env.stop().await.unwrap();
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_daemon_that_exits_with_code_0_has_died_too() {
    let scratch = Scratch::new("daemon_exit_0");
    let app = until_usr1("app", "exit 0");
    let env = scratch.env("exit0").driver(app).build().unwrap();
    env.start().await.unwrap();
    let pid = env.get::<App>("app").unwrap().process().unwrap().pid();
    scratch.track(pid);
    send_signal(pid, libc::SIGUSR1);
    assert_eq!(env.wait_for_failure(T).await.as_deref(), Some("app"));
    let message = &env.resource("app").unwrap().report().errors[0].message;
    assert!(
        message.contains("exited with code 0; expected: it keeps running"),
        "{message}"
    );
    env.stop().await.unwrap();
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_deliberate_stop_is_not_a_death() {
    let scratch = Scratch::new("deliberate_stop");
    let app = App::new("app", "sleep").args(["1000"]);
    let env = scratch.env("stop").driver(app).build().unwrap();
    env.start().await.unwrap();
    let app = env.get::<App>("app").unwrap();
    scratch.track(app.process().unwrap().pid());
    env.stop().await.unwrap();
    assert_eq!(env.resource("app").unwrap().status(), Status::Stopped);
    assert_eq!(env.wait_for_failure(Duration::from_millis(100)).await, None);
    assert!(env.resource("app").unwrap().report().errors.is_empty());
    assert_eq!(
        app.process().and_then(|process| process.state().exit()),
        Some(Exit::Terminated(Signal::TERM))
    );
    assert!(
        app.process()
            .is_some_and(|process| process.state().exit().is_some())
    );
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_program_ignoring_the_stop_signal_is_killed_after_the_stop_timeout_and_the_stop_fails() {
    let scratch = Scratch::new("ignores_sigterm");
    let app = App::shell("app", r#"trap "" TERM; echo ready; exec sleep 1000"#)
        .ready_on(Stream::Stdout, "ready")
        .stop_timeout(Duration::from_millis(200));
    let env = scratch.env("stubborn").driver(app).build().unwrap();
    env.start().await.unwrap();
    let app = env.get::<App>("app").unwrap();
    scratch.track(app.process().unwrap().pid());
    let began = Instant::now();
    let error = env.stop().await.unwrap_err().to_string();
    assert!(began.elapsed() >= Duration::from_millis(200));
    assert!(
        error.contains("did not exit within 200ms of SIGTERM and was killed with SIGKILL"),
        "{error}"
    );
    assert!(error.contains("stdout| ready"), "{error}");
    assert_eq!(
        app.process().and_then(|process| process.state().exit()),
        Some(Exit::Killed)
    );
    let resource = env.resource("app").unwrap();
    assert_eq!(resource.status(), Status::Failed);
    assert_eq!(resource.report().errors[0].phase, Phase::Stop);
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn the_stop_signal_can_be_chosen_and_a_graceful_exit_on_it_is_a_clean_stop() {
    let scratch = Scratch::new("stop_signal");
    let app = until_usr1("app", "echo bye; exit 0").stop_signal(Signal::USR1);
    let env = scratch.env("graceful").driver(app).build().unwrap();
    env.start().await.unwrap();
    let app = env.get::<App>("app").unwrap();
    scratch.track(app.process().unwrap().pid());
    env.stop().await.unwrap();
    assert_eq!(
        app.process().and_then(|process| process.state().exit()),
        Some(Exit::ExitedOnStop(0))
    );
    assert!(app.process().unwrap().tail().contains("bye"));
    assert_eq!(env.resource("app").unwrap().status(), Status::Stopped);
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_task_that_exits_with_its_expected_code_stays_started() {
    let scratch = Scratch::new("task_expected_code");
    let app = until_usr1("task", "echo done; exit 3").expect_exit(3);
    assert_eq!(app.expectation(), Expectation::ExitsWith(3));
    let env = scratch.env("task").driver(app).build().unwrap();
    env.start().await.unwrap();
    let app = env.get::<App>("task").unwrap();
    scratch.track(app.process().unwrap().pid());
    send_signal(app.process().unwrap().pid(), libc::SIGUSR1);
    assert_eq!(app.wait_exit(T).await.unwrap(), Exit::Code(3));
    assert_eq!(env.wait_for_failure(Duration::from_millis(100)).await, None);
    assert_eq!(env.resource("task").unwrap().status(), Status::Started);
    env.stop().await.unwrap();
    assert_eq!(env.resource("task").unwrap().status(), Status::Stopped);
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_task_that_exits_with_another_code_fails_the_driver() {
    let scratch = Scratch::new("task_wrong_code");
    let app = until_usr1("task", "echo oops >&2; exit 5").expect_exit(0);
    let env = scratch.env("task").driver(app).build().unwrap();
    env.start().await.unwrap();
    let app = env.get::<App>("task").unwrap();
    scratch.track(app.process().unwrap().pid());
    assert!(matches!(
        app.wait_exit(Duration::from_millis(50)).await,
        Err(AppError::StillRunning { .. })
    ));
    send_signal(app.process().unwrap().pid(), libc::SIGUSR1);
    let error = app.wait_exit(T).await.unwrap_err();
    assert!(
        matches!(
            error,
            AppError::UnexpectedExit {
                exit: Exit::Code(5),
                ..
            }
        ),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("exited with code 5; expected: it exits with code 0"),
        "{text}"
    );
    assert!(text.contains("stderr| oops"), "{text}");
    assert_eq!(env.wait_for_failure(T).await.as_deref(), Some("task"));
    env.stop().await.unwrap();
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn abort_kills_the_whole_process_group_at_once() {
    let scratch = Scratch::new("abort");
    let app = App::shell("app", r#"sleep 1000 & echo "child $!"; wait"#)
        .ready_on(Stream::Stdout, r"^child (?P<child>\d+)$");
    let env = scratch.env("abort").driver(app).build().unwrap();
    env.start().await.unwrap();
    let app = env.get::<App>("app").unwrap();
    scratch.track(app.process().unwrap().pid());
    scratch.track(app.extracted("child").unwrap().parse().unwrap());
    env.resource("app").unwrap().abort();
    assert_eq!(env.resource("app").unwrap().status(), Status::Aborted);
    scratch.assert_nothing_left().await;
    // An end testrig caused is what a daemon is allowed.
    assert_eq!(app.wait_exit(T).await.unwrap(), Exit::Killed);
}

#[tokio::test]
async fn bad_settings_are_errors_naming_the_driver_the_field_and_the_value() {
    let scratch = Scratch::new("bad_settings");
    // The driver's own check names the field and the value, and the environment's
    // build refuses the driver with it.
    let template = App::new("app", "echo").args(["ok", "${server.port"]);
    assert_eq!(
        testrig::error::full_message(&*template.check().unwrap_err()),
        "driver `app`: arg 2 is not a valid template: `${server.port`: `${` at byte 0 is never closed"
    );
    let error = scratch
        .env("template")
        .driver(template)
        .build()
        .unwrap_err();
    assert!(
        matches!(&error, BuildError::InvalidDriver { driver, .. } if driver == "app"),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .ends_with("driver `app`: arg 2 is not a valid template: `${server.port`: `${` at byte 0 is never closed"),
        "{error}"
    );
    let regex = App::new("app", "echo").ready_on_log_file("a.log", "(");
    let error = scratch.env("regex").driver(regex).build().unwrap_err();
    assert!(
        error
            .to_string()
            .contains("driver `app`: readiness on log file `(` is not a valid regex"),
        "{error}"
    );

    let missing = App::new("app", "no-such-binary-testrig");
    let env = scratch.env("missing").driver(missing).build().unwrap();
    let error = env.start().await.unwrap_err().to_string();
    assert!(
        error.contains("driver `app`: binary `no-such-binary-testrig` not found"),
        "{error}"
    );

    let no_dir = App::new("app", "true").working_dir(scratch.dir().join("nowhere"));
    let env = scratch.env("no-dir").driver(no_dir).build().unwrap();
    let error = env.start().await.unwrap_err().to_string();
    assert!(error.contains("driver `app`: working directory"), "{error}");
    assert!(error.contains("nowhere is not a directory"), "{error}");

    // Outside an environment nothing provides `server.port`.
    let unresolved = App::new("app", "echo").env("PORT", "${server.port}");
    let error = testrig::testing::resource(unresolved)
        .start()
        .await
        .unwrap_err();
    // `{:#}`: the message with its causes (the driver's error) on one line.
    let error = format!("{:#}", testrig::Error::from(error));
    assert!(
        error.contains(
            "driver `app`: env PORT `${server.port}` cannot be resolved: cannot resolve `server.port`: driver `server` has not started"
        ),
        "{error}"
    );
    // None of these got as far as spawning a program.
}

#[test]
fn an_app_stop_timeout_not_below_the_drivers_stop_timeout_is_refused_by_the_environment() {
    let app = |stop: Duration| {
        App::new("slow-stop", "sleep")
            .args(["60"])
            .stop_timeout(stop)
    };
    let error = testrig::Environment::builder("stop-timeouts")
        .driver(DriverSpec::new(app(Duration::from_secs(3))).stop_timeout(Duration::from_secs(3)))
        .build()
        .unwrap_err();
    assert!(
        matches!(
            &error,
            BuildError::StopTimeoutNotBelow { driver, field: "stop_timeout", own, spec, .. }
                if driver == "slow-stop" && *own == Duration::from_secs(3) && *spec == Duration::from_secs(3)
        ),
        "{error}"
    );
    let text = error.to_string();
    assert!(text.contains("driver `slow-stop`"), "{text}");
    assert!(text.contains("`stop_timeout` of 3s"), "{text}");

    // Above the default DriverSpec stop timeout (10 s) too.
    let error = testrig::Environment::builder("stop-timeouts")
        .driver(app(Duration::from_secs(30)))
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("30s"), "{error}");

    // Below it: fine.
    testrig::Environment::builder("stop-timeouts")
        .driver(DriverSpec::new(app(Duration::from_secs(30))).stop_timeout(Duration::from_secs(31)))
        .build()
        .unwrap();
}

/// An app whose shell starts `sleep 1000` in a session of its own (`setsid`: out of its
/// process group), exports its pid as `escapee`, and waits for it.
fn app_with_escaping_child() -> App {
    App::shell("app", r#"setsid sleep 1000 & echo "escaped $!"; wait"#)
        .ready_on(Stream::Stdout, r"^escaped (?P<escapee>\d+)$")
}

#[tokio::test]
async fn in_a_cgroup_a_descendant_that_left_the_process_group_dies_with_the_app_and_the_report_has_its_cpu_time()
 {
    let test = "in_a_cgroup_a_descendant_dies_with_the_app";
    let scratch = Scratch::new(test);
    let pids = scratch.pids();
    let env = scratch
        .env("cgroup")
        .driver(app_with_escaping_child())
        .build()
        .unwrap();
    let escapee = env
        .run(|env| async move {
            let app = env.get::<App>("app")?;
            pids.track(app.process().unwrap().pid());
            let escapee: u32 = app.extracted("escapee").unwrap().parse().unwrap();
            pids.track(escapee);
            // `sleep` runs once `setsid` has moved it out of the group.
            assert!(
                wait_for_command(escapee, "sleep 1000").await,
                "setsid did not run"
            );
            let containment = app
                .process()
                .unwrap()
                .cgroup()
                .map(Path::to_path_buf)
                .map_err(str::to_owned);
            Ok::<_, Error>((escapee, containment))
        })
        .await
        .unwrap();
    let (escapee, containment) = escapee;
    let report = env.report();
    let app = report.drivers.iter().find(|d| d.name == "app").unwrap();
    if !in_cgroup_or_skip(test, &containment) {
        send_signal(escapee, libc::SIGKILL);
        return scratch.assert_nothing_left().await;
    }
    assert!(
        !ProcessIdentity::of(escapee).is_some_and(|p| p.is_alive()),
        "the descendant that left the group (pid {escapee}) survived the stop"
    );
    assert_eq!(app.warnings, Vec::<String>::new());
    assert!(
        app.cpu_time.is_some_and(|cpu| cpu > Duration::ZERO),
        "{app:?}"
    );
    assert!(report.summary().to_string().contains("  cpu "));
    assert_eq!(report.outcome, testrig::report::Outcome::Passed);
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn without_a_cgroup_the_report_warns_of_a_descendant_still_alive_after_the_stop() {
    let scratch = Scratch::new("without_a_cgroup_the_report_warns_of_a_survivor");
    let pids = scratch.pids();
    let env = scratch
        .env("fallback")
        .driver(app_with_escaping_child().cgroup(false))
        .build()
        .unwrap();
    let escapee = env
        .run(|env| async move {
            let app = env.get::<App>("app")?;
            pids.track(app.process().unwrap().pid());
            let escapee: u32 = app.extracted("escapee").unwrap().parse().unwrap();
            pids.track(escapee);
            // `sleep` runs once `setsid` has moved it out of the group.
            assert!(
                wait_for_command(escapee, "sleep 1000").await,
                "setsid did not run"
            );
            Ok::<_, Error>(escapee)
        })
        .await
        .unwrap();
    let report = env.report();
    let app = report.drivers.iter().find(|d| d.name == "app").unwrap();
    assert_eq!(app.cpu_time, None);
    let warning = app
        .warnings
        .iter()
        .find(|warning| warning.contains(&format!("pid {escapee} (`sleep 1000`)")))
        .unwrap_or_else(|| panic!("no warning names pid {escapee}: {:?}", app.warnings));
    assert!(
        warning.contains("still alive after the program ended"),
        "{warning}"
    );
    // cgroups were turned off on purpose: that alone is not worth a warning.
    assert_eq!(app.warnings.len(), 1, "{:?}", app.warnings);
    assert!(
        report
            .summary()
            .to_string()
            .contains(&format!("warning: pid {escapee} (`sleep 1000`)"))
    );
    assert!(report.to_junit_xml().contains(&format!(
        "<system-err>driver `app`: warning: pid {escapee} (`sleep 1000`)"
    )));
    // testrig no longer holds it: the test ends it itself.
    let survivor = ProcessIdentity::of(escapee).expect("the survivor is alive");
    send_signal(escapee, libc::SIGKILL);
    assert!(survivor.wait_gone(T).await);
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn where_cgroups_are_not_available_the_report_says_so_for_each_app() {
    let scratch = Scratch::new("where_cgroups_are_not_available_the_report_says_so");
    // A program of its own, where cgroup v2 is turned off for the whole program.
    let helper = testrig::process::Process::spawn(
        helper::HELPER
            .command(helper::REPORT_WARNINGS)
            .env(testrig::process::CGROUP_VAR, "0")
            .name("helper"),
        scratch.dir(),
    )
    .await
    .unwrap();
    scratch.track(helper.pid());
    assert_eq!(helper.wait(30 * T).await.unwrap(), Exit::Code(0));
    let stdout = std::fs::read_to_string(helper.log_file(Stream::Stdout)).unwrap();
    let warnings: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("warning: "))
        .collect();
    let expected = |driver: &str| {
        format!(
            "warning: {driver}: held by its process group only (cgroup v2 not available: turned \
             off with TESTRIG_CGROUP=0): a descendant that leaves the group (setsid) is not \
             killed with it"
        )
    };
    assert_eq!(
        warnings,
        [expected("first"), expected("second")],
        "{stdout}"
    );
    scratch.assert_nothing_left().await;
}
