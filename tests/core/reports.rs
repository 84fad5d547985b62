use testrig::testing::{HelperProgram, Picture, ScratchDir, ScriptedDriver};
use testrig::{ConnectionInfo, Environment, Error, Outcome, Phase, Report, Status};

#[tokio::test]
async fn json_and_junit_reports_are_valid_and_carry_the_durations() {
    let dir = std::env::temp_dir().join(format!("testrig-report-test-{}", std::process::id()));
    let env = Environment::builder("reported")
        .driver(ScriptedDriver::new("server").listen())
        .driver(ScriptedDriver::new("client").connect_to(testrig::Ref::export("server", "port")))
        .driver(ScriptedDriver::new("flaky").fail_in(Phase::Stop))
        .report_dir(&dir)
        .build()
        .unwrap();
    let outcome = env.run(|_env| async move { Ok::<_, Error>(()) }).await;
    assert!(outcome.is_err(), "the failing stop is reported by run");

    let json = std::fs::read_to_string(dir.join("reported.json")).unwrap();
    let report: Report = serde_json::from_str(&json).unwrap();
    let live = env.report();
    assert_eq!(report.drivers.len(), live.drivers.len());
    for (parsed, live) in report.drivers.iter().zip(&live.drivers) {
        assert_eq!(
            (&parsed.name, parsed.status, &parsed.exports),
            (&live.name, live.status, &live.exports)
        );
        assert_eq!(parsed.transitions.len(), live.transitions.len());
        let close = |a: Option<std::time::Duration>, b: Option<std::time::Duration>| {
            a.unwrap().abs_diff(b.unwrap()) < std::time::Duration::from_micros(1)
        };
        assert!(close(parsed.setup, live.setup) && close(parsed.teardown, live.teardown));
    }
    assert_eq!(report.outcome, Outcome::Failed);
    assert!(report.setup.unwrap() > std::time::Duration::ZERO);
    assert!(report.teardown.unwrap() > std::time::Duration::ZERO);
    let server = &report.drivers[0];
    assert_eq!(server.status, Status::Stopped);
    assert!(server.setup.is_some() && server.teardown.is_some());
    assert_eq!(server.transitions.len(), 4);
    assert!(server.exports.contains_key("port"));
    assert!(
        matches!(&server.connections[0], ConnectionInfo::Listening { protocol, .. } if protocol == "tcp"),
        "{:?}",
        server.connections
    );
    assert_eq!(report.drivers[2].errors[0].phase, Phase::Stop);
    assert!(
        report.cases[0]
            .name
            .ends_with("json_and_junit_reports_are_valid_and_carry_the_durations"),
        "the body's case is named after the test: {}",
        report.cases[0].name
    );
    assert_eq!(report.cases[0].outcome, Outcome::Passed);

    let xml = std::fs::read_to_string(dir.join("reported.junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("name"), Some("reported"));
    // Only the body is a test case, and the failed teardown one, so a CI sees it;
    // the drivers are properties and output of the suite.
    assert_eq!(suite.attribute("tests"), Some("2"));
    assert_eq!(suite.attribute("failures"), Some("1"));
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let names: Vec<_> = cases.iter().filter_map(|c| c.attribute("name")).collect();
    let this_test = "reports::json_and_junit_reports_are_valid_and_carry_the_durations";
    assert!(names[0].ends_with(this_test), "{names:?}");
    assert_eq!(names[1], "teardown");
    assert!(
        cases
            .iter()
            .all(|c| c.attribute("classname") == Some("reported"))
    );
    let body_time: f64 = cases[0].attribute("time").unwrap().parse().unwrap();
    assert!(body_time > 0.0);
    assert!(cases[0].children().all(|n| !n.has_tag_name("failure")));
    let failure = cases[1]
        .children()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert!(
        failure
            .attribute("message")
            .unwrap()
            .contains("driver `flaky` failed in stop"),
        "{xml}"
    );
    let property = |name: &str| {
        suite
            .descendants()
            .find(|n| n.has_tag_name("property") && n.attribute("name") == Some(name))
            .and_then(|n| n.attribute("value"))
    };
    assert_eq!(property("driver.server.status"), Some("stopped"), "{xml}");
    assert_eq!(property("driver.flaky.status"), Some("failed"), "{xml}");
    assert!(property("driver.server.setup_s").is_some(), "{xml}");

    let svg = std::fs::read_to_string(dir.join("reported.timeline.svg")).unwrap();
    // As a picture: the drivers' started phases, the failed stop, the passing case.
    let rendered = Picture::render(&svg);
    assert!(rendered.count(STARTED) > 1000, "started phases are drawn");
    assert!(rendered.count(FAILED) > 0, "the failed stop shows in red");
    let rows = rendered.rows_with(STARTED, 20);
    assert!(!rows.is_empty());
    let picture = roxmltree::Document::parse(&svg).expect("the timeline is well-formed XML");
    assert_eq!(picture.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> = picture.descendants().filter_map(|n| n.text()).collect();
    for name in ["server", "client", "flaky"] {
        assert!(
            texts.iter().any(|t| t.contains(name)),
            "{name} is labelled in the timeline"
        );
    }
    let bars = picture
        .descendants()
        .filter(|n| n.has_tag_name("rect"))
        .count();
    assert!(
        bars >= 3 * 3,
        "a bar per phase of each driver, found {bars} rects"
    );

    let summary = report.summary().to_string();
    assert!(
        summary.starts_with("environment reported FAILED: setup "),
        "{summary}"
    );
    assert!(summary.contains("server"), "{summary}");
    assert!(
        summary.contains("! driver `flaky` failed in stop"),
        "{summary}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_report_of_a_failed_start_lists_the_failure_and_escapes_markup() {
    let env = Environment::builder("bad")
        .driver(ScriptedDriver::new("x").fail_in(Phase::Start))
        .build()
        .unwrap();
    let _ = env.start().await;
    let report = env.report();
    assert_eq!(report.outcome, Outcome::Failed);
    assert!(report.errors[0].contains("environment `bad` failed to start"));
    let doc_text = report.to_junit_xml();
    let doc = roxmltree::Document::parse(&doc_text).unwrap();
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(
        cases.len(),
        1,
        "a failed start is a failed case: {doc_text}"
    );
    assert_eq!(cases[0].attribute("name"), Some("setup"));
    assert!(cases[0].children().any(|n| n.has_tag_name("failure")));
}

#[tokio::test]
async fn the_case_name_is_settable() {
    let env = Environment::builder("named")
        .case_name("my case")
        .build()
        .unwrap();
    env.run(|_env| async move { Ok::<_, Error>(()) })
        .await
        .unwrap();
    assert_eq!(env.report().cases[0].name, "my case");
}

/// This test binary run again as a program whose environment has
/// `$TESTRIG_REPORT_DIR` set (see [`report_dir_helper`]).
const HELPER: HelperProgram =
    HelperProgram::new("reports::report_dir_helper", "TESTRIG_CORE_HELPER");

#[test]
#[ignore = "the helper program the report directory tests run"]
fn report_dir_helper() {
    let Some(mode) = HELPER.mode() else { return };
    let builder = Environment::builder("from-variable").driver(ScriptedDriver::new("server"));
    let builder = match mode.strip_prefix("builder-dir ") {
        Some(dir) => builder.report_dir(dir),
        None if mode == "no-builder-dir" => builder,
        None => panic!("unknown helper mode `{mode}`"),
    };
    let env = builder.build().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(env.run(|_env| async move { Ok::<_, Error>(()) }))
        .unwrap();
}

/// Runs [`report_dir_helper`] in `mode` with `$TESTRIG_REPORT_DIR` set to `variable`.
fn run_helper_with_report_dir_var(mode: &str, variable: &std::path::Path) {
    let output = std::process::Command::new(HELPER.program())
        .args(HELPER.args())
        .env(HELPER.variable(), mode)
        .env(testrig::suite::REPORT_DIR_VAR, variable)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
}

#[test]
fn run_writes_the_report_to_the_report_dir_variable_when_the_builder_sets_none() {
    let scratch = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "report_dir_variable");
    let variable = scratch.path().join("from-variable");
    run_helper_with_report_dir_var("no-builder-dir", &variable);
    assert!(variable.join("from-variable.json").is_file());
    assert!(variable.join("from-variable.junit.xml").is_file());
}

#[test]
fn the_builders_report_dir_wins_over_the_report_dir_variable() {
    let scratch = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "report_dir_builder_wins");
    let variable = scratch.path().join("from-variable");
    let builder = scratch.path().join("from-builder");
    run_helper_with_report_dir_var(&format!("builder-dir {}", builder.display()), &variable);
    assert!(builder.join("from-variable.json").is_file());
    assert!(!variable.exists());
}

const STARTED: (u8, u8, u8) = (92, 184, 92);
const FAILED: (u8, u8, u8) = (217, 83, 79);
const NOT_RUN: (u8, u8, u8) = (190, 190, 190);

#[tokio::test]
async fn the_timeline_shows_each_driver_and_each_case_and_a_failed_case_in_red() {
    let env = Environment::builder("pictured")
        .driver(ScriptedDriver::new("server").listen())
        .driver(ScriptedDriver::new("client").connect_to(testrig::Ref::export("server", "port")))
        .build()
        .unwrap();
    env.run(|_env| async move {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    env.record_case(testrig::report::CaseReport {
        name: "a failing check".to_owned(),
        outcome: Outcome::Failed,
        duration: std::time::Duration::from_millis(10),
        message: Some("it failed".to_owned()),
        started_at: None,
    });
    env.record_case(testrig::report::CaseReport {
        name: "never ran".to_owned(),
        outcome: Outcome::NotRun,
        duration: std::time::Duration::from_millis(5),
        message: None,
        started_at: None,
    });
    let svg = env.report().timeline_svg();
    let picture = roxmltree::Document::parse(&svg).unwrap();
    let texts: Vec<&str> = picture
        .descendants()
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    for label in ["server", "client", "cases"] {
        assert!(
            texts.contains(&label),
            "the row `{label}` is labelled: {texts:?}"
        );
    }
    assert!(
        texts.iter().any(|t| t.contains("pictured FAILED")),
        "the title says the run failed: {texts:?}"
    );

    let rendered = Picture::render(&svg);
    // Three rows of bars: two drivers' started phases and the passing case, each a band
    // of green; the failed case is red and the one not run grey, in the last row.
    let green_rows = rendered.rows_with(STARTED, 30);
    let red_rows = rendered.rows_with(FAILED, 3);
    let grey_rows = rendered.rows_with(NOT_RUN, 3);
    assert!(!red_rows.is_empty(), "the failed case shows in red");
    assert!(
        !grey_rows.is_empty(),
        "the case that did not run shows in grey"
    );
    let bands = green_rows.windows(2).filter(|w| w[1] > w[0] + 1).count() + 1;
    assert_eq!(
        bands, 3,
        "a green band per driver and one for the passing case: {green_rows:?}"
    );
    assert!(
        red_rows[0] > green_rows[0],
        "the cases' row is below the drivers'"
    );
}

#[test]
fn the_pictures_the_readme_shows_are_there_and_show_their_series() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for picture in ["quickstart.timeline.svg", "quickstart.throughput.svg"] {
        assert!(
            readme.contains(&format!("(docs/images/{picture})")),
            "the README shows {picture}"
        );
    }
    let timeline =
        std::fs::read_to_string(root.join("docs/images/quickstart.timeline.svg")).unwrap();
    let rendered = Picture::render(&timeline);
    let bands = rendered.rows_with(STARTED, 30);
    let count = bands.windows(2).filter(|w| w[1] > w[0] + 1).count() + 1;
    assert_eq!(
        count, 5,
        "four drivers and the cases, each a green band: {bands:?}"
    );

    let throughput =
        std::fs::read_to_string(root.join("docs/images/quickstart.throughput.svg")).unwrap();
    let rendered = Picture::render(&throughput);
    // The sum is a thick (4 px) black line: three or more adjacent rows with a long
    // black run, which the 1 px axes alone never give.
    let black_rows = rendered.rows_with((0, 0, 0), 200);
    let thick = black_rows.windows(3).any(|w| w[2] == w[0] + 2);
    assert!(
        thick,
        "the throughput picture has its sum line: {black_rows:?}"
    );
}
