use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

use super::drivers::DriverOptions;
use super::network::NetworkDecl;
use super::steps::StepAction;
use super::{Problem, RigError, Source, TableSpans};

/// A rig file, read and checked: its drivers and the steps to run.
#[derive(Debug)]
pub(crate) struct Rig {
    /// The file, to point later errors at it.
    pub(crate) source: Source,
    /// The directory of the file: relative paths in the rig are taken from it.
    pub(crate) dir: PathBuf,
    /// `[rig] name`: the environment's name, and the report files' names.
    pub(crate) name: String,
    /// `[rig] description`.
    pub(crate) description: Option<String>,
    /// `[network]`, `[[host]]`, `[[link]]` and `[[switch]]`: the emulated network
    /// the drivers run on (none declared: every driver runs on this machine).
    pub(crate) network: NetworkDecl,
    /// The `[[driver]]` tables, in file order.
    pub(crate) drivers: Vec<DriverDecl>,
    /// The `[[step]]` tables, in file order.
    pub(crate) steps: Vec<StepDecl>,
}

/// One `[[driver]]`.
#[derive(Debug)]
pub(crate) struct DriverDecl {
    /// `name`, unique in the rig.
    pub(crate) name: Spanned<String>,
    /// `kind` and the kind's own keys.
    pub(crate) options: DriverOptions,
    /// `on`: the host of the rig's network it runs on (`DriverSpec::on`);
    /// `None`: this machine.
    pub(crate) on: Option<Spanned<String>>,
    /// `depends_on`: drivers started before this one (references add more).
    pub(crate) depends_on: Vec<Spanned<String>>,
    /// `start_timeout`: start + readiness deadline.
    pub(crate) start_timeout: Option<Duration>,
    /// `stop_timeout`: after it the driver is aborted.
    pub(crate) stop_timeout: Option<Duration>,
    /// Where its keys are.
    pub(crate) spans: TableSpans,
}

/// One `[[step]]`.
#[derive(Debug)]
pub(crate) struct StepDecl {
    /// `name`, or `<number>-<kind>` when it has none; the report's case name.
    pub(crate) name: String,
    /// `kind` and the kind's own keys.
    pub(crate) action: StepAction,
    /// Where its keys are.
    pub(crate) spans: TableSpans,
}

impl Rig {
    /// An error at `span` of this rig's file.
    pub(crate) fn error_at(
        &self,
        span: Range<usize>,
        context: &str,
        message: impl Into<String>,
    ) -> RigError {
        RigError::Invalid {
            location: self.source.locate(span),
            context: context.to_owned(),
            message: message.into(),
        }
    }

    /// `problem`, found in the table `spans` describes.
    pub(crate) fn problem(&self, spans: &TableSpans, problem: Problem) -> RigError {
        self.error_at(
            problem.span.clone(),
            &spans.context(&problem.span),
            problem.message,
        )
    }

    /// An error at `span`, inside the table `spans` describes.
    pub(crate) fn error_in(
        &self,
        spans: &TableSpans,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> RigError {
        self.problem(spans, Problem::new(span, message))
    }

    /// The driver named `name`; with `nth`, the n-th of that name (0-based).
    pub(crate) fn driver(&self, name: &str, nth: usize) -> Option<&DriverDecl> {
        self.drivers
            .iter()
            .filter(|d| d.name.get_ref() == name)
            .nth(nth)
    }

    /// The names of the drivers, for messages: "server, client".
    pub(crate) fn driver_list(&self) -> String {
        if self.drivers.is_empty() {
            return "no drivers".to_owned();
        }
        self.drivers
            .iter()
            .map(|d| d.name.get_ref().as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}
