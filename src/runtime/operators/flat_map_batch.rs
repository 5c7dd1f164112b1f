//! `flat_map_batch`: the mapper gets each batch as one list and returns an
//! iterable of outputs. Every stateless composite (`map`, `filter`, ...)
//! is built on it.

use pyo3::prelude::*;
use timely::container::NoopBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Operator;

use super::{collect_list, PyStream};
use crate::runtime::batch::PyBatch;
use crate::runtime::context::StepCtx;

pub fn flat_map_batch<'s>(up: PyStream<'s>, ctx: StepCtx, mapper: Py<PyAny>) -> PyStream<'s> {
    let name = ctx.step_id.to_string();
    up.unary::<NoopBuilder<PyBatch>, _, _, _>(Pipeline, &name, move |_cap, _info| {
        move |input, output| {
            if ctx.stopping() {
                input.for_each(|_, _| {});
                return;
            }
            Python::attach(|py| {
                let mapper = mapper.bind(py);
                input.for_each(|time, batch| {
                    let result = batch
                        .take(py)
                        .and_then(|items| mapper.call1((items,)))
                        .and_then(|out| collect_list(out, "`mapper`"));
                    match result {
                        Ok(out) if out.is_empty() => {}
                        Ok(out) => {
                            output
                                .session_with_builder(&time)
                                .give_container(&mut PyBatch::from_list(out));
                        }
                        Err(err) => ctx.fail(py, err, "calling `mapper`", None),
                    }
                });
            });
        }
    })
}
