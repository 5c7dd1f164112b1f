//! `output` to a `FixedPartitionedSink`: each `(key, value)` goes to the
//! partition `part_fn(key)` picks, on that partition's primary worker,
//! which writes values in epoch order and snapshots the partitions it
//! wrote when an epoch closes (so a resumed run can truncate to it).

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use timely::container::NoopBuilder;
use timely::dataflow::channels::pact::{DistributorPact, Pipeline};
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::Operator;

use super::partition::Partition;
use super::{ClockStream, PyStream, SnapStream};
use crate::flow::type_name;
use crate::runtime::batch::PyBatch;
use crate::runtime::context::StepCtx;
use crate::runtime::epochs::{Epoch, Snapshot, Snapshotter};
use crate::runtime::routing::{item_key, ByWorkerIndex, PyDistributor};
use crate::runtime::setup::PartitionMap;
use crate::telemetry::metrics::{timed, Timer};

pub fn output_fixed<'s>(
    up: PyStream<'s>,
    ctx: StepCtx,
    sink: Py<PyAny>,
    map: PartitionMap,
    resume: HashMap<String, Py<PyAny>>,
    local: std::ops::Range<usize>,
    snapshotter: Option<Snapshotter>,
) -> (ClockStream<'s>, SnapStream<'s>) {
    let map = Rc::new(map);
    let sink = Rc::new(sink);
    let assigned = assign(up, ctx.clone(), Rc::clone(&sink), Rc::clone(&map));

    let mut builder = OperatorBuilder::new(ctx.step_id.to_string(), assigned.scope());
    let pact = DistributorPact({
        let ctx = ctx.clone();
        move |_peers| PyDistributor::new(ByWorkerIndex, local, ctx)
    });
    let mut input = builder.new_input(assigned, pact);
    let (_clock_out, clock) = builder.new_output::<Vec<()>>();
    let (mut snap_out, snaps) = builder.new_output::<Vec<Snapshot>>();

    let timer = ctx.timer(Timer::WriteBatch);
    builder.build(move |caps| {
        drop(caps);
        let mut resume = resume;
        let mut parts: HashMap<usize, Partition> = HashMap::new();
        // Values waiting for their epoch to become the oldest open one,
        // by epoch then partition.
        let mut pending: BTreeMap<Epoch, BTreeMap<usize, Vec<Py<PyAny>>>> = BTreeMap::new();
        // Partitions written in each epoch, to snapshot when it closes,
        // with a capability to send the snapshots at that epoch.
        let mut written: BTreeMap<Epoch, (timely::dataflow::operators::Capability<Epoch>, Vec<usize>)> = BTreeMap::new();

        move |frontiers| {
            if ctx.stopping() {
                input.for_each(|_, _| {});
                return;
            }
            let frontier = frontiers[0].frontier().iter().min().copied();
            input.for_each_stamp(|time, batches| {
                let epoch = time.least().copied().unwrap_or_default();
                Python::attach(|py| {
                    let slot = pending.entry(epoch).or_default();
                    for batch in batches {
                        ctx.count_in(batch.len());
                        let items = match batch.take(py) {
                            Ok(items) => items,
                            Err(err) => return ctx.fail(py, err, "receiving items", None),
                        };
                        for item in items.iter() {
                            // (worker, partition index, value), made by `assign`.
                            let Ok(t) = item.cast::<PyTuple>() else { continue };
                            let (Ok(ix), Ok(value)) = (t.get_item(1).and_then(|i| i.extract::<usize>()), t.get_item(2))
                            else {
                                continue;
                            };
                            slot.entry(ix).or_default().push(value.unbind());
                        }
                    }
                });
                if snapshotter.is_some() {
                    written
                        .entry(epoch)
                        .or_insert_with(|| (time.retain_least(1).expect("a message has a time"), Vec::new()));
                }
            });

            // Write every epoch not after the oldest open one, in order;
            // snapshot the partitions written in epochs that closed.
            let ready: Vec<Epoch> = pending.keys().copied().filter(|e| frontier.is_none_or(|f| *e <= f)).collect();
            let closed: Vec<Epoch> = written.keys().copied().filter(|e| frontier.is_none_or(|f| *e < f)).collect();
            let closing = frontier.is_none() && !parts.is_empty();
            if ready.is_empty() && closed.is_empty() && !closing {
                return;
            }
            let _span = ctx.span();
            Python::attach(|py| {
                for epoch in ready {
                    let by_part = pending.remove(&epoch).unwrap_or_default();
                    for (ix, values) in by_part {
                        let result = timed(timer.as_deref(), || write(py, &sink, &map, &mut parts, &mut resume, ix, values));
                        if let Err(err) = result {
                            return ctx.fail(py, err, &format!("writing to partition {:?}", map.parts[ix]), None);
                        }
                        if let Some((_, list)) = written.get_mut(&epoch) {
                            if !list.contains(&ix) {
                                list.push(ix);
                            }
                        }
                    }
                }
                if let Some(snapshotter) = snapshotter.as_ref() {
                    for epoch in closed {
                        let (cap, ixs) = written.remove(&epoch).expect("listed just above");
                        let mut snaps = Vec::new();
                        for ix in ixs {
                            let Some(part) = parts.get(&ix) else { continue };
                            let key = &map.parts[ix];
                            let state = part.bind(py).call_method0("snapshot").and_then(|s| snapshotter.ser(&s));
                            match state {
                                Ok(state) => snaps.push(Snapshot {
                                    step_id: ctx.step_id.to_string(),
                                    key: key.clone(),
                                    epoch,
                                    state: Some(state),
                                }),
                                Err(err) => {
                                    let what = format!("calling `StatefulSinkPartition.snapshot` for partition {key:?}");
                                    return ctx.fail(py, err, &what, None);
                                }
                            }
                        }
                        if !snaps.is_empty() {
                            snap_out.activate().give(&cap, &mut snaps);
                        }
                    }
                }
                if frontier.is_none() {
                    for (ix, part) in parts.drain() {
                        if let Err(err) = part.close(py) {
                            let what = format!("calling `StatefulSinkPartition.close` for partition {:?}", map.parts[ix]);
                            ctx.fail(py, err, &what, None);
                        }
                    }
                }
            });
        }
    });
    (clock, snaps)
}

fn write(
    py: Python<'_>,
    sink: &Py<PyAny>,
    map: &PartitionMap,
    parts: &mut HashMap<usize, Partition>,
    resume: &mut HashMap<String, Py<PyAny>>,
    ix: usize,
    values: Vec<Py<PyAny>>,
) -> PyResult<()> {
    if let std::collections::hash_map::Entry::Vacant(slot) = parts.entry(ix) {
        let key = &map.parts[ix];
        let state = resume
            .remove(key)
            .map(|s| s.into_bound(py))
            .unwrap_or_else(|| py.None().into_bound(py));
        let part = sink.bind(py).call_method1("build_part", (key, state))?;
        slot.insert(Partition::new(part.unbind()));
    }
    let list = PyList::new(py, values)?;
    parts[&ix].bind(py).call_method1("write_batch", (list,))?;
    Ok(())
}

/// Turns each `(key, value)` into `(worker, partition index, value)` using
/// the sink's `part_fn`, ready to be exchanged to the partition's primary.
fn assign<'s>(
    up: PyStream<'s>,
    ctx: StepCtx,
    sink: Rc<Py<PyAny>>,
    map: Rc<PartitionMap>,
) -> PyStream<'s> {
    let name = format!("{}.assign_partition", ctx.step_id);
    up.unary::<NoopBuilder<PyBatch>, _, _, _>(Pipeline, &name, move |_cap, _info| {
        move |input, output| {
            if ctx.stopping() {
                input.for_each(|_, _| {});
                return;
            }
            input.for_each_stamp(|time, batches| {
                Python::attach(|py| {
                let part_fn = match sink.bind(py).getattr("part_fn") {
                    Ok(f) => f,
                    Err(err) => return ctx.fail(py, err, "looking up `part_fn`", None),
                };
                let n = map.parts.len();
                for batch in batches {
                    let items = match batch.take(py) {
                        Ok(items) => items,
                        Err(err) => return ctx.fail(py, err, "receiving items", None),
                    };
                    if n == 0 {
                        let err = pyo3::exceptions::PyValueError::new_err(format!(
                            "sink in step '{}' has no partitions: `list_parts` returned nothing on every worker",
                            ctx.step_id
                        ));
                        return ctx.fail(py, err, "routing items to partitions", None);
                    }
                    let out = PyList::empty(py);
                    for item in items.iter() {
                        let Some(key) = item_key(&item) else {
                            let err = ctx.type_error(format!(
                                "a `FixedPartitionedSink` needs `(key, value)` 2-tuples with `str` keys; got a `{}` instead",
                                type_name(&item)
                            ));
                            return ctx.fail(py, err, "routing items to partitions", None);
                        };
                        let chosen = part_fn.call1((&*key,)).and_then(|i| i.extract::<i64>());
                        let ix = match chosen {
                            Ok(i) => i.rem_euclid(n as i64) as usize,
                            Err(err) => return ctx.fail(py, err, "calling `part_fn`", Some(&key.to_string())),
                        };
                        // SAFETY of the index: checked length 2 in `item_key`.
                        let value = item.cast::<PyTuple>().unwrap().get_item(1).unwrap();
                        let routed = PyTuple::new(py, [map.primaries[ix].into_pyobject(py).unwrap().into_any(), ix.into_pyobject(py).unwrap().into_any(), value]);
                        match routed {
                            Ok(t) => {
                                let _ = out.append(t);
                            }
                            Err(err) => return ctx.fail(py, err, "routing items to partitions", None),
                        }
                    }
                    output.session_with_builder(&time).give_container(&mut PyBatch::from_list(out));
                }
                });
            });
        }
    })
}
