//! The epoch machinery every keyed stateful step shares: routing items to
//! the key's worker, processing only the oldest open epoch (later epochs
//! wait, so a snapshot of an epoch never holds effects of the next one),
//! about a thousand items per activation (a backlog is handled in slices,
//! in order), waking on timers, running end-of-input logic, snapshotting
//! touched keys when an epoch closes, and holding capabilities exactly as
//! long as output may still come.
//!
//! The step's own behaviour is a [`StatefulLogic`]; the GIL is taken only
//! when there is work for it, and the logic is dropped under the GIL once
//! the step is done.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use pyo3::prelude::*;
use pyo3::types::PyList;
use timely::dataflow::channels::pact::DistributorPact;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::Capability;

use super::{Epoch, Snapshot};
use crate::runtime::batch::PyBatch;
use crate::runtime::context::{Step, StepCtx};
use crate::runtime::keyed_batch::KeyedItems;
use crate::runtime::operators::{PyStream, SnapStream};
use crate::runtime::routing::{ByKey, PyDistributor};
use crate::telemetry::metrics::{timed, Timer};

/// What a keyed stateful step does; the driver decides when.
pub trait StatefulLogic {
    /// Handles a batch of `(key, value)` items of the oldest open epoch,
    /// appending outputs to `out`.
    fn on_items(
        &mut self,
        py: Python<'_>,
        items: &KeyedItems<'_>,
        out: &Bound<'_, PyList>,
    ) -> Step<()>;

    /// The earliest time a timer is due, if any.
    fn next_wake(&self) -> Option<DateTime<Utc>>;

    /// Fires every timer due at `now`.
    fn on_wake(&mut self, py: Python<'_>, now: DateTime<Utc>, out: &Bound<'_, PyList>) -> Step<()>;

    /// The input has ended: emit what is left.
    fn on_eof(&mut self, py: Python<'_>, out: &Bound<'_, PyList>) -> Step<()>;

    /// Whether work is left over from this activation (then
    /// [`finish_activation`](Self::finish_activation) is called with the
    /// GIL).
    fn has_leftover(&self) -> bool {
        false
    }

    /// Runs leftover work at the end of an activation.
    fn finish_activation(&mut self, _py: Python<'_>) -> Step<()> {
        Ok(())
    }

    /// Whether some key changed since the last snapshot.
    fn has_changes(&self) -> bool;

    /// Snapshots of the keys that changed, labelled with `epoch`.
    fn snapshots(&mut self, py: Python<'_>, epoch: Epoch) -> Step<Vec<Snapshot>>;
}

/// Items a step handles in one activation (whole batches: at least one).
///
/// A worker that fell behind (another worker of its process held the GIL
/// meanwhile) finds many batches waiting. Handled in one go, their outputs
/// pile up before the next step sees any and are cold by then; in slices,
/// each slice's output is handled downstream in the same worker step, while
/// still in cache. Later batches wait in order, and the epoch they belong
/// to stays open until they are handled.
const ITEMS_PER_ACTIVATION: usize = 1024;

/// Builds a keyed stateful operator around a logic made by `make` (under
/// the GIL, at build time; `None` means it failed and was reported).
pub fn stateful<'s, L, F>(
    up: PyStream<'s>,
    ctx: StepCtx,
    resume_epoch: Epoch,
    local: std::ops::Range<usize>,
    items_timer: Timer,
    make: F,
) -> (PyStream<'s>, SnapStream<'s>)
where
    L: StatefulLogic + 'static,
    F: FnOnce(Python<'_>) -> Option<L> + 'static,
{
    let scope = up.scope();
    let mut op = OperatorBuilder::new(ctx.step_id.to_string(), scope);
    let pact = DistributorPact({
        let ctx = ctx.clone();
        move |_peers| PyDistributor::new(ByKey, local, ctx)
    });
    let mut input = op.new_input(up, pact);
    let (mut output, down) = op.new_output::<PyBatch>();
    let (mut snap_output, snaps) = op.new_output::<Vec<Snapshot>>();
    let activator = scope.activator_for(op.operator_info().address);

    op.build(move |mut caps| {
        let mut snap_cap: Option<Capability<Epoch>> = caps.pop().map(|c| c.delayed(&resume_epoch));
        let mut cap: Option<Capability<Epoch>> = caps.pop().map(|c| c.delayed(&resume_epoch));
        let mut pending: BTreeMap<Epoch, (Capability<Epoch>, VecDeque<PyBatch>)> = BTreeMap::new();
        let mut logic = Python::attach(make);
        let items_timer = ctx.timer(items_timer);
        let snapshot_timer = ctx.timer(Timer::Snapshot);

        move |frontiers| {
            let Some(st) = logic.as_mut() else {
                input.for_each(|_, _| {});
                cap = None;
                snap_cap = None;
                return;
            };
            if ctx.stopping() {
                input.for_each(|_, _| {});
                cap = None;
                snap_cap = None;
                return;
            }
            let frontier = frontiers[0].frontier().iter().min().copied();
            let mut output = output.activate();
            let mut result: Step<()> = Ok(());

            // Every batch waits its turn in `pending`, in order; the
            // oldest open epoch's batches are handled, up to a budget.
            input.for_each_stamp(|time, batches| {
                let epoch = time.least().copied().unwrap_or_default();
                let entry = pending.entry(epoch).or_insert_with(|| {
                    (
                        time.retain_least(0).expect("a message has a time"),
                        VecDeque::new(),
                    )
                });
                entry.1.extend(batches.map(std::mem::take));
            });

            let is_ready = |epoch: &Epoch| frontier.is_none_or(|f| *epoch <= f);
            let wall = Utc::now();
            let timers_due = st.next_wake().is_some_and(|at| at <= wall);
            let has_ready = pending.keys().next().is_some_and(is_ready);
            // End of input, once every batch is handled (maybe in this
            // activation).
            let input_done = frontier.is_none() && cap.is_some();
            if has_ready || timers_due || (input_done && pending.is_empty()) || st.has_leftover() {
                let _span = ctx.span();
                result = Python::attach(|py| -> Step<()> {
                    // One epoch per activation: the snapshot taken when it
                    // closes, at the end of the activation, must not hold
                    // effects of a later one.
                    if let Some(mut oldest) = pending.first_entry().filter(|e| is_ready(e.key())) {
                        let (time, batches) = oldest.get_mut();
                        let out = PyList::empty(py);
                        let mut handled = 0;
                        while handled < ITEMS_PER_ACTIVATION {
                            let Some(mut batch) = batches.pop_front() else { break };
                            handled += batch.len();
                            ctx.count_in(batch.len());
                            let items = batch
                                .take_keyed(py)
                                .map_err(|e| ctx.stop(py, e, "receiving items", None))?;
                            timed(items_timer.as_deref(), || st.on_items(py, &items, &out))?;
                        }
                        if !out.is_empty() {
                            ctx.count_out(out.len());
                            output.give(&*time, &mut PyBatch::from_list(out));
                        }
                        if batches.is_empty() {
                            oldest.remove();
                        }
                    }
                    if let Some(c) = cap.as_ref() {
                        let out = PyList::empty(py);
                        if timers_due {
                            st.on_wake(py, wall, &out)?;
                        }
                        if input_done && pending.is_empty() {
                            st.on_eof(py, &out)?;
                        }
                        if !out.is_empty() {
                            ctx.count_out(out.len());
                            output.give(c, &mut PyBatch::from_list(out));
                        }
                    }
                    st.finish_activation(py)
                });
            }
            if pending.keys().next().is_some_and(is_ready) {
                // Over budget, or a later epoch: the rest waits for the next
                // activation, so that what this one emitted moves on while
                // it is in cache.
                activator.activate();
            }

            // When the oldest open epoch moves on: snapshot what changed in
            // the epochs that closed, then let go of them.
            if result.is_ok() {
                // Epochs before `through` have no items left to handle.
                let through = match (frontier, pending.keys().next()) {
                    (Some(f), Some(&p)) => Some(f.min(p)),
                    (f, p) => f.or(p.copied()),
                };
                if let Some(c) = cap.as_mut() {
                    let current = *c.time();
                    if through.is_none_or(|t| t > current) {
                        let closed = through.map_or(current, |t| t - 1);
                        if let Some(sc) = snap_cap.as_ref() {
                            if st.has_changes() {
                                result = Python::attach(|py| {
                                    let mut snaps = timed(snapshot_timer.as_deref(), || st.snapshots(py, closed))?;
                                    tracing::debug!(step_id = %ctx.step_id, worker = ctx.worker, epoch = closed, keys = snaps.len(), "snapshot taken");
                                    if !snaps.is_empty() {
                                        snap_output.give(&sc.delayed(&closed), &mut snaps);
                                    }
                                    Ok(())
                                });
                            }
                        }
                        match through {
                            Some(t) => {
                                c.downgrade(&t);
                                if let Some(sc) = snap_cap.as_mut() {
                                    sc.downgrade(&t);
                                }
                            }
                            None => {
                                cap = None;
                                snap_cap = None;
                            }
                        }
                    }
                }
            }
            if result.is_err() {
                cap = None;
                snap_cap = None;
                return;
            }
            if cap.is_none() {
                // Done for good: free every key's state now, in one go with
                // the GIL. Dropped later without it, each object would wait
                // in pyo3's queue of deferred releases, one lock per object.
                Python::attach(|_| logic = None);
            } else if let Some(at) = st.next_wake() {
                let delay = (at - Utc::now()).to_std().unwrap_or_default();
                activator.activate_after(delay);
            }
        }
    });
    (down, snaps)
}
