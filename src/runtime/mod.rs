//! Running a [`Plan`] on timely-dataflow: one native thread per worker,
//! the core operators, epochs and exchange. The calling thread supervises:
//! it waits for the workers, watches for interrupts, and turns the first
//! failure into the result.

pub mod assemble;
pub mod batch;
pub mod cluster;
pub mod context;
pub mod epochs;
pub mod gil;
pub mod keyed_batch;
pub mod operators;
pub mod routing;
pub mod setup;
pub mod shared;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use crate::flow::Plan;
pub use shared::{Failure, RunShared};

/// The default epoch length (the CLI's snapshot interval).
pub const DEFAULT_EPOCH_INTERVAL: Duration = Duration::from_secs(10);

/// How long workers get to stop after Ctrl-C before they are abandoned.
const INTERRUPT_GRACE: Duration = Duration::from_secs(2);

/// Set when an interrupted run left worker threads behind (stuck in user
/// code): the process should exit without finalising Python.
pub static ABANDONED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// How often the supervising thread looks for an interrupt.
const SUPERVISE_EVERY: Duration = Duration::from_millis(50);

/// Where this process sits in a multi-process cluster.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    pub addresses: Vec<String>,
    pub process_id: usize,
}

/// Where and how snapshots are kept.
#[derive(Debug, Clone)]
pub struct RecoveryOptions {
    pub db_dir: std::path::PathBuf,
    /// How long superseded snapshots are kept.
    pub backup_interval: Duration,
    /// The `bytewax.serde.Serde` class that writes snapshots.
    pub serde: Arc<pyo3::Py<pyo3::PyAny>>,
    /// Its `module.Qualified` name, recorded beside every snapshot.
    pub serde_name: String,
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub workers_per_process: usize,
    pub epoch_interval: Duration,
    pub cluster: Option<ClusterSpec>,
    pub recovery: Option<RecoveryOptions>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            workers_per_process: 1,
            epoch_interval: DEFAULT_EPOCH_INTERVAL,
            cluster: None,
            recovery: None,
        }
    }
}

/// Runs the plan to completion on this process's workers. `interrupted`
/// is polled by the calling thread; when it returns true every worker is
/// stopped and the result is [`Failure::Interrupted`].
///
/// Must be called without holding the GIL.
pub fn run(
    plan: Arc<Plan>,
    opts: RunOptions,
    interrupted: &mut dyn FnMut() -> bool,
) -> Result<(), Failure> {
    let _gc = gil::GcTuning::for_run();
    let shared = Arc::new(RunShared::default());
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<bool>();
    let (builders, others) = match &opts.cluster {
        Some(spec) => {
            let cluster =
                cluster::start(spec, opts.workers_per_process, plan.fingerprint(), &shared)
                    .map_err(|e| shared.take_failure().unwrap_or(Failure::Runtime(e)))?;
            (cluster.builders, cluster.comms)
        }
        None => timely::CommunicationConfig::Process(opts.workers_per_process)
            .try_build()
            .map_err(|e| Failure::Runtime(format!("could not start workers: {e}")))?,
    };
    let guards = {
        let shared = Arc::clone(&shared);
        let opts = opts.clone();
        timely::execute::execute_from(
            builders,
            others,
            timely::WorkerConfig::default(),
            move |worker| {
                // Reports completion even if the worker panics.
                let _done = DoneGuard(done_tx.clone());
                worker::worker_main(worker, &plan, &opts, &shared);
            },
        )
        .map_err(|e| Failure::Runtime(format!("could not start workers: {e}")))?
    };

    let mut finished = 0;
    let mut crashed = false;
    let mut interrupted_at: Option<std::time::Instant> = None;
    while finished < opts.workers_per_process {
        match done_rx.recv_timeout(SUPERVISE_EVERY) {
            Ok(panicked) => {
                finished += 1;
                crashed |= panicked;
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                let again = interrupted();
                if again && interrupted_at.is_none() {
                    interrupted_at = Some(std::time::Instant::now());
                    shared.fail(Failure::Interrupted);
                } else if let Some(at) = interrupted_at {
                    // A worker stuck in user code (a long `sleep`, a
                    // blocking read) cannot be stopped from here; after a
                    // grace period, or a second Ctrl-C, give up on it.
                    if again || at.elapsed() >= INTERRUPT_GRACE {
                        ABANDONED.store(true, std::sync::atomic::Ordering::SeqCst);
                        std::mem::forget(guards);
                        return Err(Failure::Interrupted);
                    }
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        }
    }
    // A crashed worker has not finished: telling peers so would also stop
    // this process noticing a peer that vanished (the likely cause).
    if !shared.stopping() && !crashed {
        shared.finish_cluster();
    }
    let mut panicked = None;
    for result in guards.join() {
        if let Err(message) = result {
            panicked.get_or_insert(message);
        }
    }
    if panicked.is_some() && opts.cluster.is_some() && !shared.has_failed() {
        // A worker that crashed because a peer vanished: the control
        // connection says which peer, given a moment.
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while !shared.has_failed() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    if let Some(failure) = shared.take_failure() {
        return Err(failure);
    }
    if let Some(message) = panicked {
        // Peers then learn that this process failed and reports why,
        // rather than that it vanished.
        let crash = || Failure::Runtime(format!("a worker thread crashed: {message}"));
        shared.fail(crash());
        return Err(shared.take_failure().unwrap_or_else(crash));
    }
    Ok(())
}

/// Says when its worker thread ends, and whether by a panic.
struct DoneGuard(crossbeam_channel::Sender<bool>);

impl Drop for DoneGuard {
    fn drop(&mut self) {
        let _ = self.0.send(std::thread::panicking());
    }
}
