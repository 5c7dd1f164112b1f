//! Which worker an item goes to: stable key hashing for stateful steps, and
//! the timely distributors that split a [`PyBatch`] between workers under
//! one GIL acquisition per batch.

use std::ops::Range;

use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};
use pyo3::Borrowed;
use timely::communication::Push;
use timely::dataflow::channels::pushers::exchange::Distributor;
use timely::dataflow::channels::{Message, Stamp};

use super::batch::PyBatch;
use super::context::StepCtx;
use super::keyed_batch::{split_tuple, KeyTexts};

/// A 64-bit hash of a state key that is the same in every process, run and
/// build, so state keeps meeting its key's items after a restart.
///
/// ```
/// use bytewax::runtime::routing::{key_hash, worker_for_key};
/// assert_eq!(key_hash("a"), key_hash("a"));
/// assert_ne!(key_hash("a"), key_hash("b"));
/// assert!(worker_for_key("anything", 3) < 3);
/// assert_eq!(worker_for_key("anything", 1), 0);
/// ```
pub fn key_hash(key: &str) -> u64 {
    // FNV-1a, then a MurmurHash3 finaliser so the low bits (used modulo a
    // small worker count) depend on every byte.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key.as_bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// The worker that owns `key` among `workers`.
pub fn worker_for_key(key: &str, workers: usize) -> usize {
    (key_hash(key) % workers as u64) as usize
}

/// The key of a `(str, value)` item, borrowed from the item.
#[inline]
pub fn item_key<'a, 'py>(item: &'a Bound<'py, PyAny>) -> Option<Borrowed<'a, 'py, PyString>> {
    let tuple = item.cast::<PyTuple>().ok()?;
    if tuple.len() != 2 {
        return None;
    }
    // SAFETY: the length was checked just above.
    let key = unsafe { tuple.get_borrowed_item_unchecked(0) };
    key.cast::<PyString>().ok()
}

/// How a batch is split between `peers` workers: one optional batch per
/// worker.
pub trait Split {
    fn split<'py>(
        &mut self,
        py: Python<'py>,
        list: &Bound<'py, PyList>,
        peers: usize,
    ) -> Vec<Option<PyBatch>>;
}

/// Splits batches with a [`Split`]; batches bound for another process are
/// pickled here, where the step is known.
pub struct PyDistributor<S> {
    split: S,
    /// Global indices of this process's workers.
    local: Range<usize>,
    ctx: StepCtx,
}

impl<S: Split> PyDistributor<S> {
    pub fn new(split: S, local: Range<usize>, ctx: StepCtx) -> Self {
        PyDistributor { split, local, ctx }
    }
}

impl<S: Split> Distributor<PyBatch> for PyDistributor<S> {
    fn partition<T: Clone, P: Push<Message<T, PyBatch>>>(
        &mut self,
        container: &mut PyBatch,
        stamp: &Stamp<T>,
        pushers: &mut [P],
    ) {
        let split = &mut self.split;
        distribute(
            &self.ctx,
            &self.local,
            container,
            stamp,
            pushers,
            |py, list, peers| split.split(py, list, peers),
        );
    }

    fn flush<T: Clone, P: Push<Message<T, PyBatch>>>(
        &mut self,
        _stamp: &Stamp<T>,
        _pushers: &mut [P],
    ) {
    }
}

/// Routes `(int, value)` items to the worker named by their first field.
pub struct ByWorkerIndex;

impl Split for ByWorkerIndex {
    fn split<'py>(
        &mut self,
        py: Python<'py>,
        list: &Bound<'py, PyList>,
        peers: usize,
    ) -> Vec<Option<PyBatch>> {
        as_batches(split_by(py, list, peers, |item| {
            item.cast::<PyTuple>()
                .ok()
                .and_then(|t| t.get_item(0).ok())
                .and_then(|w| w.extract::<usize>().ok())
                .map_or(0, |w| w % peers)
        }))
    }
}

/// Routes the `(key, value)` items of a keyed step to the workers owning
/// their keys, taken apart into keyed batches (see [`KeyedItems`]): the
/// owner then reads only its own key table and the values, never the
/// sender's tuples and key objects, which the sender frees while they are
/// still in its cache. Stateful steps keep one `str` per key, so they need
/// no key object per item. A batch with a malformed item goes as it is
/// (malformed items to worker 0), so that the step reports the item.
///
/// [`KeyedItems`]: super::keyed_batch::KeyedItems
pub struct ByKey;

impl Split for ByKey {
    fn split<'py>(
        &mut self,
        py: Python<'py>,
        list: &Bound<'py, PyList>,
        peers: usize,
    ) -> Vec<Option<PyBatch>> {
        split_keyed(py, list, peers).unwrap_or_else(|| {
            as_batches(split_by(py, list, peers, |item| {
                let Some(key) = item_key(item) else { return 0 };
                match key.to_str() {
                    Ok(key) => dest_for(key_hash(key), peers),
                    Err(_) => 0,
                }
            }))
        })
    }
}

/// Spreads each batch evenly over the workers in contiguous slices, with no
/// per-item work; used by `redistribute`.
pub struct Even {
    /// Rotates where a batch starts, so small batches spread too.
    next: usize,
}

impl Even {
    /// `worker` staggers where each worker's first batch starts.
    pub fn new(worker: usize) -> Self {
        Even { next: worker }
    }
}

impl Split for Even {
    fn split<'py>(
        &mut self,
        _py: Python<'py>,
        list: &Bound<'py, PyList>,
        peers: usize,
    ) -> Vec<Option<PyBatch>> {
        let n = list.len();
        let mut outs: Vec<Option<Bound<'py, PyList>>> = (0..peers)
            .map(|slot| {
                let (lo, hi) = (slot * n / peers, (slot + 1) * n / peers);
                (hi > lo).then(|| list.get_slice(lo, hi))
            })
            .collect();
        outs.rotate_right(self.next % peers);
        self.next = self.next.wrapping_add(1);
        as_batches(outs)
    }
}

/// The worker among `peers` for a key hash: `hash % peers`, without a
/// division when `peers` is a power of two.
#[inline]
fn dest_for(hash: u64, peers: usize) -> usize {
    if peers.is_power_of_two() {
        (hash & (peers as u64 - 1)) as usize
    } else {
        (hash % peers as u64) as usize
    }
}

/// Splits `(str, value)` items into one keyed batch per destination, or
/// `None` if some item is not such a tuple.
///
/// One pass over the items sorts each key's text and value pointer into
/// its destination's buffers; the value lists are made from those at their
/// final size, so no item or tuple is read twice.
fn split_keyed<'py>(
    py: Python<'py>,
    list: &Bound<'py, PyList>,
    peers: usize,
) -> Option<Vec<Option<PyBatch>>> {
    let n = list.len();
    let room = n / peers + n / 16 + 1;
    let mut keys: Vec<KeyTexts> = (0..peers).map(|_| KeyTexts::with_capacity(room)).collect();
    let mut values: Vec<Vec<*mut pyo3::ffi::PyObject>> =
        (0..peers).map(|_| Vec::with_capacity(room)).collect();
    for i in 0..n {
        // SAFETY: `i < len`; the list is the batch's own and nothing else
        // runs while the GIL is held here.
        let item = unsafe {
            Borrowed::from_ptr(
                py,
                pyo3::ffi::PyList_GET_ITEM(list.as_ptr(), i as pyo3::ffi::Py_ssize_t),
            )
        };
        let (key, value) = split_tuple(item).ok()?;
        let dest = dest_for(key_hash(key.as_str()), peers);
        keys[dest].push(key.as_str());
        values[dest].push(value.as_ptr());
    }
    Some(
        keys.into_iter()
            .zip(values)
            .map(|(keys, values)| {
                (!values.is_empty()).then(|| PyBatch::from_keyed(keys, list_of(py, &values)))
            })
            .collect(),
    )
}

/// A new list holding `items`, each borrowed from a list that outlives this
/// call.
fn list_of<'py>(py: Python<'py>, items: &[*mut pyo3::ffi::PyObject]) -> Bound<'py, PyList> {
    // SAFETY: a new list of `len` empty slots, each filled below with a
    // live object; `SET_ITEM` steals a reference, so one is taken for it.
    unsafe {
        let out = pyo3::ffi::PyList_New(items.len() as pyo3::ffi::Py_ssize_t);
        for (i, &item) in items.iter().enumerate() {
            pyo3::ffi::Py_INCREF(item);
            pyo3::ffi::PyList_SET_ITEM(out, i as pyo3::ffi::Py_ssize_t, item);
        }
        Bound::from_owned_ptr(py, out).cast_into_unchecked()
    }
}

fn as_batches(lists: Vec<Option<Bound<'_, PyList>>>) -> Vec<Option<PyBatch>> {
    lists
        .into_iter()
        .map(|l| l.map(PyBatch::from_list))
        .collect()
}

/// Splits `list` into one list per destination `dest_of` gives, in order.
fn split_by<'py>(
    py: Python<'py>,
    list: &Bound<'py, PyList>,
    peers: usize,
    mut dest_of: impl FnMut(&Bound<'py, PyAny>) -> usize,
) -> Vec<Option<Bound<'py, PyList>>> {
    let n = list.len();
    let mut outs: Vec<Vec<*mut pyo3::ffi::PyObject>> = (0..peers)
        .map(|_| Vec::with_capacity(n / peers + 1))
        .collect();
    for i in 0..n {
        // SAFETY: `i < len`, and nothing else runs while the GIL is held.
        let item = unsafe { list.get_item_unchecked(i) };
        outs[dest_of(&item)].push(item.as_ptr());
    }
    outs.iter()
        .map(|items| (!items.is_empty()).then(|| list_of(py, items)))
        .collect()
}

/// Splits a batch with `split` (one optional list per worker) and sends
/// the parts; a single worker gets the batch as it is, untouched.
fn distribute<T, P, F>(
    ctx: &StepCtx,
    local: &Range<usize>,
    container: &mut PyBatch,
    stamp: &Stamp<T>,
    pushers: &mut [P],
    split: F,
) where
    T: Clone,
    P: Push<Message<T, PyBatch>>,
    F: for<'py> FnOnce(Python<'py>, &Bound<'py, PyList>, usize) -> Vec<Option<PyBatch>>,
{
    let peers = pushers.len();
    if peers == 1 {
        Message::push_at(container, stamp.clone(), &mut pushers[0]);
        return;
    }
    Python::attach(|py| {
        let list = match container.take(py) {
            Ok(list) => list,
            Err(err) => return ctx.fail(py, err, "unpickling items from another process", None),
        };
        let outs = split(py, &list, peers);
        push_batches(py, ctx, local, outs, stamp, pushers);
    });
}

/// Sends one batch per destination worker; batches bound for another
/// process are pickled first.
fn push_batches<T: Clone, P: Push<Message<T, PyBatch>>>(
    py: Python<'_>,
    ctx: &StepCtx,
    local: &Range<usize>,
    outs: Vec<Option<PyBatch>>,
    stamp: &Stamp<T>,
    pushers: &mut [P],
) {
    for (dest, batch) in outs.into_iter().enumerate() {
        let Some(mut batch) = batch else { continue };
        if !local.contains(&dest) {
            if let Err(err) = batch.pickle_now(py) {
                let what = "pickling items to send to another process (every item that crosses \
                            processes must be picklable)";
                return ctx.fail(py, err, what, None);
            }
        }
        Message::push_at(&mut batch, stamp.clone(), &mut pushers[dest]);
    }
}
