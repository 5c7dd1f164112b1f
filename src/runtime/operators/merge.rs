//! `merge`: the union of several streams, in no particular order.

use timely::dataflow::operators::Concatenate;
use timely::dataflow::Scope;

use super::PyStream;
use crate::runtime::epochs::Epoch;

pub fn merge<'s>(scope: Scope<'s, Epoch>, ups: Vec<PyStream<'s>>) -> PyStream<'s> {
    scope.concatenate(ups)
}
