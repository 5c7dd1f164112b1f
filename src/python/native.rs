//! The native module `bytewax.bytewax`: the entry points that run flows
//! and the classes the Python package re-exports.

use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyModule;

use crate::flow::Plan;
use crate::python::errors::format_exception;
use crate::recovery::config::RecoveryConfig;
use crate::runtime::{self, ClusterSpec, Failure, RecoveryOptions, RunOptions};

pyo3::create_exception!(
    bytewax.inputs,
    AbortExecution,
    PyRuntimeError,
    "Raise from a source's `next_batch` to end the run early, successfully, on every worker."
);

/// Builds the module object (once per interpreter).
pub fn module(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    let m = PyModule::new(py, "bytewax.bytewax")?;
    m.add("AbortExecution", py.get_type::<AbortExecution>())?;
    m.add_function(pyo3::wrap_pyfunction!(run_main, &m)?)?;
    m.add_function(pyo3::wrap_pyfunction!(cluster_main, &m)?)?;
    m.add_function(pyo3::wrap_pyfunction!(cli_main, &m)?)?;
    m.add_function(pyo3::wrap_pyfunction!(test_cluster, &m)?)?;
    m.add_function(pyo3::wrap_pyfunction!(_main, &m)?)?;
    m.add_function(pyo3::wrap_pyfunction!(init_db_dir, &m)?)?;
    m.add_class::<crate::window::config::ClockConfig>()?;
    m.add_class::<crate::window::config::SystemClockConfig>()?;
    m.add_class::<crate::window::config::EventClockConfig>()?;
    m.add_class::<crate::window::config::WindowConfig>()?;
    m.add_class::<crate::window::config::TumblingWindow>()?;
    m.add_class::<crate::window::config::SlidingWindow>()?;
    m.add_class::<crate::window::config::SessionWindow>()?;
    m.add_class::<crate::window::config::WindowMetadata>()?;
    m.add_class::<crate::recovery::config::RecoveryConfig>()?;
    m.add(
        "InconsistentPartitionsError",
        py.get_type::<crate::recovery::InconsistentPartitionsError>(),
    )?;
    m.add(
        "MissingPartitionsError",
        py.get_type::<crate::recovery::MissingPartitionsError>(),
    )?;
    m.add(
        "NoPartitionsError",
        py.get_type::<crate::recovery::NoPartitionsError>(),
    )?;
    m.add_class::<crate::telemetry::config::TracingConfig>()?;
    m.add_class::<crate::telemetry::config::JaegerConfig>()?;
    m.add_class::<crate::telemetry::config::OtlpTracingConfig>()?;
    m.add_class::<crate::telemetry::BytewaxTracer>()?;
    m.add_function(pyo3::wrap_pyfunction!(crate::telemetry::setup_tracing, &m)?)?;
    m.add(
        "__doc__",
        "Native half of Bytewax: entry points that run dataflows, and configuration classes.",
    )?;
    Ok(m)
}

/// The epoch length from an optional `timedelta`.
pub fn epoch_interval(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Duration> {
    match obj {
        None => Ok(runtime::DEFAULT_EPOCH_INTERVAL),
        Some(obj) if obj.is_none() => Ok(runtime::DEFAULT_EPOCH_INTERVAL),
        Some(obj) => crate::python::time::std_duration_from_py(obj, "epoch interval"),
    }
}

/// Runs `flow` with `opts`, releasing the GIL while workers run. Raises
/// the first user exception (its type preserved, with a note saying where
/// it happened), or `KeyboardInterrupt`.
pub fn execute(py: Python<'_>, flow: &Bound<'_, PyAny>, opts: RunOptions) -> PyResult<()> {
    execute_plan(py, Plan::from_flow(flow)?, opts)
}

/// [`execute`] for a flow already walked into a plan.
pub fn execute_plan(py: Python<'_>, plan: Plan, opts: RunOptions) -> PyResult<()> {
    run_plan(py, plan, opts).map_err(|(failure, interrupt)| match failure {
        Failure::User(err) => err,
        Failure::Interrupted => interrupt.unwrap_or_else(|| {
            PyKeyboardInterrupt::new_err("interrupted; all workers have been stopped")
        }),
        Failure::Runtime(message) | Failure::Peer(message) => PyRuntimeError::new_err(message),
    })
}

/// Runs a plan with the GIL released, watching for Ctrl-C (the CLI's flag)
/// and Python signals. On failure, also returns the `KeyboardInterrupt` a
/// Python signal handler raised, if that is why the run stopped.
#[allow(clippy::result_large_err)] // Only on the way out of a failed run.
pub fn run_plan(
    py: Python<'_>,
    plan: Plan,
    opts: RunOptions,
) -> Result<(), (Failure, Option<PyErr>)> {
    let plan = Arc::new(plan);
    let mut interrupt: Option<PyErr> = None;
    let result = py.detach(|| {
        let mut check = || {
            if crate::cli::signals::interrupted() {
                return true;
            }
            Python::attach(|py| match py.check_signals() {
                Ok(()) => false,
                Err(err) => {
                    interrupt = Some(err);
                    true
                }
            })
        };
        runtime::run(plan, opts, &mut check)
    });
    result.map_err(|failure| (failure, interrupt))
}

/// Runs a dataflow in this process on one worker thread, returning when it
/// completes. Exceptions raised by the flow's steps are re-raised here.
#[pyfunction]
#[pyo3(signature = (flow, *, epoch_interval=None, recovery_config=None))]
fn run_main(
    py: Python<'_>,
    flow: &Bound<'_, PyAny>,
    epoch_interval: Option<&Bound<'_, PyAny>>,
    recovery_config: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let opts = RunOptions {
        epoch_interval: self::epoch_interval(epoch_interval)?,
        recovery: recovery_options(recovery_config)?,
        ..RunOptions::default()
    };
    execute(py, flow, opts)
}

/// Runs a dataflow as one process of a cluster (or, with no addresses, on
/// `worker_count_per_proc` threads of this process).
#[pyfunction]
#[pyo3(signature = (flow, addresses, proc_id, *, epoch_interval=None, recovery_config=None, worker_count_per_proc=1))]
fn cluster_main(
    py: Python<'_>,
    flow: &Bound<'_, PyAny>,
    addresses: Option<Vec<String>>,
    proc_id: usize,
    epoch_interval: Option<&Bound<'_, PyAny>>,
    recovery_config: Option<&Bound<'_, PyAny>>,
    worker_count_per_proc: usize,
) -> PyResult<()> {
    if worker_count_per_proc == 0 {
        return Err(PyValueError::new_err(
            "worker_count_per_proc must be at least 1",
        ));
    }
    let cluster = match addresses {
        Some(addresses) if !addresses.is_empty() => {
            if proc_id >= addresses.len() {
                return Err(PyValueError::new_err(format!(
                    "proc_id {proc_id} is out of range for {} addresses",
                    addresses.len()
                )));
            }
            Some(ClusterSpec {
                addresses,
                process_id: proc_id,
            })
        }
        _ => None,
    };
    let opts = RunOptions {
        workers_per_process: worker_count_per_proc,
        epoch_interval: self::epoch_interval(epoch_interval)?,
        cluster,
        recovery: recovery_options(recovery_config)?,
    };
    execute(py, flow, opts)
}

/// What `bytewax run` calls: picks single- or multi-worker execution.
#[pyfunction]
#[pyo3(signature = (flow, *, workers_per_process=1, process_id=None, addresses=None, epoch_interval=None, recovery_config=None))]
fn cli_main(
    py: Python<'_>,
    flow: &Bound<'_, PyAny>,
    workers_per_process: usize,
    process_id: Option<usize>,
    addresses: Option<Vec<String>>,
    epoch_interval: Option<&Bound<'_, PyAny>>,
    recovery_config: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    // As `bytewax run` does: the dataflow API when its variable is set.
    let api = crate::telemetry::api::ApiConfig::from_env(process_id.unwrap_or(0))
        .map_err(PyValueError::new_err)?;
    if let Some(api) = &api {
        crate::telemetry::api::start(py, api, flow).map_err(PyRuntimeError::new_err)?;
    }
    cluster_main(
        py,
        flow,
        addresses,
        process_id.unwrap_or(0),
        epoch_interval,
        recovery_config,
        workers_per_process.max(1),
    )
}

/// Runs a dataflow as a cluster of `processes` local processes with
/// `workers_per_process` worker threads each, on free loopback ports, and
/// returns when all of them have finished.
///
/// The processes are forked from this one, so the flow object itself is
/// used (no re-import, and a test suite is not run again in them). Limits:
/// POSIX only; everything a process does stays in that process, so results
/// collected in Python objects here (like a `TestingSink` list) are not
/// seen by the caller: write results to files or stdout instead. Fork this
/// way only while the calling process has no other threads busy. Raises
/// `RuntimeError` naming the processes that failed.
#[pyfunction]
#[pyo3(signature = (flow, *, epoch_interval=None, recovery_config=None, processes=1, workers_per_process=1))]
fn test_cluster(
    py: Python<'_>,
    flow: &Bound<'_, PyAny>,
    epoch_interval: Option<&Bound<'_, PyAny>>,
    recovery_config: Option<&Bound<'_, PyAny>>,
    processes: usize,
    workers_per_process: usize,
) -> PyResult<()> {
    if processes == 0 || workers_per_process == 0 {
        return Err(PyValueError::new_err(
            "processes and workers_per_process must be at least 1",
        ));
    }
    if processes == 1 {
        return cluster_main(
            py,
            flow,
            None,
            0,
            epoch_interval,
            recovery_config,
            workers_per_process,
        );
    }
    // Check the flow here, once, rather than in every child.
    Plan::from_flow(flow)?;
    let ports = crate::cli::processes::free_ports(processes)
        .map_err(|e| PyRuntimeError::new_err(format!("cannot find free loopback ports: {e}")))?;
    let addresses: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let os = py.import("os")?;
    let sys = py.import("sys")?;
    let mut pids = Vec::with_capacity(processes);
    for proc_id in 0..processes {
        sys.getattr("stdout")?.call_method0("flush")?;
        sys.getattr("stderr")?.call_method0("flush")?;
        let pid: i64 = os.call_method0("fork")?.extract()?;
        if pid == 0 {
            let result = cluster_main(
                py,
                flow,
                Some(addresses.clone()),
                proc_id,
                epoch_interval,
                recovery_config,
                workers_per_process,
            );
            let code = match result {
                Ok(()) => 0,
                Err(err) => {
                    let _ = sys
                        .getattr("stderr")
                        .and_then(|e| e.call_method1("write", (format_exception(py, &err),)));
                    1
                }
            };
            let _ = sys.getattr("stdout").and_then(|o| o.call_method0("flush"));
            let _ = sys.getattr("stderr").and_then(|e| e.call_method0("flush"));
            let _ = os.call_method1("_exit", (code,));
            unreachable!("os._exit returned");
        }
        pids.push(pid);
    }
    // Wait for every child; a Ctrl-C here stops them all.
    let mut failed = Vec::new();
    let mut remaining = pids.clone();
    while !remaining.is_empty() {
        if let Err(err) = py.check_signals() {
            for pid in &remaining {
                let _ = os.call_method1("kill", (*pid, libc::SIGINT));
            }
            for pid in &remaining {
                let _ = os.call_method1("waitpid", (*pid, 0));
            }
            return Err(err);
        }
        let mut still = Vec::new();
        for pid in remaining {
            let (done, status): (i64, i32) = os
                .call_method1("waitpid", (pid, libc::WNOHANG))?
                .extract()?;
            if done == 0 {
                still.push(pid);
            } else {
                let code: i32 = os
                    .call_method1("waitstatus_to_exitcode", (status,))?
                    .extract()?;
                if code != 0 {
                    let proc_id = pids.iter().position(|p| *p == pid).unwrap_or(0);
                    failed.push(format!("process {proc_id} exited with code {code}"));
                }
            }
        }
        remaining = still;
        py.detach(|| std::thread::sleep(std::time::Duration::from_millis(10)));
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(PyRuntimeError::new_err(format!(
            "test cluster failed: {}; see their errors above",
            failed.join(", ")
        )))
    }
}

/// Creates `count` empty recovery partitions in `db_dir` (created if
/// missing). Refuses to overwrite existing partitions.
#[pyfunction]
fn init_db_dir(db_dir: std::path::PathBuf, count: i64) -> PyResult<()> {
    use crate::recovery::init::{init_db_dir, InitError};
    let count = u64::try_from(count)
        .map_err(|_| PyValueError::new_err("the partition count must be at least 1"))?;
    init_db_dir(&db_dir, count).map_err(|err| match err {
        InitError::ZeroCount => PyValueError::new_err(err.to_string()),
        InitError::AlreadyInitialised { .. } => {
            pyo3::exceptions::PyFileExistsError::new_err(err.to_string())
        }
        InitError::NotADirectory(_) => {
            pyo3::exceptions::PyNotADirectoryError::new_err(err.to_string())
        }
        InitError::Store(_) => PyRuntimeError::new_err(err.to_string()),
    })
}

/// Runs the `bytewax` command line with `argv` inside this interpreter and
/// returns its exit code (used by `python -m bytewax.run` and friends).
#[pyfunction]
fn _main(py: Python<'_>, argv: Vec<String>) -> i32 {
    py.detach(|| crate::cli::run_argv(argv))
}

/// Reads a `RecoveryConfig` (or `None`) into run options, choosing the
/// snapshot serde: `JsonPickleSerde` needs the `jsonpickle` package; when it
/// is missing the built-in serde is used instead, said once at WARN.
pub fn recovery_options(
    recovery_config: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<RecoveryOptions>> {
    let Some(cfg) = recovery_config.filter(|c| !c.is_none()) else {
        return Ok(None);
    };
    let py = cfg.py();
    let cfg = cfg.cast::<RecoveryConfig>().map_err(|_| {
        PyTypeError::new_err(format!(
            "recovery_config must be a `bytewax.recovery.RecoveryConfig`; got a `{}`",
            crate::flow::type_name(cfg)
        ))
    })?;
    let cfg = cfg.borrow();
    let db_dir: std::path::PathBuf = cfg.db_dir.bind(py).extract()?;
    let backup_interval =
        crate::python::time::std_duration_from_py(cfg.backup_interval.bind(py), "backup interval")?;
    let mut serde = cfg.snapshot_serde.bind(py).clone();
    let serde_mod = py.import("bytewax.serde")?;
    if serde.is(&serde_mod.getattr("JsonPickleSerde")?) && py.import("jsonpickle").is_err() {
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| {
            tracing::warn!(
                "the `jsonpickle` package is not installed, so snapshots are written with bytewax's built-in \
                 serde (pickle); `pip install jsonpickle` to use `JsonPickleSerde`"
            )
        });
        serde = serde_mod.getattr("_BuiltinSerde")?;
    }
    let serde_name = format!(
        "{}.{}",
        serde.getattr("__module__")?,
        serde.getattr("__qualname__")?
    );
    Ok(Some(RecoveryOptions {
        db_dir,
        backup_interval,
        serde: Arc::new(serde.unbind()),
        serde_name,
    }))
}
