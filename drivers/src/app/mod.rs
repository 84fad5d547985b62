//! The process driver (testplan `App`): one program with the lifecycle of a driver —
//! arguments and environment wired to other drivers' exports, readiness by a regex on
//! its output or on a log file it writes, extracted values exported, supervision,
//! stop signal and timeout, pause/resume, logs archived on restart.
//!
//! # Examples
//! ```no_run
//! # async fn demo() -> testrig::Result<()> {
//! use testrig::Environment;
//! use testrig::process::Stream;
//! use testrig_drivers::app::App;
//! use testrig_drivers::tcp::TcpClient;
//!
//! let mut builder = Environment::builder("web");
//! let web = builder.add(
//!     App::new("web", "python3")
//!         .args(["-u", "-m", "http.server", "--bind", "127.0.0.1", "0"])
//!         .ready_on(Stream::Stdout, r"port (?P<port>\d+)"),
//! );
//! builder.add(TcpClient::new("client", web.export("port")));
//! let env = builder.build()?;
//! env.run(|env| async move {
//!     let web = env.get(&web)?;
//!     let pid = web.process().map(|process| process.pid());
//!     println!("web server pid {pid:?} on port {:?}", web.extracted("port"));
//!     Ok::<_, testrig::Error>(())
//! })
//! .await
//! # }
//! ```

#[allow(clippy::module_inception)]
mod app;
mod builder;
mod config;
mod error;
mod expectation;
mod inotify;
mod log_file;
mod log_watch;
mod readiness;
mod supervision;

pub use app::App;
pub use config::DEFAULT_STOP_TIMEOUT;
pub use error::AppError;
pub use expectation::Expectation;
