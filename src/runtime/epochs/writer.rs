//! Writing snapshots to recovery partitions. Each partition has one
//! primary worker that writes it. When every snapshot and every output of
//! an epoch is done, the writer commits that epoch's snapshots and marks
//! the partition complete through it, in one transaction; only then does
//! its clock (which the dataflow's probe watches) move past the epoch.
//! Old versions are collected once the backup interval has passed and
//! every partition holds the newer ones.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::time::{Duration, Instant};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::Concatenate;
use timely::dataflow::ProbeHandle;

use super::{Epoch, Snapshot};
use crate::recovery::store::Partition;
use crate::runtime::context::StepCtx;
use crate::runtime::operators::{ClockStream, SnapStream};
use crate::runtime::routing::key_hash;
use crate::telemetry::metrics::{timed, Timer};

/// Collecting old versions at most this often.
const COLLECT_EVERY: Duration = Duration::from_millis(500);

/// The partition a snapshot belongs in.
///
/// ```
/// use bytewax::runtime::epochs::writer::partition_for;
/// assert_eq!(partition_for("flow.count", "a", 4), partition_for("flow.count", "a", 4));
/// assert!(partition_for("flow.count", "a", 4) < 4);
/// ```
pub fn partition_for(step_id: &str, key: &str, count: u64) -> u64 {
    let mut joined = String::with_capacity(step_id.len() + key.len() + 2);
    joined.push_str(step_id);
    joined.push('\u{ff}');
    joined.push_str(key);
    key_hash(&joined) % count
}

/// How the snapshots of a run reach storage.
pub struct WriterConfig {
    /// Partitions this worker writes, shared with the worker loop (which
    /// records the final epoch after a completed run).
    pub owned: Rc<RefCell<Vec<(u64, Partition)>>>,
    /// Primary worker of each partition.
    pub primaries: Vec<usize>,
    pub serde_name: String,
    pub backup_interval: Duration,
    pub resume_epoch: Epoch,
    /// The run's probe: epochs before its frontier are durable everywhere.
    pub durable: ProbeHandle<Epoch>,
}

/// Writes `snapshots` once their epoch is complete, which also waits for
/// every stream in `outputs` to pass it. Returns the writer's clock.
pub fn write_snapshots<'s>(
    snapshots: Vec<SnapStream<'s>>,
    outputs: Vec<ClockStream<'s>>,
    ctx: StepCtx,
    config: WriterConfig,
) -> ClockStream<'s> {
    let scope = outputs
        .first()
        .map(|s| s.scope())
        .or_else(|| snapshots.first().map(|s| s.scope()));
    let scope = scope.expect("a dataflow has an output");
    let snapshots = scope.concatenate(snapshots);
    let mut op = OperatorBuilder::new(ctx.step_id.to_string(), scope);
    let primaries = config.primaries.clone();
    let count = primaries.len() as u64;
    let route = move |snap: &Snapshot| {
        primaries[partition_for(&snap.step_id, &snap.key, count) as usize] as u64
    };
    let mut snap_input = op.new_input(snapshots, Exchange::new(route));
    let mut clock_inputs: Vec<_> = outputs
        .into_iter()
        .map(|s| op.new_input(s, Pipeline))
        .collect();
    let (_clock_out, clock) = op.new_output::<Vec<()>>();

    op.build(move |mut caps| {
        let mut cap = caps.pop().map(|c| c.delayed(&config.resume_epoch));
        let mut pending: BTreeMap<Epoch, Vec<Snapshot>> = BTreeMap::new();
        let mut written: VecDeque<(Epoch, Instant)> = VecDeque::new();
        let mut last_collect = Instant::now();
        let timer = ctx.timer(Timer::RecoveryWrite);

        move |frontiers| {
            snap_input.for_each(|_time, snaps| {
                for snap in snaps.drain(..) {
                    pending.entry(snap.epoch).or_default().push(snap);
                }
            });
            for input in clock_inputs.iter_mut() {
                input.for_each(|_, _| {});
            }
            let Some(c) = cap.as_mut() else { return };
            if ctx.stopping() {
                cap = None;
                return;
            }
            // Epochs before every input's frontier are complete.
            let frontier = frontiers
                .iter()
                .filter_map(|f| f.frontier().iter().min().copied())
                .min();
            let through = match frontier {
                Some(f) if f <= *c.time() => return,
                Some(f) => f - 1,
                None => pending
                    .keys()
                    .next_back()
                    .copied()
                    .unwrap_or(*c.time())
                    .max(*c.time()),
            };
            let mut batch: BTreeMap<u64, Vec<Snapshot>> = BTreeMap::new();
            let done: Vec<Epoch> = pending.range(..=through).map(|(e, _)| *e).collect();
            for epoch in done {
                for snap in pending.remove(&epoch).unwrap_or_default() {
                    batch
                        .entry(partition_for(&snap.step_id, &snap.key, count))
                        .or_default()
                        .push(snap);
                }
            }
            let mut owned = config.owned.borrow_mut();
            for (index, part) in owned.iter_mut() {
                let snaps = batch.remove(index).unwrap_or_default();
                let written_count = snaps.len();
                let result = timed(timer.as_deref(), || {
                    part.write(&snaps, &config.serde_name, through)
                });
                tracing::debug!(
                    partition = *index,
                    through,
                    snapshots = written_count,
                    "snapshots written"
                );
                if let Err(err) = result {
                    fail(&ctx, format!("writing snapshots: {err}"));
                    cap = None;
                    return;
                }
            }
            written.push_back((through, Instant::now()));

            // Collect versions older than the backup interval, as long as
            // every partition holds their replacements.
            let now = Instant::now();
            if now.saturating_duration_since(last_collect) >= COLLECT_EVERY || frontier.is_none() {
                let durable = config.durable.with_frontier(|f| f.iter().min().copied());
                let mut commit = None;
                while let Some(&(epoch, at)) = written.front() {
                    let old_enough = now.saturating_duration_since(at) >= config.backup_interval;
                    let everywhere = durable.is_none_or(|d| epoch < d);
                    if !(old_enough && everywhere) {
                        break;
                    }
                    commit = Some(epoch);
                    written.pop_front();
                }
                if let Some(commit) = commit {
                    last_collect = now;
                    for (_, part) in owned.iter_mut() {
                        if let Err(err) = part.collect(commit) {
                            fail(&ctx, format!("collecting old snapshots: {err}"));
                            cap = None;
                            return;
                        }
                    }
                }
            }
            match frontier {
                Some(f) => c.downgrade(&f),
                None => cap = None,
            }
        }
    });
    clock
}

fn fail(ctx: &StepCtx, message: String) {
    Python::attach(|py| {
        ctx.fail(
            py,
            PyRuntimeError::new_err(message),
            "recording snapshots",
            None,
        )
    });
}
