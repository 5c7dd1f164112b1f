//! `input` from a `DynamicSource`: every worker builds its own stateless
//! partition and polls it; nothing is snapshotted.

use std::time::Duration;

use pyo3::prelude::*;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::Scope;

use super::source_part::{schedule, SourcePart};
use super::PyStream;
use crate::python::time::now_py;
use crate::runtime::batch::PyBatch;
use crate::runtime::context::StepCtx;
use crate::runtime::epochs::{Epoch, ProbeWatch};

pub fn input_dynamic<'s>(
    scope: Scope<'s, Epoch>,
    ctx: StepCtx,
    source: Py<PyAny>,
    start: Epoch,
    interval: Duration,
    probe: ProbeWatch,
) -> PyStream<'s> {
    let mut builder = OperatorBuilder::new(ctx.step_id.to_string(), scope);
    let (mut output, stream) = builder.new_output::<PyBatch>();
    let activator = scope.activator_for(builder.operator_info().address);
    probe.waker.register(activator.clone());

    builder.build(move |mut caps| {
        let cap = caps.pop().expect("one output").delayed(&start);
        drop(caps);
        let mut part = Python::attach(|py| {
            let built = now_py(py).and_then(|now| {
                source
                    .bind(py)
                    .call_method1("build", (now, ctx.worker, ctx.workers))
            });
            let result = built
                .map_err(|err| (err, "calling `DynamicSource.build`".to_string()))
                .and_then(|p| SourcePart::new(py, &ctx, None, p.unbind(), cap, interval));
            match result {
                Ok(part) => Some(part),
                Err((err, what)) => {
                    ctx.fail(py, err, &what, None);
                    None
                }
            }
        });
        activator.activate();

        move |_frontiers| {
            let Some(p) = part.as_mut() else { return };
            if ctx.stopping() {
                part = None;
                return;
            }
            let polled = Python::attach(|py| p.poll(py, &ctx, &probe, &mut output));
            if polled.eof {
                if let Some(p) = part.take() {
                    Python::attach(|py| {
                        if let Err(err) = p.part.close(py) {
                            ctx.fail(py, err, "calling `StatelessSourcePartition.close`", None);
                        }
                    });
                }
                return;
            }
            schedule(&activator, polled.again, polled.wake_at);
        }
    });
    stream
}
