//! `inspect_debug`: calls the inspector with each item, its epoch and the
//! worker, then passes the items on unchanged.

use pyo3::prelude::*;
use pyo3::types::PyString;
use timely::container::NoopBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Operator;

use super::PyStream;
use crate::runtime::batch::PyBatch;
use crate::runtime::context::StepCtx;

pub fn inspect_debug<'s>(up: PyStream<'s>, ctx: StepCtx, inspector: Py<PyAny>) -> PyStream<'s> {
    let name = ctx.step_id.to_string();
    up.unary::<NoopBuilder<PyBatch>, _, _, _>(Pipeline, &name, move |_cap, _info| {
        move |input, output| {
            if ctx.stopping() {
                input.for_each(|_, _| {});
                return;
            }
            Python::attach(|py| {
                let inspector = inspector.bind(py);
                let step_id = PyString::new(py, &ctx.step_id);
                input.for_each(|time, batch| {
                    let epoch = time.least().copied().unwrap_or_default();
                    let items = match batch.take(py) {
                        Ok(items) => items,
                        Err(err) => return ctx.fail(py, err, "receiving items", None),
                    };
                    for item in items.iter() {
                        if let Err(err) = inspector.call1((&step_id, item, epoch, ctx.worker)) {
                            return ctx.fail(py, err, "calling `inspector`", None);
                        }
                    }
                    output
                        .session_with_builder(&time)
                        .give_container(&mut PyBatch::from_list(items));
                });
            });
        }
    })
}
