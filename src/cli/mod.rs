//! The `bytewax` command line: parsing, then handing each subcommand to
//! the layers below. Exit codes: 0 success, 1 the flow failed, 2 a usage
//! or import mistake, 130 interrupted.

pub mod args;
pub mod duration;
pub mod generated;
pub mod graph;
pub mod processes;
pub mod run;
pub mod signals;

use clap::Parser;

use crate::python::interpreter::{self, Launch, StartError};
pub use args::{Cli, Command};

/// Exit code for a usage or import mistake.
pub const EXIT_USAGE: i32 = 2;
/// Exit code for a flow that failed.
pub const EXIT_FAILURE: i32 = 1;

/// Entry point of the executable.
pub fn main() -> i32 {
    run_argv(std::env::args().collect())
}

/// Runs the command line given as `argv` (`argv[0]` is the program name).
pub fn run_argv(argv: Vec<String>) -> i32 {
    // Everything after `python` belongs to Python, untouched by clap.
    if argv.get(1).map(String::as_str) == Some("python") {
        return python_main(&argv[2..]);
    }
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return err.exit_code();
        }
    };
    match cli.command {
        Command::Run(args) => run::run(args, &argv),
        Command::Python(args) => python_main(&args.args),
        Command::InitDb(args) => init_db(args),
        Command::Graph(args) => graph::graph(args, &argv),
        Command::Completions(args) => print_report(&generated::completions(args.shell)),
        Command::Recovery(args::RecoveryCommand::Inspect { db_dir }) => {
            match crate::recovery::inspect::inspect(&db_dir) {
                Ok(report) => print_report(&report),
                Err(err) => {
                    eprintln!("error: {err}");
                    EXIT_USAGE
                }
            }
        }
    }
}

/// Writes a subcommand's report to stdout and returns the exit code. A
/// reader that closed the pipe early (`bytewax graph app.py | head`) is
/// not an error; any other failure to write (a full disk) is.
pub fn print_report(text: &str) -> i32 {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => 0,
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(err) => {
            eprintln!("error: cannot write to stdout: {err}");
            EXIT_FAILURE
        }
    }
}

/// `bytewax init-db DIR COUNT`.
fn init_db(args: args::InitDbArgs) -> i32 {
    match crate::recovery::init::init_db_dir(&args.db_dir, args.count) {
        Ok(()) => print_report(&format!(
            "Created {} recovery partitions in {}\n",
            args.count,
            args.db_dir.display()
        )),
        Err(err) => {
            eprintln!("error: {err}");
            EXIT_USAGE
        }
    }
}

/// `bytewax python ARGS...`: CPython's own command line, with the embedded
/// `bytewax` package importable.
fn python_main(args: &[String]) -> i32 {
    crate::telemetry::logging::init(tracing_subscriber::filter::LevelFilter::WARN);
    match interpreter::start(Launch::Main { args }) {
        Ok(()) => interpreter::run_main(),
        Err(err) => report_start_error(err),
    }
}

/// Prints why the interpreter did not start and returns the exit code.
pub fn report_start_error(err: StartError) -> i32 {
    match err {
        StartError::Usage(message) => {
            eprintln!("error: {message}");
            EXIT_USAGE
        }
        StartError::Failed(message) => {
            eprintln!("error: {message}");
            EXIT_FAILURE
        }
        StartError::Exit(code) => code,
    }
}
