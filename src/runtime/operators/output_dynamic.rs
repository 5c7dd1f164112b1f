//! `output` to a `DynamicSink`: one stateless partition per worker, written
//! each batch as it arrives, closed when the input ends.

use pyo3::prelude::*;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;

use super::partition::Partition;
use super::{ClockStream, PyStream};
use crate::runtime::context::StepCtx;
use crate::telemetry::metrics::{timed, Timer};

pub fn output_dynamic<'s>(up: PyStream<'s>, ctx: StepCtx, sink: Py<PyAny>) -> ClockStream<'s> {
    let mut builder = OperatorBuilder::new(ctx.step_id.to_string(), up.scope());
    let mut input = builder.new_input(up, Pipeline);
    let (_clock_out, clock) = builder.new_output::<Vec<()>>();
    let timer = ctx.timer(Timer::WriteBatch);

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
            let (Some(p), false) = (part.as_ref(), ctx.stopping()) else {
                input.for_each(|_, _| {});
                return;
            };
            input.for_each_stamp(|_time, batches| {
                let _span = ctx.span();
                Python::attach(|py| {
                    let sink_part = p.bind(py);
                    for batch in batches {
                        ctx.count_in(batch.len());
                        let result = batch.take(py).and_then(|items| {
                            timed(timer.as_deref(), || {
                                sink_part.call_method1("write_batch", (items,))
                            })
                        });
                        if let Err(err) = result {
                            return ctx.fail(
                                py,
                                err,
                                "calling `StatelessSinkPartition.write_batch`",
                                None,
                            );
                        }
                    }
                });
            });
            if frontiers[0].is_empty() {
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
