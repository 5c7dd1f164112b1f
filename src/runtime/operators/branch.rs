//! `branch`: splits a stream in two by a predicate that must return a real
//! `bool` for each item.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyList};
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;

use super::PyStream;
use crate::flow::type_name;
use crate::runtime::batch::PyBatch;
use crate::runtime::context::StepCtx;

pub fn branch<'s>(
    up: PyStream<'s>,
    ctx: StepCtx,
    predicate: Py<PyAny>,
) -> (PyStream<'s>, PyStream<'s>) {
    let mut builder = OperatorBuilder::new(ctx.step_id.to_string(), up.scope());
    let mut input = builder.new_input(up, Pipeline);
    let (mut trues_out, trues) = builder.new_output::<PyBatch>();
    let (mut falses_out, falses) = builder.new_output::<PyBatch>();

    builder.build(move |caps| {
        drop(caps);
        move |_frontiers| {
            if ctx.stopping() {
                input.for_each(|_, _| {});
                return;
            }
            let mut trues_out = trues_out.activate();
            let mut falses_out = falses_out.activate();
            input.for_each_stamp(|time, batches| {
                let _span = ctx.span();
                Python::attach(|py| {
                    let predicate = predicate.bind(py);
                    for batch in batches {
                        ctx.count_in(batch.len());
                        let items = match batch.take(py) {
                            Ok(items) => items,
                            Err(err) => return ctx.fail(py, err, "receiving items", None),
                        };
                        let yes = PyList::empty(py);
                        let no = PyList::empty(py);
                        for item in items.iter() {
                            let decision = match predicate.call1((&item,)) {
                                Ok(decision) => decision,
                                Err(err) => return ctx.fail(py, err, "calling `predicate`", None),
                            };
                            let side = match decision.cast::<PyBool>() {
                                Ok(b) if b.is_true() => &yes,
                                Ok(_) => &no,
                                Err(_) => {
                                    let err = ctx.type_error(format!(
                                        "`predicate` must return a `bool`; got a `{}` instead",
                                        type_name(&decision)
                                    ));
                                    return ctx.fail(
                                        py,
                                        err,
                                        "checking what `predicate` returned",
                                        None,
                                    );
                                }
                            };
                            if let Err(err) = side.append(item) {
                                return ctx.fail(py, err, "splitting items", None);
                            }
                        }
                        if !yes.is_empty() {
                            ctx.count_out(yes.len());
                            trues_out.give(&time, &mut PyBatch::from_list(yes));
                        }
                        if !no.is_empty() {
                            ctx.count_out(no.len());
                            falses_out.give(&time, &mut PyBatch::from_list(no));
                        }
                    }
                });
            });
        }
    });
    (trues, falses)
}
