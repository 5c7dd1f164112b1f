//! `flat_map_batch`: the mapper gets each batch as one list and returns an
//! iterable of outputs. Every stateless composite (`map`, `filter`, ...)
//! is built on it. `reduce_final`'s `pre_reduce` runs as the native
//! combiner (`combine.rs`) instead.

use pyo3::prelude::*;
use timely::container::NoopBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Operator;

use super::{collect_list, PyStream};
use crate::runtime::batch::PyBatch;
use crate::runtime::context::StepCtx;
use crate::telemetry::metrics::{timed, Timer};

pub fn flat_map_batch<'s>(up: PyStream<'s>, ctx: StepCtx, mapper: Py<PyAny>) -> PyStream<'s> {
    if let Some(reducer) = Python::attach(|py| super::combine::native_reducer(mapper.bind(py))) {
        return super::combine::combine(up, ctx, reducer, mapper);
    }
    let name = ctx.step_id.to_string();
    let timer = ctx.timer(Timer::FlatMapBatch);
    up.unary::<NoopBuilder<PyBatch>, _, _, _>(Pipeline, &name, move |_cap, _info| {
        move |input, output| {
            if ctx.stopping() {
                input.for_each(|_, _| {});
                return;
            }
            // The GIL is only taken when there is data: an activation that
            // merely notices progress must not compete with busy workers.
            input.for_each_stamp(|time, batches| {
                let _span = ctx.span();
                Python::attach(|py| {
                    let mapper = mapper.bind(py);
                    for batch in batches {
                        ctx.count_in(batch.len());
                        let result = batch
                            .take(py)
                            .and_then(|items| timed(timer.as_deref(), || mapper.call1((items,))))
                            .and_then(|out| collect_list(out, "`mapper`"));
                        match result {
                            Ok(out) if out.is_empty() => {}
                            Ok(out) => {
                                ctx.count_out(out.len());
                                output
                                    .session_with_builder(&time)
                                    .give_container(&mut PyBatch::from_list(out));
                            }
                            Err(err) => return ctx.fail(py, err, "calling `mapper`", None),
                        }
                    }
                });
            });
        }
    })
}
