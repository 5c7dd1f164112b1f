//! `input` from a `FixedPartitionedSource`: each partition is built on the
//! one worker it was assigned to, resumes from its snapshot, and is
//! snapshotted at every epoch close when recovery is on.

use std::time::{Duration, Instant};

use pyo3::prelude::*;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::Scope;

use super::source_part::{schedule, SourcePart};
use super::{PyStream, SnapStream};
use crate::python::time::now_py;
use crate::runtime::batch::PyBatch;
use crate::runtime::context::StepCtx;
use crate::runtime::epochs::{Epoch, ProbeWatch, Snapshot, Snapshotter};

/// A partition this worker owns, with the state to resume it from.
pub struct AssignedPart {
    pub key: String,
    pub resume_state: Option<Py<PyAny>>,
    /// The epoch to start at (its snapshot's epoch + 1 when resuming).
    pub epoch: Epoch,
}

#[allow(clippy::too_many_arguments)]
pub fn input_fixed<'s>(
    scope: Scope<'s, Epoch>,
    ctx: StepCtx,
    source: Py<PyAny>,
    parts: Vec<AssignedPart>,
    interval: Duration,
    probe: ProbeWatch,
    snapshotter: Option<Snapshotter>,
) -> (PyStream<'s>, SnapStream<'s>) {
    let mut builder = OperatorBuilder::new(ctx.step_id.to_string(), scope);
    let (mut output, stream) = builder.new_output::<PyBatch>();
    let (mut snap_output, snaps) = builder.new_output::<Vec<Snapshot>>();
    let activator = scope.activator_for(builder.operator_info().address);
    probe.waker.register(activator.clone());

    builder.build(move |mut caps| {
        let snap_cap = caps.pop().expect("snapshot output");
        let data_cap = caps.pop().expect("data output");
        let mut live: Vec<(SourcePart, timely::dataflow::operators::Capability<Epoch>)> =
            Vec::new();
        Python::attach(|py| {
            let now = match now_py(py) {
                Ok(now) => now,
                Err(err) => return ctx.fail(py, err, "reading the clock", None),
            };
            for assigned in parts {
                let what = format!(
                    "calling `FixedPartitionedSource.build_part` for partition {:?}",
                    assigned.key
                );
                let state = assigned
                    .resume_state
                    .map(|s| s.into_bound(py))
                    .unwrap_or_else(|| py.None().into_bound(py));
                let built = source
                    .bind(py)
                    .call_method1("build_part", (&now, &assigned.key, state))
                    .map_err(|err| (err, what))
                    .and_then(|p| {
                        SourcePart::new(
                            py,
                            &ctx,
                            Some(assigned.key.clone()),
                            p.unbind(),
                            data_cap.delayed(&assigned.epoch),
                            interval,
                        )
                    });
                match built {
                    Ok(part) => live.push((part, snap_cap.delayed(&assigned.epoch))),
                    Err((err, what)) => return ctx.fail(py, err, &what, None),
                }
            }
        });
        drop(data_cap);
        drop(snap_cap);
        activator.activate();

        move |_frontiers| {
            if live.is_empty() {
                return;
            }
            if ctx.stopping() {
                live.clear();
                return;
            }
            let mut again = false;
            let mut wake_at: Option<Instant> = None;
            let mut finished = Vec::new();
            Python::attach(|py| {
                for (ix, (part, snap_cap)) in live.iter_mut().enumerate() {
                    let polled = part.poll(py, &ctx, &probe, &mut output);
                    if ctx.stopping() {
                        return;
                    }
                    if let (Some(epoch), Some(snapshotter)) =
                        (polled.closed_epoch, snapshotter.as_ref())
                    {
                        let state = part.snapshot(py).and_then(|s| snapshotter.ser(&s));
                        match state {
                            Ok(state) => {
                                let key = part.key.clone().unwrap_or_default();
                                let snap = Snapshot {
                                    step_id: ctx.step_id.to_string(),
                                    key,
                                    epoch,
                                    state: Some(state),
                                };
                                snap_output.activate().give(&*snap_cap, &mut vec![snap]);
                            }
                            Err(err) => return ctx.fail(py, err, &part.what_snapshot(), None),
                        }
                    }
                    snap_cap.downgrade(&part.epoch());
                    if polled.eof {
                        finished.push(ix);
                    } else {
                        again |= polled.again;
                        wake_at = match (wake_at, polled.wake_at) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                    }
                }
                // Closing a finished partition: errors are ignored, as a
                // source's EOF has already been reached.
                for ix in finished.into_iter().rev() {
                    let (part, _snap_cap) = live.remove(ix);
                    let _ = part.part.close(py);
                }
            });
            if !live.is_empty() {
                schedule(&activator, again, wake_at);
            }
        }
    });
    (stream, snaps)
}
