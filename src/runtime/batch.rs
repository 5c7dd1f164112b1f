//! [`PyBatch`]: a batch of Python objects as a timely container. A batch is
//! one Python `list`, so passing it between operators and worker threads
//! costs nothing per item; between processes it travels pickled.

use std::io::Write;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use timely::container::Accountable;
use timely::dataflow::channels::ContainerBytes;

enum Payload {
    Empty,
    List(Py<PyList>),
    /// Pickled by the sender; unpickled by the receiving operator, which
    /// knows its step id for error messages.
    Pickled(Vec<u8>),
}

/// A batch of items flowing on a timely edge.
pub struct PyBatch {
    payload: Payload,
    /// Item count, fixed when the batch is made: timely's progress tracking
    /// must see the same count on both ends of an edge.
    len: usize,
}

impl Default for PyBatch {
    fn default() -> Self {
        PyBatch {
            payload: Payload::Empty,
            len: 0,
        }
    }
}

impl PyBatch {
    /// Wraps a list the caller gives up: nothing else may mutate it.
    pub fn from_list(list: Bound<'_, PyList>) -> Self {
        let len = list.len();
        PyBatch {
            payload: Payload::List(list.unbind()),
            len,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Takes the list out of the batch, unpickling it if it crossed a
    /// process boundary.
    pub fn take<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        super::gil::mark_busy();
        match std::mem::replace(&mut self.payload, Payload::Empty) {
            Payload::Empty => Ok(PyList::empty(py)),
            Payload::List(list) => Ok(list.into_bound(py)),
            Payload::Pickled(bytes) => {
                let loads = pickle(py)?.getattr("loads")?;
                Ok(loads
                    .call1((PyBytes::new(py, &bytes),))?
                    .cast_into::<PyList>()?)
            }
        }
    }

    /// Pickles the batch now, so that a failure can be reported by the
    /// caller (which knows the step) instead of deep inside the network
    /// layer.
    pub fn pickle_now(&mut self, py: Python<'_>) -> PyResult<()> {
        if let Payload::List(list) = &self.payload {
            let bytes = dumps(py, list.bind(py))?;
            self.payload = Payload::Pickled(bytes);
        }
        Ok(())
    }
}

fn pickle(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    py.import("pickle")
}

fn dumps(py: Python<'_>, list: &Bound<'_, PyList>) -> PyResult<Vec<u8>> {
    let bytes = pickle(py)?.getattr("dumps")?.call1((list,))?;
    Ok(bytes.cast_into::<PyBytes>()?.as_bytes().to_vec())
}

impl Clone for PyBatch {
    /// Used when a stream feeds several steps: each gets its own list, so a
    /// step that mutates the list it is given cannot affect another.
    fn clone(&self) -> Self {
        let payload = match &self.payload {
            Payload::Empty => Payload::Empty,
            Payload::Pickled(bytes) => Payload::Pickled(bytes.clone()),
            Payload::List(list) => Python::attach(|py| {
                let copy = list.bind(py).get_slice(0, self.len);
                Payload::List(copy.unbind())
            }),
        };
        PyBatch {
            payload,
            len: self.len,
        }
    }
}

impl Accountable for PyBatch {
    fn record_count(&self) -> i64 {
        self.len as i64
    }
}

impl ContainerBytes for PyBatch {
    fn from_bytes(bytes: timely::bytes::arc::Bytes) -> Self {
        let len = u64::from_le_bytes(bytes[0..8].try_into().unwrap()) as usize;
        let size = u64::from_le_bytes(bytes[8..16].try_into().unwrap()) as usize;
        let payload = Payload::Pickled(bytes[16..16 + size].to_vec());
        PyBatch { payload, len }
    }

    fn length_in_bytes(&self) -> usize {
        16 + padded(self.pickled().len())
    }

    fn into_bytes<W: Write>(&self, writer: &mut W) {
        let pickled = self.pickled();
        writer.write_all(&(self.len as u64).to_le_bytes()).unwrap();
        writer
            .write_all(&(pickled.len() as u64).to_le_bytes())
            .unwrap();
        writer.write_all(pickled).unwrap();
        let slop = padded(pickled.len()) - pickled.len();
        writer.write_all(&[0u8; 8][..slop]).unwrap();
    }
}

impl PyBatch {
    /// The pickled form; batches are pickled by the exchange before they
    /// reach the network, so this only reads.
    fn pickled(&self) -> &[u8] {
        match &self.payload {
            Payload::Pickled(bytes) => bytes,
            Payload::Empty => &[],
            Payload::List(_) => panic!("a batch reached the network without being pickled first"),
        }
    }
}

fn padded(n: usize) -> usize {
    (n + 7) & !7
}
