//! One worker thread's life: agree on partitions (and the resume point),
//! build the dataflow, step it until everything is written or the run
//! stops, record where a completed run ended, then tear it down.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use timely::worker::Worker;

use super::assemble::{self, Wiring};
use super::gil::{self, WorkerThreadState};
use super::setup;
use super::shared::RunShared;
use super::RunOptions;
use crate::flow::Plan;
use crate::recovery::store::Partition;

/// Longest a worker parks without checking the stop flag; stops also
/// unpark workers directly, so this is only a safety net.
const MAX_PARK: Duration = Duration::from_millis(500);

pub fn worker_main(worker: &mut Worker, plan: &Plan, opts: &RunOptions, shared: &Arc<RunShared>) {
    let _python = WorkerThreadState::enter();
    shared.register_current_thread();
    let threads = opts.workers_per_process;
    let process = opts.cluster.as_ref().map_or(0, |c| c.process_id);
    let local = process * threads..(process + 1) * threads;

    let _span = tracing::info_span!("worker", worker = worker.index()).entered();
    tracing::info!(worker = worker.index(), "worker start");
    if let Some(mut agreement) = setup::agree(worker, plan, opts, shared) {
        let owned: Rc<RefCell<Vec<(u64, Partition)>>> = Rc::new(RefCell::new(
            agreement
                .recovery
                .as_mut()
                .map(|r| std::mem::take(&mut r.owned))
                .unwrap_or_default(),
        ));
        let probe = assemble::build(
            worker,
            Wiring {
                plan,
                opts,
                agreement: &mut agreement,
                shared,
                local,
                owned: Rc::clone(&owned),
            },
        );
        while !shared.stopping() && !probe.done() {
            // While there is Python work, keep the GIL across whole steps:
            // workers of one process serialise on it anyway, and one
            // handoff per stretch of work costs far less than one per
            // operator and batch. CPython still hands the GIL to a waiting
            // worker every switch interval.
            Python::attach(|_py| loop {
                gil::take_busy();
                worker.step_or_park(Some(Duration::ZERO));
                probe.poll();
                if !gil::take_busy() || shared.stopping() || probe.done() {
                    break;
                }
            });
            // Idle: park without the GIL until something arrives.
            worker.step_or_park(Some(MAX_PARK));
            probe.poll();
        }
        for id in worker.installed_dataflows() {
            worker.drop_dataflow(id);
        }
        if opts.recovery.is_some() && !shared.stopping() {
            record_end(worker, shared, probe.max_epoch(), &owned);
        }
    }
    for id in worker.installed_dataflows() {
        worker.drop_dataflow(id);
    }
    tracing::info!(worker = worker.index(), "worker stop");
}

/// A run that completed has written everything through its last epoch:
/// record that in every partition, so the next run continues after it.
fn record_end(
    worker: &mut Worker,
    shared: &RunShared,
    local_max: u64,
    owned: &Rc<RefCell<Vec<(u64, Partition)>>>,
) {
    let Some(all) = setup::all_gather(worker, shared, vec![local_max]) else {
        return;
    };
    let last = all.into_iter().max().unwrap_or(0);
    for (_, part) in owned.borrow_mut().iter_mut() {
        let through = part
            .info()
            .map(|i| i.written_through.max(last))
            .unwrap_or(last);
        if let Err(err) = part.write(&[], "", through) {
            tracing::error!(
                "recording the end of the run in {}: {err}",
                part.path.display()
            );
        }
    }
}
