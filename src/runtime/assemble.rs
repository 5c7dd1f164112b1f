//! Turning a [`Plan`] into one worker's timely dataflow: an operator per
//! core step, streams wired by index, resumed state handed to the steps
//! that own it, snapshots routed to the recovery writer, and a probe on
//! everything that must finish.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use pyo3::prelude::*;
use timely::dataflow::operators::Probe;
use timely::dataflow::ProbeHandle;
use timely::worker::Worker;

use super::context::StepCtx;
use super::epochs::writer::{write_snapshots, WriterConfig};
use super::epochs::{Epoch, ProbeWatch, Snapshotter};
use super::operators::input_fixed::AssignedPart;
use super::operators::{self as ops, ClockStream, PyStream, SnapStream};
use super::setup::Agreement;
use super::shared::RunShared;
use super::RunOptions;
use crate::flow::{Op, Partitioning, Plan};
use crate::recovery::store::Partition;

/// What one worker's dataflow needs from the run beyond the plan.
pub struct Wiring<'a> {
    pub plan: &'a Plan,
    pub opts: &'a RunOptions,
    pub agreement: &'a mut Agreement,
    pub shared: &'a Arc<RunShared>,
    /// Global indices of this process's workers.
    pub local: std::ops::Range<usize>,
    /// Recovery partitions this worker writes (empty without recovery).
    pub owned: Rc<RefCell<Vec<(u64, Partition)>>>,
}

/// Builds the production dataflow on this worker. Returns the probe that
/// tells when everything has been written.
pub fn build(worker: &mut Worker, wiring: Wiring<'_>) -> ProbeWatch {
    let handle = ProbeHandle::<Epoch>::new();
    let watch = ProbeWatch::new(handle.clone());
    let me = worker.index();
    let peers = worker.peers();
    let plan = wiring.plan;
    let resume_epoch = wiring
        .agreement
        .recovery
        .as_ref()
        .map_or(1, |r| r.resume.resume_epoch);
    let mut states: HashMap<String, Vec<(String, Py<PyAny>)>> = wiring
        .agreement
        .recovery
        .as_mut()
        .map(|r| std::mem::take(&mut r.states))
        .unwrap_or_default();
    let primaries = wiring
        .agreement
        .recovery
        .as_ref()
        .map(|r| r.primaries.clone())
        .unwrap_or_default();
    let snapshotter = wiring
        .opts
        .recovery
        .as_ref()
        .map(|r| Snapshotter::new(Python::attach(|py| r.serde.clone_ref(py))));
    let partitions = &wiring.agreement.partitions;

    worker.dataflow::<Epoch, _, _>(|scope| {
        let mut streams: Vec<Option<PyStream<'_>>> =
            (0..plan.streams.len()).map(|_| None).collect();
        let mut outputs: Vec<ClockStream<'_>> = Vec::new();
        let mut snapshots: Vec<SnapStream<'_>> = Vec::new();

        for (step_ix, step) in plan.steps.iter().enumerate() {
            let ctx = StepCtx::new(&step.step_id, me, peers, Arc::clone(wiring.shared));
            let mut resumed = states.remove(&step.step_id).unwrap_or_default();
            match &step.op {
                Op::Input {
                    source,
                    kind: Partitioning::Dynamic,
                    down,
                } => {
                    let source = Python::attach(|py| source.clone_ref(py));
                    let s = ops::input_dynamic::input_dynamic(
                        scope,
                        ctx,
                        source,
                        resume_epoch,
                        wiring.opts.epoch_interval,
                        watch.clone(),
                    );
                    streams[*down] = Some(s);
                }
                Op::Input {
                    source,
                    kind: Partitioning::Fixed,
                    down,
                } => {
                    let map = partitions.get(&step_ix).cloned().unwrap_or_default();
                    let parts = map
                        .owned_by(me)
                        .map(|(_, key)| {
                            let resume_state = resumed
                                .iter()
                                .position(|(k, _)| k == key)
                                .map(|i| resumed.swap_remove(i).1);
                            AssignedPart {
                                key: key.to_string(),
                                resume_state,
                                epoch: resume_epoch,
                            }
                        })
                        .collect();
                    let source = Python::attach(|py| source.clone_ref(py));
                    let (s, snaps) = ops::input_fixed::input_fixed(
                        scope,
                        ctx,
                        source,
                        parts,
                        wiring.opts.epoch_interval,
                        watch.clone(),
                        snapshotter.clone(),
                    );
                    streams[*down] = Some(s);
                    snapshots.push(snaps);
                }
                Op::Output {
                    sink,
                    kind: Partitioning::Dynamic,
                    up,
                } => {
                    let sink = Python::attach(|py| sink.clone_ref(py));
                    outputs.push(ops::output_dynamic::output_dynamic(
                        get(&streams, *up),
                        ctx,
                        sink,
                    ));
                }
                Op::Output {
                    sink,
                    kind: Partitioning::Fixed,
                    up,
                } => {
                    let map = partitions.get(&step_ix).cloned().unwrap_or_default();
                    let sink = Python::attach(|py| sink.clone_ref(py));
                    let (clock, snaps) = ops::output_fixed::output_fixed(
                        get(&streams, *up),
                        ctx,
                        sink,
                        map,
                        resumed.into_iter().collect(),
                        wiring.local.clone(),
                        snapshotter.clone(),
                    );
                    outputs.push(clock);
                    snapshots.push(snaps);
                }
                Op::Branch {
                    predicate,
                    up,
                    trues,
                    falses,
                } => {
                    let predicate = Python::attach(|py| predicate.clone_ref(py));
                    let (t, f) = ops::branch::branch(get(&streams, *up), ctx, predicate);
                    streams[*trues] = Some(t);
                    streams[*falses] = Some(f);
                }
                Op::FlatMapBatch { mapper, up, down } => {
                    let mapper = Python::attach(|py| mapper.clone_ref(py));
                    streams[*down] = Some(ops::flat_map_batch::flat_map_batch(
                        get(&streams, *up),
                        ctx,
                        mapper,
                    ));
                }
                Op::InspectDebug {
                    inspector,
                    up,
                    down,
                } => {
                    let inspector = Python::attach(|py| inspector.clone_ref(py));
                    let (s, clock) =
                        ops::inspect_debug::inspect_debug(get(&streams, *up), ctx, inspector);
                    outputs.push(clock);
                    streams[*down] = Some(s);
                }
                Op::Merge { ups, down } => {
                    let ups = ups.iter().map(|ix| get(&streams, *ix)).collect();
                    streams[*down] = Some(ops::merge::merge(scope, ups));
                }
                Op::Redistribute { up, down } => {
                    let s = ops::redistribute::redistribute(
                        get(&streams, *up),
                        ctx,
                        wiring.local.clone(),
                    );
                    streams[*down] = Some(s);
                }
                Op::Unary { builder, up, down } => {
                    let builder = Python::attach(|py| builder.clone_ref(py));
                    let (s, snaps) = ops::unary::unary(
                        get(&streams, *up),
                        ctx,
                        builder,
                        resumed,
                        resume_epoch,
                        wiring.local.clone(),
                        snapshotter.clone(),
                    );
                    streams[*down] = Some(s);
                    snapshots.push(snaps);
                }
                Op::FoldWindow {
                    clock,
                    windower,
                    builder,
                    folder,
                    up,
                    down,
                } => {
                    let (clock, windower, fold) = Python::attach(|py| {
                        (
                            clock.clone_ref(py),
                            windower.clone_ref(py),
                            ops::fold_window::Fold {
                                builder: builder.clone_ref(py),
                                folder: folder.clone_ref(py),
                            },
                        )
                    });
                    let (s, snaps) = ops::fold_window::fold_window(
                        get(&streams, *up),
                        ctx,
                        clock,
                        windower,
                        fold,
                        resumed,
                        resume_epoch,
                        wiring.local.clone(),
                        snapshotter.clone(),
                    );
                    streams[*down] = Some(s);
                    snapshots.push(snaps);
                }
            }
        }

        match wiring.opts.recovery.as_ref() {
            // Outputs and snapshots both feed the writer; the probe waits
            // for the writer, so an epoch is over when it is durable.
            Some(rec) => {
                let ctx = StepCtx::new(
                    &format!("{}.recovery", plan.flow_id),
                    me,
                    peers,
                    Arc::clone(wiring.shared),
                );
                let clock = write_snapshots(
                    snapshots,
                    outputs,
                    ctx,
                    WriterConfig {
                        owned: Rc::clone(&wiring.owned),
                        primaries,
                        serde_name: rec.serde_name.clone(),
                        backup_interval: rec.backup_interval,
                        resume_epoch,
                        durable: handle.clone(),
                    },
                );
                clock.probe_with(&handle);
            }
            None => {
                for clock in outputs {
                    clock.probe_with(&handle);
                }
            }
        }
    });
    watch
}

fn get<'s>(streams: &[Option<PyStream<'s>>], ix: usize) -> PyStream<'s> {
    streams[ix]
        .clone()
        .expect("the plan checked every read stream is written first")
}
