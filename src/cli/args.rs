//! The command line, as clap definitions. Completions and man pages are
//! generated from these same definitions.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use super::duration::parse_duration;

/// Run Bytewax 0.18 dataflows on a timely-dataflow cluster, with Python
/// embedded.
#[derive(Debug, Parser)]
#[command(
    name = "bytewax",
    version,
    propagate_version = true,
    about = "Run Bytewax dataflows written in Python",
    long_about = "Run Bytewax 0.18 dataflows written in Python.\n\n\
        One binary: the Python package `bytewax` is built in, and flows run on \
        timely-dataflow worker threads and processes.",
    after_help = "Examples:\n  \
        bytewax run app.py:flow -w 4\n  \
        bytewax init-db ./state 4 && bytewax run app.py -r ./state -s 30s -b 10m\n  \
        bytewax python -m pytest tests/"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a dataflow
    Run(RunArgs),
    /// Create empty recovery partitions in a directory
    InitDb(InitDbArgs),
    /// Run Python (script, -c, -m or a REPL) with the bytewax package importable
    #[command(disable_help_flag = true)]
    Python(PythonArgs),
    /// Print a dataflow's steps and streams without running it
    Graph(GraphArgs),
    /// Look inside recovery partitions
    #[command(subcommand)]
    Recovery(RecoveryCommand),
    /// Print a shell completion script to stdout
    Completions(CompletionsArgs),
}

/// Where to find the flow: `FILE.py` or `dotted.module`, then optionally
/// `:attribute` or `:factory(literal, args)`.
pub const IMPORT_STR_HELP: &str =
    "Dataflow to run: a file path or dotted module name, optionally followed by \
     `:name` (default `flow`) or `:factory(args)` with literal arguments, e.g. \
     `app.py`, `app.py:flow`, `pkg.app:make_flow(4)`";

#[derive(Debug, Args)]
pub struct RunArgs {
    #[arg(value_name = "IMPORT_STR", help = IMPORT_STR_HELP)]
    pub import_str: String,

    /// Number of worker threads in each process
    #[arg(short = 'w', long, env = "BYTEWAX_WORKERS_PER_PROCESS", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub workers_per_process: u64,

    /// Length of an epoch: how often state is snapshotted (seconds, or e.g. `30s`, `10m`); 10s if not given
    #[arg(short = 's', long, env = "BYTEWAX_SNAPSHOT_INTERVAL", value_parser = parse_duration,
          value_name = "DURATION")]
    pub snapshot_interval: Option<Duration>,

    /// Directory of recovery partitions (create it with `bytewax init-db`)
    #[arg(
        short = 'r',
        long,
        env = "BYTEWAX_RECOVERY_DIRECTORY",
        value_name = "DIR"
    )]
    pub recovery_directory: Option<PathBuf>,

    /// How long old snapshots are kept, so that backed-up partitions still share a resume point
    #[arg(short = 'b', long, env = "BYTEWAX_RECOVERY_BACKUP_INTERVAL", value_parser = parse_duration,
          value_name = "DURATION")]
    pub backup_interval: Option<Duration>,

    /// This process's index in the cluster (needs --addresses or BYTEWAX_HOSTFILE_PATH)
    #[arg(short = 'i', long, env = "BYTEWAX_PROCESS_ID", value_name = "ID")]
    pub process_id: Option<usize>,

    /// Addresses of every process in the cluster, `host:port` separated by `;`
    #[arg(short = 'a', long, env = "BYTEWAX_ADDRESSES", value_name = "ADDRS")]
    pub addresses: Option<String>,

    /// Start this many local processes on free loopback ports and supervise them
    #[arg(short = 'p', long, env = "BYTEWAX_PROCESSES", value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=256))]
    pub processes: Option<u64>,

    /// Log level on stderr: error, warn, info, debug or trace
    #[arg(long, env = "BYTEWAX_LOG_LEVEL", value_enum, default_value_t = LogLevel::Warn,
          ignore_case = true)]
    pub log_level: LogLevel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

#[derive(Debug, Args)]
pub struct InitDbArgs {
    /// Directory to hold the partitions (created if missing)
    #[arg(value_name = "DIR")]
    pub db_dir: PathBuf,
    /// Number of partitions to create
    #[arg(value_name = "COUNT")]
    pub count: u64,
}

#[derive(Debug, Args)]
pub struct PythonArgs {
    /// Arguments handed to Python as they are, e.g. `-m pytest tests/` or `script.py`
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
    Json,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[arg(value_name = "IMPORT_STR", help = IMPORT_STR_HELP)]
    pub import_str: String,
    /// Output format
    #[arg(short = 'f', long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
    /// How many levels of nested substeps to show (1 shows only top-level steps)
    #[arg(short = 'd', long, value_name = "N")]
    pub depth: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum RecoveryCommand {
    /// Show partitions, executions, the resume epoch and snapshot counts per step
    Inspect {
        /// Recovery directory
        #[arg(value_name = "DIR")]
        db_dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to generate completions for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
