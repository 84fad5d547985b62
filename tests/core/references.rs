use testrig::testing::{Event, Journal, ScriptedDriver};
use testrig::{BuildError, Environment, Error, Ref, Value};

use crate::support::start_error;

#[tokio::test]
async fn a_client_receives_the_servers_real_port() {
    let journal = Journal::new();
    let env = Environment::builder("wired")
        // Added client first: the reference alone orders the start.
        .driver(
            ScriptedDriver::new("client")
                .connect_to(Ref::export("server", "port"))
                .journal(&journal),
        )
        .driver(ScriptedDriver::new("server").listen().journal(&journal))
        .build()
        .unwrap();
    env.run(|env| async move {
        let server = env.get::<ScriptedDriver>("server")?;
        let client = env.get::<ScriptedDriver>("client")?;
        let port = server.port().expect("server listens");
        assert_ne!(port, 0);
        assert_eq!(client.connected_port(), Some(port));
        assert_eq!(
            env.values()
                .resolve::<Value>(Ref::<u16>::export("server", "port").key())?,
            Value::from(port)
        );
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    assert_eq!(journal.order_of(Event::Ready), ["server", "client"]);
    assert_eq!(journal.order_of(Event::StopCalled), ["client", "server"]);
}

#[test]
fn a_reference_to_a_value_not_exported_is_a_build_error_naming_driver_and_key() {
    let error = Environment::builder("missing")
        .driver(ScriptedDriver::new("server").listen())
        .driver(ScriptedDriver::new("client").needs(Ref::export("server", "host")))
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "environment `missing`: driver `client` references `server.host`, but `server` exports no `host` (it exports: port)"
    );
    assert!(matches!(error, BuildError::MissingExport { .. }));
}

#[test]
fn a_reference_to_an_unknown_driver_is_a_build_error() {
    let error = Environment::builder("unknown")
        .driver(ScriptedDriver::new("client").connect_to(Ref::export("srv", "port")))
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "environment `unknown`: driver `client` references `srv.port`, but there is no driver `srv`"
    );
}

#[test]
fn a_cycle_is_rejected_naming_the_cycle() {
    let error = Environment::builder("loop")
        .driver(
            ScriptedDriver::new("a")
                .export("v", 1u16)
                .needs(Ref::export("c", "v")),
        )
        .driver(
            ScriptedDriver::new("b")
                .export("v", 2u16)
                .needs(Ref::export("a", "v")),
        )
        .driver(ScriptedDriver::new("c").export("v", 3u16))
        .depends_on("c", "b")
        .build()
        .unwrap_err();
    let BuildError::Cycle { cycle, .. } = &error else {
        panic!("expected a cycle, got {error}");
    };
    assert_eq!(cycle.first(), cycle.last());
    let mut members = cycle[..3].to_vec();
    members.sort();
    assert_eq!(members, ["a", "b", "c"]);
    assert!(
        error
            .to_string()
            .starts_with("environment `loop`: dependency cycle ")
    );
    assert_eq!(error.to_string().matches(" -> ").count(), 3);
}

#[test]
fn duplicate_names_unknown_dependencies_and_invalid_names_are_build_errors() {
    let duplicate = Environment::builder("e")
        .driver(ScriptedDriver::new("x"))
        .driver(ScriptedDriver::new("x"))
        .build()
        .unwrap_err();
    assert_eq!(
        duplicate.to_string(),
        "environment `e`: two drivers are named `x`"
    );

    let unknown = Environment::builder("e")
        .driver(ScriptedDriver::new("x"))
        .depends_on("x", "nope")
        .build()
        .unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "environment `e`: driver `x` depends on unknown driver `nope`"
    );

    let invalid = Environment::builder("e")
        .driver(ScriptedDriver::new("my.server"))
        .build()
        .unwrap_err();
    assert!(
        invalid
            .to_string()
            .starts_with("environment `e`: driver name `my.server` is invalid"),
        "{invalid}"
    );
}

#[tokio::test]
async fn a_value_of_the_wrong_type_fails_the_start_naming_the_reference() {
    let env = Environment::builder("types")
        .driver(ScriptedDriver::new("server").export("port", "not-a-port"))
        .driver(ScriptedDriver::new("client").connect_to(Ref::export("server", "port")))
        .build()
        .unwrap();
    let error = start_error(env.start().await.unwrap_err());
    assert_eq!(error.failures[0].driver(), "client");
    let text = error.to_string();
    assert!(
        text.contains(
            "cannot resolve `server.port`: value not-a-port: `not-a-port` is not an integer"
        ),
        "{text}"
    );
}
