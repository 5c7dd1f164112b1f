//! [`PyBatch`]: a batch of Python objects as a timely container. A batch is
//! one Python `list`, so passing it between operators and worker threads
//! costs nothing per item; between processes it travels pickled. On the
//! way into a keyed step a batch may carry its keys as text beside a list
//! of values (see [`KeyedItems`]).

use std::io::Write;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use timely::container::Accountable;
use timely::dataflow::channels::ContainerBytes;

use super::keyed_batch::{KeyTexts, KeyedItems};

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
    /// Set when a keyed exchange took the `(key, value)` items apart: one
    /// key per item, and the payload holds the values. The receiving worker
    /// then never touches the tuples or key objects the sender made.
    keys: Option<KeyTexts>,
    /// Item count, fixed when the batch is made: timely's progress tracking
    /// must see the same count on both ends of an edge.
    len: usize,
}

impl Default for PyBatch {
    fn default() -> Self {
        PyBatch {
            payload: Payload::Empty,
            keys: None,
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
            keys: None,
            len,
        }
    }

    /// A batch of `(keys[i], values[i])` items, kept apart. It travels
    /// between processes with its keys, and gives its tuples back to a
    /// step that wants them.
    ///
    /// ```
    /// use bytewax::runtime::batch::PyBatch;
    /// use bytewax::runtime::keyed_batch::KeyedItems;
    /// use pyo3::prelude::*;
    /// use pyo3::types::PyList;
    /// use timely::dataflow::channels::ContainerBytes;
    ///
    /// Python::attach(|py| {
    ///     let make = || {
    ///         let values = PyList::new(py, [1, 2]).unwrap();
    ///         PyBatch::from_keyed(["a", "été"].into_iter().collect(), values)
    ///     };
    ///     let tuples = make().take(py).unwrap();
    ///     assert_eq!(tuples.repr().unwrap().to_string(), "[('a', 1), ('été', 2)]");
    ///
    ///     let mut sent = make();
    ///     sent.pickle_now(py).unwrap();
    ///     let mut wire = Vec::new();
    ///     sent.into_bytes(&mut wire);
    ///     assert_eq!(wire.len(), sent.length_in_bytes());
    ///     let mut got = PyBatch::from_bytes(timely::bytes::arc::BytesMut::from(wire).freeze());
    ///     assert_eq!(got.len(), 2);
    ///     let KeyedItems::Split { keys, values } = got.take_keyed(py).unwrap() else {
    ///         panic!("the keys were lost on the way");
    ///     };
    ///     assert_eq!(keys.iter().collect::<Vec<_>>(), ["a", "été"]);
    ///     assert_eq!(values.repr().unwrap().to_string(), "[1, 2]");
    /// });
    /// ```
    pub fn from_keyed(keys: KeyTexts, values: Bound<'_, PyList>) -> Self {
        debug_assert_eq!(keys.len(), values.len());
        PyBatch {
            len: keys.len(),
            payload: Payload::List(values.unbind()),
            keys: Some(keys),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Takes the list out of the batch, unpickling it if it crossed a
    /// process boundary. A keyed batch gives its `(key, value)` tuples
    /// back.
    pub fn take<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = self.take_list(py)?;
        match self.keys.take() {
            None => Ok(list),
            Some(keys) => {
                let tuples = keys.iter().zip(list.iter()).map(|(key, value)| {
                    PyTuple::new(py, [PyString::new(py, key).into_any(), value])
                });
                PyList::new(py, tuples.collect::<PyResult<Vec<_>>>()?)
            }
        }
    }

    /// Takes the items out for a keyed step.
    pub fn take_keyed<'py>(&mut self, py: Python<'py>) -> PyResult<KeyedItems<'py>> {
        let list = self.take_list(py)?;
        Ok(match self.keys.take() {
            None => KeyedItems::Tuples(list),
            Some(keys) => KeyedItems::Split { keys, values: list },
        })
    }

    fn take_list<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
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
            keys: self.keys.clone(),
            len: self.len,
        }
    }
}

impl Accountable for PyBatch {
    fn record_count(&self) -> i64 {
        self.len as i64
    }
}

/// On the wire: item count, pickled size, key section size (`u64::MAX`
/// when the batch has no keys), all little-endian `u64`; the pickled list;
/// then the keys as [`KeyTexts::write_to`] writes them. Both sections are
/// padded to 8 bytes.
impl ContainerBytes for PyBatch {
    fn from_bytes(bytes: timely::bytes::arc::Bytes) -> Self {
        let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        let len = word(0) as usize;
        let size = word(8) as usize;
        let keys_size = word(16);
        let body = 24;
        let payload = Payload::Pickled(bytes[body..body + size].to_vec());
        let keys = (keys_size != u64::MAX).then(|| {
            let at = body + padded(size);
            KeyTexts::read_from(&bytes[at..at + keys_size as usize], len)
                .expect("a peer sent keys this build can not read")
        });
        PyBatch { payload, keys, len }
    }

    fn length_in_bytes(&self) -> usize {
        24 + padded(self.pickled().len()) + padded(self.keys_size())
    }

    fn into_bytes<W: Write>(&self, writer: &mut W) {
        let pickled = self.pickled();
        let keys_size = match &self.keys {
            Some(_) => self.keys_size() as u64,
            None => u64::MAX,
        };
        for word in [self.len as u64, pickled.len() as u64, keys_size] {
            writer.write_all(&word.to_le_bytes()).unwrap();
        }
        writer.write_all(pickled).unwrap();
        pad(writer, pickled.len());
        if let Some(keys) = &self.keys {
            keys.write_to(writer);
            pad(writer, self.keys_size());
        }
    }
}

fn pad<W: Write>(writer: &mut W, written: usize) {
    let slop = padded(written) - written;
    writer.write_all(&[0u8; 8][..slop]).unwrap();
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

    fn keys_size(&self) -> usize {
        self.keys.as_ref().map_or(0, KeyTexts::wire_len)
    }
}

fn padded(n: usize) -> usize {
    (n + 7) & !7
}
