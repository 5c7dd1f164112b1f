//! The core operators, one per file. Each takes the GIL once per batch
//! (or once per activation), never per item.

pub mod branch;
mod combine;
pub mod flat_map_batch;
pub mod fold_window;
pub mod input_dynamic;
pub mod input_fixed;
pub mod inspect_debug;
pub mod keyed_fold;
pub mod merge;
pub mod output_dynamic;
pub mod output_fixed;
mod partition;
pub mod redistribute;
mod source_part;
pub mod unary;

use pyo3::prelude::*;
use pyo3::types::PyList;
use timely::dataflow::Stream;

use super::batch::PyBatch;
use super::epochs::{Epoch, Snapshot};
use crate::flow::type_name;

/// A stream of Python items.
pub type PyStream<'s> = Stream<'s, Epoch, PyBatch>;
/// A stream that carries no data, only progress (sinks' completion).
pub type ClockStream<'s> = Stream<'s, Epoch, Vec<()>>;
/// Snapshots of stateful steps, on their way to recovery partitions.
pub type SnapStream<'s> = Stream<'s, Epoch, Vec<Snapshot>>;

/// The items of an iterable user code returned, as a fresh list. A `list`
/// returned by the call is taken as it is.
pub fn collect_list<'py>(obj: Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyList>> {
    match obj.cast_into_exact::<PyList>() {
        Ok(list) => Ok(list),
        Err(err) => {
            let obj = err.into_inner();
            copy_list(&obj, what)
        }
    }
}

/// The items of any iterable as a new list (the caller may keep and
/// mutate the original).
pub fn copy_list<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyList>> {
    let py = obj.py();
    if obj.try_iter().is_err() {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{what} must return an iterable; got a `{}` instead",
            type_name(obj)
        )));
    }
    Ok(py
        .get_type::<PyList>()
        .call1((obj,))?
        .cast_into::<PyList>()?)
}
