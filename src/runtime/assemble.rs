//! Turning a [`Plan`] into one worker's timely dataflow: an operator per
//! core step, streams wired by index, and a probe on every output.

use std::collections::HashMap;
use std::sync::Arc;

use pyo3::prelude::*;
use timely::dataflow::operators::Probe;
use timely::dataflow::ProbeHandle;
use timely::worker::Worker;

use super::context::StepCtx;
use super::epochs::{Epoch, ProbeWatch, Snapshotter};
use super::operators::input_fixed::AssignedPart;
use super::operators::{self as ops, PyStream, SnapStream};
use super::setup::Agreement;
use super::shared::RunShared;
use super::RunOptions;
use crate::flow::{Op, Partitioning, Plan};

/// What one worker's dataflow needs from the run beyond the plan.
pub struct Wiring<'a> {
    pub plan: &'a Plan,
    pub opts: &'a RunOptions,
    pub agreement: &'a Agreement,
    pub shared: &'a Arc<RunShared>,
    /// Global indices of this process's workers.
    pub local: std::ops::Range<usize>,
    pub resume_epoch: Epoch,
    pub snapshotter: Option<Snapshotter>,
}

/// Builds the production dataflow on this worker. Returns the probe that
/// tells when everything has been written.
pub fn build(worker: &mut Worker, wiring: Wiring<'_>) -> ProbeWatch {
    let handle = ProbeHandle::<Epoch>::new();
    let watch = ProbeWatch::new(handle.clone());
    let me = worker.index();
    let peers = worker.peers();
    let plan = wiring.plan;

    worker.dataflow::<Epoch, _, _>(|scope| {
        let mut streams: Vec<Option<PyStream<'_>>> =
            (0..plan.streams.len()).map(|_| None).collect();
        let mut probed = Vec::new();
        let mut snapshots: Vec<SnapStream<'_>> = Vec::new();

        for (step_ix, step) in plan.steps.iter().enumerate() {
            let ctx = StepCtx::new(&step.step_id, me, peers, Arc::clone(wiring.shared));
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
                        wiring.resume_epoch,
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
                    let map = wiring
                        .agreement
                        .partitions
                        .get(&step_ix)
                        .cloned()
                        .unwrap_or_default();
                    let parts = map
                        .owned_by(me)
                        .map(|(_, key)| AssignedPart {
                            key: key.to_string(),
                            resume_state: None,
                            epoch: wiring.resume_epoch,
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
                        wiring.snapshotter.clone(),
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
                    probed.push(ops::output_dynamic::output_dynamic(
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
                    let map = wiring
                        .agreement
                        .partitions
                        .get(&step_ix)
                        .cloned()
                        .unwrap_or_default();
                    let sink = Python::attach(|py| sink.clone_ref(py));
                    let (clock, snaps) = ops::output_fixed::output_fixed(
                        get(&streams, *up),
                        ctx,
                        sink,
                        map,
                        HashMap::new(),
                        wiring.local.clone(),
                        wiring.snapshotter.clone(),
                    );
                    probed.push(clock);
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
                    let s = ops::inspect_debug::inspect_debug(get(&streams, *up), ctx, inspector);
                    s.clone().probe_with(&handle);
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
                        Vec::new(),
                        wiring.resume_epoch,
                        wiring.local.clone(),
                        wiring.snapshotter.clone(),
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
                        Vec::new(),
                        wiring.resume_epoch,
                        wiring.local.clone(),
                        wiring.snapshotter.clone(),
                    );
                    streams[*down] = Some(s);
                    snapshots.push(snaps);
                }
            }
        }
        for clock in probed {
            clock.probe_with(&handle);
        }
        let _ = snapshots;
    });
    watch
}

fn get<'s>(streams: &[Option<PyStream<'s>>], ix: usize) -> PyStream<'s> {
    streams[ix]
        .clone()
        .expect("the plan checked every read stream is written first")
}
