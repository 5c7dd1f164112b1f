//! `inspect_debug`: calls the inspector with each item, its epoch and the
//! worker, then passes the items on unchanged. It counts as an output:
//! its clock tells when it has seen everything.

use pyo3::prelude::*;
use pyo3::types::PyString;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;

use super::{ClockStream, PyStream};
use crate::runtime::batch::PyBatch;
use crate::runtime::context::StepCtx;

pub fn inspect_debug<'s>(
    up: PyStream<'s>,
    ctx: StepCtx,
    inspector: Py<PyAny>,
) -> (PyStream<'s>, ClockStream<'s>) {
    let mut op = OperatorBuilder::new(ctx.step_id.to_string(), up.scope());
    let mut input = op.new_input(up, Pipeline);
    let (mut output, down) = op.new_output::<PyBatch>();
    let (_clock_out, clock) = op.new_output::<Vec<()>>();

    op.build(move |caps| {
        drop(caps);
        move |_frontiers| {
            if ctx.stopping() {
                input.for_each(|_, _| {});
                return;
            }
            let mut output = output.activate();
            input.for_each_stamp(|time, batches| {
                let epoch = time.least().copied().unwrap_or_default();
                let _span = ctx.span();
                Python::attach(|py| {
                    let inspector = inspector.bind(py);
                    let step_id = PyString::new(py, &ctx.step_id);
                    for batch in batches {
                        ctx.count_in(batch.len());
                        let items = match batch.take(py) {
                            Ok(items) => items,
                            Err(err) => return ctx.fail(py, err, "receiving items", None),
                        };
                        for item in items.iter() {
                            if let Err(err) = inspector.call1((&step_id, item, epoch, ctx.worker)) {
                                return ctx.fail(py, err, "calling `inspector`", None);
                            }
                        }
                        ctx.count_out(items.len());
                        output.give(&time, &mut PyBatch::from_list(items));
                    }
                });
            });
        }
    });
    (down, clock)
}
