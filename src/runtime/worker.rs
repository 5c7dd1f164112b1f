//! One worker thread's life: agree on partitions, build the dataflow, step
//! it until everything is written or the run stops, then tear it down.

use std::sync::Arc;
use std::time::Duration;

use timely::worker::Worker;

use super::assemble::{self, Wiring};
use super::gil::WorkerThreadState;
use super::setup;
use super::shared::RunShared;
use super::RunOptions;
use crate::flow::Plan;

/// Longest a worker parks without checking the stop flag; stops also
/// unpark workers directly, so this is only a safety net.
const MAX_PARK: Duration = Duration::from_millis(500);

pub fn worker_main(worker: &mut Worker, plan: &Plan, opts: &RunOptions, shared: &Arc<RunShared>) {
    let _python = WorkerThreadState::enter();
    shared.register_current_thread();
    let threads = opts.workers_per_process;
    let process = opts.cluster.as_ref().map_or(0, |c| c.process_id);
    let local = process * threads..(process + 1) * threads;

    tracing::info!(worker = worker.index(), "worker start");
    if let Some(agreement) = setup::agree(worker, plan, shared) {
        let probe = assemble::build(
            worker,
            Wiring {
                plan,
                opts,
                agreement: &agreement,
                shared,
                local,
                resume_epoch: 1,
                snapshotter: None,
            },
        );
        while !shared.stopping() && !probe.done() {
            worker.step_or_park(Some(MAX_PARK));
            probe.poll();
        }
    }
    for id in worker.installed_dataflows() {
        worker.drop_dataflow(id);
    }
    tracing::info!(worker = worker.index(), "worker stop");
}
