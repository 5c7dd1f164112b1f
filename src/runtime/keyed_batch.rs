//! What a keyed stateful step receives: `(key, value)` items, either as
//! upstream made them or already taken apart by the exchange.
//!
//! Taking items apart is the exchange's job because the sending worker has
//! just made them: its cache still holds the tuples and key objects, and it
//! frees them there. The worker that owns the keys then reads only its own
//! key table and the values; it makes each key's `str` once, not per item.

use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};
use pyo3::Borrowed;

use super::context::{StepCtx, Stop};
use super::routing::item_key;

/// A batch for a keyed step.
pub enum KeyedItems<'py> {
    /// As upstream made them: a list of items that should be `(str, value)`
    /// tuples, checked one by one.
    Tuples(Bound<'py, PyList>),
    /// Taken apart by a keyed exchange: key `i` goes with `values[i]`.
    Split {
        keys: KeyTexts,
        values: Bound<'py, PyList>,
    },
}

/// Keys as text, packed into one buffer: one allocation per batch, however
/// long the keys.
///
/// ```
/// use bytewax::runtime::keyed_batch::KeyTexts;
///
/// let keys: KeyTexts = ["a", "", "été"].into_iter().collect();
/// assert_eq!(keys.len(), 3);
/// assert_eq!(keys.get(2), "été");
/// assert_eq!(keys.iter().collect::<Vec<_>>(), ["a", "", "été"]);
///
/// let mut wire = Vec::new();
/// keys.write_to(&mut wire);
/// assert_eq!(wire.len(), keys.wire_len());
/// assert_eq!(KeyTexts::read_from(&wire, 3), Some(keys));
/// assert_eq!(KeyTexts::read_from(&wire[..5], 3), None);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyTexts {
    text: String,
    /// Where each key ends in `text`.
    ends: Vec<u32>,
}

impl KeyTexts {
    pub fn with_capacity(keys: usize) -> Self {
        KeyTexts {
            text: String::with_capacity(keys * 8),
            ends: Vec::with_capacity(keys),
        }
    }

    #[inline]
    pub fn push(&mut self, key: &str) {
        self.text.push_str(key);
        self.ends.push(self.text.len() as u32);
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Key `i`; panics if there is no such key.
    #[inline]
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        let end = self.ends[i] as usize;
        // SAFETY: every key was pushed as a whole `str`, so both ends lie on
        // character boundaries, in order.
        unsafe { self.text.get_unchecked(start..end) }
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Bytes [`write_to`](Self::write_to) writes: each end as a
    /// little-endian `u32`, then the text.
    pub fn wire_len(&self) -> usize {
        4 * self.ends.len() + self.text.len()
    }

    pub fn write_to(&self, out: &mut impl std::io::Write) {
        for end in &self.ends {
            out.write_all(&end.to_le_bytes()).unwrap();
        }
        out.write_all(self.text.as_bytes()).unwrap();
    }

    /// Reads `count` keys written by [`write_to`](Self::write_to); `None`
    /// if the bytes are not such keys.
    pub fn read_from(bytes: &[u8], count: usize) -> Option<KeyTexts> {
        let (ends, text) = bytes.split_at_checked(4 * count)?;
        let ends: Vec<u32> = ends
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        if text.len() != ends.last().map_or(0, |&e| e as usize) {
            return None;
        }
        let text = std::str::from_utf8(text).ok()?;
        let mut start = 0;
        for &end in &ends {
            let end = end as usize;
            if end < start || !text.is_char_boundary(end) {
                return None;
            }
            start = end;
        }
        Some(KeyTexts {
            text: text.to_string(),
            ends,
        })
    }
}

impl<'a> FromIterator<&'a str> for KeyTexts {
    fn from_iter<I: IntoIterator<Item = &'a str>>(keys: I) -> Self {
        let mut texts = KeyTexts::default();
        for key in keys {
            texts.push(key);
        }
        texts
    }
}

/// The key of one item.
#[derive(Clone, Copy)]
pub struct ItemKey<'a, 'py> {
    text: &'a str,
    /// Upstream's own `str`, when the item still is a tuple.
    obj: Option<Borrowed<'a, 'py, PyString>>,
}

impl<'a, 'py> ItemKey<'a, 'py> {
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// Upstream's own `str`, when the item came as a tuple.
    pub fn py_obj(&self) -> Option<Bound<'py, PyString>> {
        self.obj.map(|obj| obj.to_owned())
    }

    /// The key as a Python `str`: upstream's own object when there is one.
    pub fn to_py(&self, py: Python<'py>) -> Bound<'py, PyString> {
        match self.obj {
            Some(obj) => obj.to_owned(),
            None => PyString::new(py, self.text),
        }
    }
}

/// An item a keyed step can not take: not a `(str, value)` 2-tuple, or a key
/// that is not valid text.
pub struct BadItem<'a, 'py> {
    item: Borrowed<'a, 'py, PyAny>,
    /// Set when the key is a `str` that can not be encoded as UTF-8.
    key_error: Option<PyErr>,
}

impl BadItem<'_, '_> {
    /// Reports the item with the step id and stops the run.
    pub fn stop(self, ctx: &StepCtx, py: Python<'_>) -> Stop {
        if let Some(err) = self.key_error {
            return ctx.stop(py, err, "reading a key", None);
        }
        let err = ctx.type_error(format!(
            "a stateful step needs `(key, value)` 2-tuples with `str` keys from upstream; got a `{}` instead{}",
            crate::flow::type_name(&self.item),
            describe_bad_item(&self.item)
        ));
        ctx.stop(py, err, "routing an item by key", None)
    }
}

/// A hint for the most common mistake: forgetting to key the stream.
fn describe_bad_item(item: &Bound<'_, PyAny>) -> String {
    match item.cast::<PyTuple>() {
        Ok(t) if t.len() == 2 => match t.get_item(0) {
            Ok(k) => format!(
                " (its key is a `{}`; keys must be `str`)",
                crate::flow::type_name(&k)
            ),
            Err(_) => String::new(),
        },
        Ok(t) => format!(" (a tuple of {} items)", t.len()),
        Err(_) => "; key the stream first, e.g. with `op.key_on`".to_string(),
    }
}

pub type KeyedItem<'a, 'py> =
    Result<(ItemKey<'a, 'py>, Borrowed<'a, 'py, PyAny>), BadItem<'a, 'py>>;

impl<'py> KeyedItems<'py> {
    pub fn len(&self) -> usize {
        match self {
            KeyedItems::Tuples(list) => list.len(),
            KeyedItems::Split { keys, .. } => keys.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Starts loading item `i`'s value (or tuple) into cache, if there is
    /// such an item; a hint only.
    #[inline]
    pub fn prefetch(&self, i: usize) {
        let list = match self {
            KeyedItems::Tuples(list) => list,
            KeyedItems::Split { values, .. } => values,
        };
        if i < list.len() {
            // SAFETY: `i < len`; reading the slot does not touch the item.
            prefetch(unsafe {
                pyo3::ffi::PyList_GET_ITEM(list.as_ptr(), i as pyo3::ffi::Py_ssize_t)
            });
        }
    }

    /// The items in order, as borrowed key and value.
    pub fn iter<'a>(&'a self) -> impl Iterator<Item = KeyedItem<'a, 'py>> + 'a {
        let list = match self {
            KeyedItems::Tuples(list) => list,
            KeyedItems::Split { values, .. } => values,
        };
        (0..self.len()).map(move |i| {
            // SAFETY: `i < len`, and the list is private to this batch: no
            // code that runs while a step handles it can reach it to change
            // its length or items, so borrowing from it is sound for as
            // long as `self` is borrowed.
            let item = unsafe {
                Borrowed::from_ptr(
                    list.py(),
                    pyo3::ffi::PyList_GET_ITEM(list.as_ptr(), i as pyo3::ffi::Py_ssize_t),
                )
            };
            match self {
                KeyedItems::Split { keys, .. } => {
                    let key = ItemKey {
                        text: keys.get(i),
                        obj: None,
                    };
                    Ok((key, item))
                }
                KeyedItems::Tuples(_) => split_tuple(item),
            }
        })
    }
}

/// Starts loading `obj`'s first cache line; a hint only.
#[inline(always)]
pub fn prefetch(obj: *const pyo3::ffi::PyObject) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and has no visible effect.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch(obj.cast::<i8>(), _MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = obj;
}

/// Takes a `(str, value)` tuple apart, borrowing from it.
pub fn split_tuple<'a, 'py>(item: Borrowed<'a, 'py, PyAny>) -> KeyedItem<'a, 'py> {
    let is_keyed = item_key(&item).is_some();
    if !is_keyed {
        return Err(BadItem {
            item,
            key_error: None,
        });
    }
    // SAFETY: `item_key` checked that the item is a 2-tuple with a `str`
    // first; the tuple is immutable and lives for `'a`, so do its fields.
    let (key, value) = unsafe {
        let py = item.py();
        let key = Borrowed::from_ptr(py, pyo3::ffi::PyTuple_GET_ITEM(item.as_ptr(), 0))
            .cast_unchecked::<PyString>();
        let value = Borrowed::from_ptr(py, pyo3::ffi::PyTuple_GET_ITEM(item.as_ptr(), 1));
        (key, value)
    };
    let mut size: pyo3::ffi::Py_ssize_t = 0;
    // SAFETY: `key` is a `str`; its UTF-8 form is cached in the object, so
    // it lives as long as the key does (`'a`), and CPython made it valid
    // UTF-8.
    let text = unsafe {
        let data = pyo3::ffi::PyUnicode_AsUTF8AndSize(key.as_ptr(), &mut size);
        if data.is_null() {
            return Err(BadItem {
                item,
                key_error: Some(PyErr::fetch(item.py())),
            });
        }
        let bytes: &'a [u8] = std::slice::from_raw_parts(data.cast(), size as usize);
        std::str::from_utf8_unchecked(bytes)
    };
    Ok((
        ItemKey {
            text,
            obj: Some(key),
        },
        value,
    ))
}

/// Output lists longer than this are a backlog being caught up on.
const BACKLOG_OUTPUT: usize = 2048;

/// Makes a 2-tuple bound for `out`, such as the `(key, value)` items a
/// keyed step emits.
///
/// A step's output list holds one batch's worth while the step keeps up;
/// it grows past that when a worker catches up on a backlog (another worker
/// held the GIL meanwhile), and then every tuple it makes stays alive until
/// the next step runs. Tracked, those tuples trigger collections that walk
/// all of them, over and over; so past `BACKLOG_OUTPUT` items, tuples
/// that can not hold a cycle are untracked, as CPython's collector would do
/// on its first look anyway. Short lists skip the check: their tuples die
/// young and cheaply.
pub fn pair_for<'py>(
    out: &Bound<'py, PyList>,
    first: Bound<'py, PyAny>,
    second: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyTuple>> {
    let pair = PyTuple::new(first.py(), [first, second])?;
    if out.len() >= BACKLOG_OUTPUT {
        untrack_if_atomic(&pair);
    }
    Ok(pair)
}

/// Untracks an exact tuple none of whose fields can hold a reference cycle:
/// the test CPython's collector makes before it untracks a tuple. A tuple's
/// fields never change, so neither can the answer. Tuple subclasses stay
/// tracked (their instances may have a `__dict__`).
///
/// ```
/// use bytewax::runtime::keyed_batch::untrack_if_atomic;
/// use pyo3::prelude::*;
/// use pyo3::types::{PyDict, PyString, PyTuple};
///
/// Python::attach(|py| {
///     let is_tracked = |t: &Bound<'_, PyTuple>| unsafe {
///         pyo3::ffi::PyObject_GC_IsTracked(t.as_ptr()) != 0
///     };
///     let key = PyString::new(py, "k").into_any();
///     let one = 1i64.into_pyobject(py)?.into_any();
///     let atomic = PyTuple::new(py, [key.clone(), one])?;
///     untrack_if_atomic(&atomic);
///     assert!(!is_tracked(&atomic));
///
///     // An untracked tuple is atomic too; a dict may not stay so.
///     let nested = PyTuple::new(py, [key.clone(), atomic.into_any()])?;
///     untrack_if_atomic(&nested);
///     assert!(!is_tracked(&nested));
///     let holds_dict = PyTuple::new(py, [key, PyDict::new(py).into_any()])?;
///     untrack_if_atomic(&holds_dict);
///     assert!(is_tracked(&holds_dict));
///     PyResult::Ok(())
/// })
/// .unwrap();
/// ```
#[inline]
pub fn untrack_if_atomic(tuple: &Bound<'_, PyAny>) {
    use pyo3::ffi;
    // SAFETY: the GIL is held; fields are read only after the exact-tuple
    // check, within the tuple's length.
    unsafe {
        let t = tuple.as_ptr();
        if ffi::PyTuple_CheckExact(t) == 0 || ffi::PyObject_GC_IsTracked(t) == 0 {
            return;
        }
        for i in 0..ffi::PyTuple_GET_SIZE(t) {
            let field = ffi::PyTuple_GET_ITEM(t, i);
            // Only a tuple's own tracking can be trusted: other collectable
            // objects (a dict, say) may become tracked later.
            let may_hold_cycle = ffi::PyObject_IS_GC(field) != 0
                && (ffi::PyTuple_CheckExact(field) == 0 || ffi::PyObject_GC_IsTracked(field) != 0);
            if may_hold_cycle {
                return;
            }
        }
        ffi::PyObject_GC_UnTrack(t.cast());
    }
}
