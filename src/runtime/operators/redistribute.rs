//! `redistribute`: spreads items evenly over all workers, so the steps
//! after it share the work.

use timely::container::NoopBuilder;
use timely::dataflow::channels::pact::DistributorPact;
use timely::dataflow::operators::Operator;

use super::PyStream;
use crate::runtime::batch::PyBatch;
use crate::runtime::context::StepCtx;
use crate::runtime::routing::{Even, PyDistributor};

pub fn redistribute<'s>(
    up: PyStream<'s>,
    ctx: StepCtx,
    local: std::ops::Range<usize>,
) -> PyStream<'s> {
    let name = ctx.step_id.to_string();
    let pact = DistributorPact(move |_peers| {
        let even = Even::new(ctx.worker);
        PyDistributor::new(even, local, ctx)
    });
    up.unary::<NoopBuilder<PyBatch>, _, _, _>(pact, &name, move |_cap, _info| {
        move |input, output| {
            input.for_each(|time, batch| {
                output.session_with_builder(&time).give_container(batch);
            });
        }
    })
}
