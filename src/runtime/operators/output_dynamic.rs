//! `output` to a `DynamicSink`: one stateless partition per worker, written
//! each batch as it arrives, closed when the input ends.

use pyo3::prelude::*;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;

use super::partition::Partition;
use super::{ClockStream, PyStream};
use crate::runtime::context::StepCtx;

pub fn output_dynamic<'s>(up: PyStream<'s>, ctx: StepCtx, sink: Py<PyAny>) -> ClockStream<'s> {
    let mut builder = OperatorBuilder::new(ctx.step_id.to_string(), up.scope());
    let mut input = builder.new_input(up, Pipeline);
    let (_clock_out, clock) = builder.new_output::<Vec<()>>();

    let mut part = Python::attach(|py| {
        match sink
            .bind(py)
            .call_method1("build", (ctx.worker, ctx.workers))
        {
            Ok(part) => Some(Partition::new(part.unbind())),
            Err(err) => {
                ctx.fail(py, err, "calling `DynamicSink.build`", None);
                None
            }
        }
    });

    builder.build(move |caps| {
        drop(caps);
        move |frontiers| {
            let Some(p) = part.as_ref() else {
                input.for_each(|_, _| {});
                return;
            };
            if ctx.stopping() {
                input.for_each(|_, _| {});
                return;
            }
            let mut closing = false;
            Python::attach(|py| {
                let sink_part = p.bind(py);
                input.for_each(|_time, batch| {
                    let result = batch
                        .take(py)
                        .and_then(|items| sink_part.call_method1("write_batch", (items,)));
                    if let Err(err) = result {
                        ctx.fail(
                            py,
                            err,
                            "calling `StatelessSinkPartition.write_batch`",
                            None,
                        );
                    }
                });
                closing = frontiers[0].is_empty();
            });
            if closing {
                if let Some(p) = part.take() {
                    Python::attach(|py| {
                        if let Err(err) = p.close(py) {
                            ctx.fail(py, err, "calling `StatelessSinkPartition.close`", None);
                        }
                    });
                }
            }
        }
    });
    clock
}
