//! `combine`: `reduce_final`'s `pre_reduce` step, run natively. Each
//! worker reduces the values it produced per key and epoch (not just per
//! batch, as the Python mapper would), so one partial value per key and
//! epoch travels to the key's worker instead of every item: a map-side
//! combiner. `reduce_final` only emits at the end of input, so holding
//! values until the epoch closes is invisible; the partials of an epoch
//! leave before the epoch closes downstream, so snapshots hold the same
//! state as without combining.

use std::collections::BTreeMap;

use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::Capability;

use super::PyStream;
use crate::runtime::batch::PyBatch;
use crate::runtime::context::{Step, StepCtx};
use crate::runtime::epochs::{Epoch, KeyMap};
use crate::runtime::routing::item_key;
use crate::telemetry::metrics::{timed, Timer};

/// The partial values of one epoch, in the order their keys were first
/// seen (so that, with one upstream worker, values meet in input order).
#[derive(Default)]
struct Partials {
    slot: KeyMap<usize>,
    values: Vec<(Py<PyString>, Py<PyAny>)>,
}

impl Partials {
    fn add(
        &mut self,
        py: Python<'_>,
        ctx: &StepCtx,
        reducer: &Bound<'_, PyAny>,
        key: &Bound<'_, PyString>,
        value: &Bound<'_, PyAny>,
    ) -> Step<()> {
        let k = key
            .to_str()
            .map_err(|e| ctx.stop(py, e, "reading a key", None))?;
        match self.slot.get(k) {
            Some(&i) => {
                let acc = &mut self.values[i].1;
                let reduced = reducer
                    .call1((acc.bind(py), value))
                    .map_err(|e| ctx.stop(py, e, "calling `reducer`", Some(k)))?;
                *acc = reduced.unbind();
            }
            None => {
                self.slot.insert(k.into(), self.values.len());
                self.values
                    .push((key.clone().unbind(), value.clone().unbind()));
            }
        }
        Ok(())
    }

    fn into_list<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items = self
            .values
            .into_iter()
            .map(|(k, v)| PyTuple::new(py, [k.into_any(), v]))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }
}

/// The reducer of a `pre_reduce` mapper marked `("combine", reducer)`.
pub fn native_reducer(mapper: &Bound<'_, PyAny>) -> Option<Py<PyAny>> {
    let marker = mapper.getattr("_bytewax_native").ok()?;
    let (kind, reducer): (String, Py<PyAny>) = marker.extract().ok()?;
    (kind == "combine").then_some(reducer)
}

/// Reduces `(key, value)` items per key and epoch with `reducer(acc,
/// value)`. Items that are not `(str, value)` tuples go through the
/// Python `mapper` instead, which unpacks other pairs and names the step
/// in its error for anything else.
pub fn combine<'s>(
    up: PyStream<'s>,
    ctx: StepCtx,
    reducer: Py<PyAny>,
    mapper: Py<PyAny>,
) -> PyStream<'s> {
    let scope = up.scope();
    let mut op = OperatorBuilder::new(format!("{}.combine", ctx.step_id), scope);
    let mut input = op.new_input(up, Pipeline);
    let (mut output, down) = op.new_output::<PyBatch>();
    // Reported as the step's mapper calls, which this replaces.
    let timer = ctx.timer(Timer::FlatMapBatch);

    op.build(move |_caps| {
        let mut open: BTreeMap<Epoch, (Capability<Epoch>, Partials)> = BTreeMap::new();
        move |frontiers| {
            if ctx.stopping() {
                input.for_each(|_, _| {});
                open.clear();
                return;
            }
            let mut output = output.activate();
            let mut failed = false;
            input.for_each_stamp(|time, batches| {
                if failed {
                    return;
                }
                let epoch = time.least().copied().unwrap_or_default();
                let partials = &mut open
                    .entry(epoch)
                    .or_insert_with(|| {
                        let cap = time.retain_least(0).expect("a message has a time");
                        (cap, Partials::default())
                    })
                    .1;
                let _span = ctx.span();
                let result = Python::attach(|py| -> Step<()> {
                    let reducer = reducer.bind(py);
                    let malformed = PyList::empty(py);
                    for batch in batches {
                        ctx.count_in(batch.len());
                        let items = batch
                            .take(py)
                            .map_err(|e| ctx.stop(py, e, "receiving items", None))?;
                        timed(timer.as_deref(), || -> Step<()> {
                            for item in items.iter() {
                                match item_key(&item) {
                                    Some(key) => {
                                        // SAFETY: `item_key` checked it is a 2-tuple.
                                        let value = unsafe {
                                            item.cast_unchecked::<PyTuple>()
                                                .get_borrowed_item_unchecked(1)
                                        };
                                        partials.add(py, &ctx, reducer, &key, &value)?;
                                    }
                                    None => malformed
                                        .append(item)
                                        .map_err(|e| ctx.stop(py, e, "passing an item on", None))?,
                                }
                            }
                            Ok(())
                        })?;
                    }
                    if !malformed.is_empty() {
                        let out = mapper
                            .bind(py)
                            .call1((malformed,))
                            .and_then(|out| super::collect_list(out, "`mapper`"))
                            .map_err(|e| ctx.stop(py, e, "calling `mapper`", None))?;
                        if !out.is_empty() {
                            ctx.count_out(out.len());
                            output.give(&time, &mut PyBatch::from_list(out));
                        }
                    }
                    Ok(())
                });
                failed = result.is_err();
            });
            if failed {
                open.clear();
                return;
            }

            // Epochs the input has moved past are complete here.
            let frontier = frontiers[0].frontier().iter().min().copied();
            let closed: Vec<Epoch> = open
                .keys()
                .copied()
                .take_while(|e| frontier.is_none_or(|f| *e < f))
                .collect();
            if closed.is_empty() {
                return;
            }
            let _span = ctx.span();
            Python::attach(|py| {
                for epoch in closed {
                    let (cap, partials) = open.remove(&epoch).expect("listed just above");
                    match partials.into_list(py) {
                        Ok(list) if list.is_empty() => {}
                        Ok(list) => {
                            ctx.count_out(list.len());
                            output.give(&cap, &mut PyBatch::from_list(list));
                        }
                        Err(err) => {
                            open.clear();
                            return ctx.fail(py, err, "passing partial values on", None);
                        }
                    }
                }
            });
        }
    });
    down
}
