//! `bytewax run`: check the flags, start Python, find the dataflow, run it,
//! and turn the outcome into an exit code.

use std::path::Path;
use std::time::Duration;

use pyo3::prelude::*;
use tracing_subscriber::filter::LevelFilter;

use super::args::{LogLevel, RunArgs};
use super::{report_start_error, signals, EXIT_FAILURE, EXIT_USAGE};
use crate::flow::Plan;
use crate::python::errors::format_exception;
use crate::python::import_str::{locate_dataflow, LocateError};
use crate::python::interpreter::{self, Launch};
use crate::python::native;
use crate::runtime::{ClusterSpec, Failure, RunOptions, DEFAULT_EPOCH_INTERVAL};

pub fn level_filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Trace => LevelFilter::TRACE,
    }
}

/// A usage mistake in the flags: printed as one line, exit code 2.
fn usage(message: impl std::fmt::Display) -> i32 {
    eprintln!("error: {message}");
    EXIT_USAGE
}

pub fn run(args: RunArgs, argv: &[String]) -> i32 {
    crate::telemetry::logging::init(level_filter(args.log_level));

    if args.recovery_directory.is_some()
        && (args.snapshot_interval.is_none() || args.backup_interval.is_none())
    {
        return usage(
            "running with recovery (-r/--recovery-directory) needs both -s/--snapshot-interval and \
             -b/--backup-interval, e.g. `-s 30s -b 10m`",
        );
    }
    if let Some(dir) = &args.recovery_directory {
        if !dir.is_dir() {
            return usage(format!(
                "the recovery directory `{}` does not exist; create it with `bytewax init-db {} COUNT`",
                dir.display(),
                dir.display()
            ));
        }
    }
    let cluster = match resolve_cluster(&args) {
        Ok(cluster) => cluster,
        Err(message) => return usage(message),
    };
    if let Some(processes) = args.processes.filter(|&p| p > 1) {
        return super::processes::run_processes(&args, processes as usize);
    }
    let opts = RunOptions {
        workers_per_process: args.workers_per_process as usize,
        epoch_interval: args.snapshot_interval.unwrap_or(DEFAULT_EPOCH_INTERVAL),
        cluster,
        recovery: None,
    };

    let owns_interpreter = !interpreter::is_running();
    if owns_interpreter {
        signals::let_python_handle_sigint();
    }
    // `sys.argv` as under `python -m bytewax.run app:flow ...`: the
    // program, then the import string and flags, without the `run`.
    let py_argv: Vec<String> = argv
        .iter()
        .take(1)
        .chain(argv.iter().skip(2))
        .cloned()
        .collect();
    if let Err(err) = interpreter::start(Launch::Embedded { argv: &py_argv }) {
        return report_start_error(err);
    }
    let recovery = args
        .recovery_directory
        .as_deref()
        .map(|dir| (dir, args.backup_interval.unwrap_or_default()));
    let code = Python::attach(|py| run_flow(py, &args.import_str, opts, recovery));
    // telemetry: flush and stop trace export, whatever the outcome.
    crate::telemetry::shutdown();
    if crate::runtime::ABANDONED.load(std::sync::atomic::Ordering::SeqCst) {
        // Workers are still stuck in user code: leave without finalising
        // Python (which would wait for them); flush what was printed.
        Python::attach(|py| {
            for stream in ["stdout", "stderr"] {
                let _ = py
                    .import("sys")
                    .and_then(|sys| sys.getattr(stream)?.call_method0("flush"));
            }
        });
        return code;
    }
    if owns_interpreter {
        interpreter::finish();
    }
    code
}

fn run_flow(
    py: Python<'_>,
    import_str: &str,
    mut opts: RunOptions,
    recovery: Option<(&Path, Duration)>,
) -> i32 {
    if let Some((dir, backup)) = recovery {
        let built = (|| {
            let cfg = py
                .import("bytewax.recovery")?
                .getattr("RecoveryConfig")?
                .call1((dir, backup))?;
            native::recovery_options(Some(&cfg))
        })();
        match built {
            Ok(rec) => opts.recovery = rec,
            Err(err) => {
                eprint!("{}", format_exception(py, &err));
                return EXIT_FAILURE;
            }
        }
    }
    // telemetry: the dataflow API server (BYTEWAX_DATAFLOW_API_*).
    let process_id = opts.cluster.as_ref().map_or(0, |c| c.process_id);
    let api = match crate::telemetry::api::ApiConfig::from_env(process_id) {
        Ok(api) => api,
        Err(message) => return usage(message),
    };
    // end telemetry
    let flow = match locate_dataflow(py, import_str) {
        Ok(flow) => flow,
        Err(LocateError::Usage(message)) => return usage(message),
        Err(LocateError::Raised(traceback)) => {
            eprint!("{traceback}");
            eprintln!(
                "error: importing the dataflow `{import_str}` failed; see the traceback above"
            );
            return EXIT_FAILURE;
        }
        Err(LocateError::Interrupted) => {
            eprintln!("interrupted while importing `{import_str}`");
            return 130;
        }
        Err(LocateError::Exit(code, message)) => {
            if let Some(message) = message {
                eprintln!("{message}");
            }
            return code;
        }
    };
    // telemetry: start the API server (turns metrics on) before the
    // dataflow is built.
    if let Some(api) = &api {
        if let Err(message) = crate::telemetry::api::start(py, api, &flow) {
            eprintln!("error: {message}");
            return EXIT_FAILURE;
        }
    }
    // end telemetry
    let plan = match Plan::from_flow(&flow) {
        Ok(plan) => plan,
        Err(err) => {
            eprintln!("error: {}", err.value(py));
            return EXIT_FAILURE;
        }
    };
    tracing::debug!(flow = %plan.flow_id, steps = plan.steps.len(), "running dataflow");
    match native::run_plan(py, plan, opts) {
        Ok(()) => 0,
        Err((Failure::User(err), _)) => {
            eprint!("{}", format_exception(py, &err));
            EXIT_FAILURE
        }
        Err((Failure::Interrupted, _)) => {
            eprintln!("interrupted; all workers have been stopped");
            signals::EXIT_INTERRUPTED
        }
        Err((Failure::Runtime(message), _)) | Err((Failure::Peer(message), _)) => {
            eprintln!("error: {message}");
            EXIT_FAILURE
        }
    }
}

/// This process's place in a cluster, from `-i`/`-a`, a hostfile, or a
/// Kubernetes stateful set's pod name; `None` when running alone.
fn resolve_cluster(args: &RunArgs) -> Result<Option<ClusterSpec>, String> {
    let process_id = match args.process_id {
        Some(id) => Some(id),
        None => process_id_from_pod()?,
    };
    let addresses = match &args.addresses {
        Some(text) => Some(split_addresses(text)),
        None if process_id.is_some() => match std::env::var_os("BYTEWAX_HOSTFILE_PATH") {
            Some(path) => Some(read_hostfile(Path::new(&path))?),
            None => {
                return Err(
                    "a process id (-i/--process-id) needs the cluster's addresses: pass \
                            -a/--addresses \"host0:port;host1:port\" or set BYTEWAX_HOSTFILE_PATH"
                        .into(),
                )
            }
        },
        None => None,
    };
    let Some(addresses) = addresses else {
        return Ok(None);
    };
    if addresses.is_empty() {
        return Err("-a/--addresses lists no address".into());
    }
    let process_id = match process_id {
        Some(id) => id,
        None if addresses.len() == 1 => 0,
        None => {
            return Err(format!(
                "-a/--addresses lists {} processes; say which one this is with -i/--process-id",
                addresses.len()
            ))
        }
    };
    if process_id >= addresses.len() {
        return Err(format!(
            "process id {process_id} is out of range: -a/--addresses lists {} processes (ids 0 to {})",
            addresses.len(),
            addresses.len() - 1
        ));
    }
    if addresses.len() == 1 {
        return Ok(None);
    }
    Ok(Some(ClusterSpec {
        addresses,
        process_id,
    }))
}

fn split_addresses(text: &str) -> Vec<String> {
    text.split(';')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(String::from)
        .collect()
}

fn read_hostfile(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the hostfile `{}` (BYTEWAX_HOSTFILE_PATH): {e}",
            path.display()
        )
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// In a Kubernetes stateful set, pod `NAME-3` is process 3.
fn process_id_from_pod() -> Result<Option<usize>, String> {
    let (Ok(pod), Ok(set)) = (
        std::env::var("BYTEWAX_POD_NAME"),
        std::env::var("BYTEWAX_STATEFULSET_NAME"),
    ) else {
        return Ok(None);
    };
    let suffix = pod.strip_prefix(&format!("{set}-")).unwrap_or(&pod);
    suffix.parse().map(Some).map_err(|_| {
        format!(
            "cannot derive the process id from BYTEWAX_POD_NAME `{pod}` and BYTEWAX_STATEFULSET_NAME `{set}`; \
             expected a pod name like `{set}-0`"
        )
    })
}
