//! A runner for Bytewax 0.18 dataflows: one binary that embeds CPython and
//! runs the user's `Dataflow` on timely-dataflow workers.
//!
//! Data flows one way through the modules:
//!
//! - [`cli`]: the command line (clap), also the source of completions and
//!   man pages.
//! - [`python`]: starting the interpreter, the virtualenv, the embedded
//!   `bytewax` package and native module, resolving import strings.
//! - [`flow`]: walking the user's `Dataflow` into a [`flow::Plan`] of core
//!   steps.
//! - [`runtime`]: timely workers, the core operators, epochs and exchange;
//!   beside it [`recovery`] (SQLite partitions), [`window`] (clocks and
//!   windowers) and [`telemetry`] (logs, traces, metrics).

pub mod cli;
pub mod flow;
pub mod python;
pub mod recovery;
pub mod runtime;
pub mod telemetry;
pub mod window;
