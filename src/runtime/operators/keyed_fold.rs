//! The two most used `unary` logics, run natively: `stateful_map`
//! (`mapper(state, value) -> (state, emit)` on every item) and `fold_final`
//! (`folder(state, value) -> state`, emitted at the end of input), which
//! also underlies `reduce_final`, `count_final`, `max_final` and
//! `min_final`. Their Python builders mark themselves with
//! `_bytewax_native`; the step ids and results are exactly those of the
//! Python logics, but per item there is one Python call (the user's
//! function) instead of three, and per key one state object instead of a
//! logic object.

use std::ptr::NonNull;

use chrono::{DateTime, Utc};
use compact_str::CompactString;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use crate::flow::type_name;
use crate::runtime::context::{Step, StepCtx};
use crate::runtime::epochs::stateful::StatefulLogic;
use crate::runtime::epochs::{Changes, Epoch, KeyMap, Snapshot, Snapshotter};
use crate::runtime::keyed_batch::{pair_for, prefetch, KeyedItems};

/// Which fold, with the user's functions.
pub enum FoldKind {
    /// `stateful_map(builder, mapper)`.
    StatefulMap {
        builder: Py<PyAny>,
        mapper: Py<PyAny>,
    },
    /// `fold_final(builder, folder)`.
    FoldFinal {
        builder: Py<PyAny>,
        folder: Py<PyAny>,
    },
}

impl FoldKind {
    /// Reads the `_bytewax_native` marker of a `unary` builder, if any.
    pub fn from_builder(builder: &Bound<'_, PyAny>) -> Option<FoldKind> {
        let marker = builder.getattr("_bytewax_native").ok()?;
        let (kind, init, func): (String, Py<PyAny>, Py<PyAny>) = marker.extract().ok()?;
        match kind.as_str() {
            "stateful_map" => Some(FoldKind::StatefulMap {
                builder: init,
                mapper: func,
            }),
            "fold_final" => Some(FoldKind::FoldFinal {
                builder: init,
                folder: func,
            }),
            _ => None,
        }
    }

    fn builder(&self) -> &Py<PyAny> {
        match self {
            FoldKind::StatefulMap { builder, .. } | FoldKind::FoldFinal { builder, .. } => builder,
        }
    }
}

#[derive(Default)]
struct KeyState {
    /// `None` only within a batch: for a key new in it, or discarded by it.
    state: Option<Py<PyAny>>,
    changed_in: u64,
    /// `stateful_map` emits `(key, value)` tuples, but items the exchange
    /// took apart bring their key as text only: the key's `str` is made
    /// once, kept beside its state.
    key_obj: Option<Py<PyString>>,
}

pub struct KeyedFold {
    ctx: StepCtx,
    kind: FoldKind,
    snapshotter: Option<Snapshotter>,
    keys: KeyMap<KeyState>,
    changes: Changes,
}

impl KeyedFold {
    pub fn new(
        ctx: StepCtx,
        kind: FoldKind,
        snapshotter: Option<Snapshotter>,
        resume: Vec<(String, Py<PyAny>)>,
    ) -> KeyedFold {
        let mut keys = KeyMap::default();
        for (key, state) in resume {
            keys.insert(
                key.into(),
                KeyState {
                    state: Some(state),
                    ..KeyState::default()
                },
            );
        }
        KeyedFold {
            ctx,
            kind,
            changes: Changes::new(snapshotter.is_some()),
            snapshotter,
            keys,
        }
    }
}

fn mapper_result_error(ctx: &StepCtx, func: &Bound<'_, PyAny>, got: &Bound<'_, PyAny>) -> PyErr {
    let name = func
        .getattr("__qualname__")
        .and_then(|n| n.extract::<String>())
        .unwrap_or_else(|_| "mapper".to_string());
    ctx.type_error(format!(
        "return value of `mapper` {name} must be a 2-tuple of `(updated_state, emit_item)`; got a `{}` instead",
        type_name(got)
    ))
}

/// A key's entry (a `&mut KeyState`), made without state if the key is
/// new. A macro, not a function: the borrow checker rejects returning the
/// first lookup's borrow from a function that may insert.
macro_rules! entry_for {
    ($keys:expr, $key:expr) => {
        match $keys.get_mut($key) {
            Some(ks) => ks,
            None => {
                $keys.insert($key.into(), KeyState::default());
                $keys.get_mut($key).expect("inserted just above")
            }
        }
    };
}

/// Handles one item with its key's entry: builds the state if there is
/// none, calls the user's function, stores the new state, and for
/// `stateful_map` emits `(key, emit)`. Discarded states are set aside in
/// `$discarded`, to be removed after the batch. A macro, so that each of
/// the two loops of `on_items` gets its own inlined copy.
macro_rules! handle_item {
    ($self:ident, $py:ident, $ks:ident, $item_key:ident, $value:ident, $func:ident, $action:ident, $out:ident, $discarded:ident) => {{
        let key = $item_key.as_str();
        let state = match &$ks.state {
            Some(state) => state.bind($py).clone(),
            None => $self
                .kind
                .builder()
                .bind($py)
                .call0()
                .map_err(|e| $self.ctx.stop($py, e, "calling `builder`", Some(key)))?,
        };
        $self.changes.mark(&mut $ks.changed_in, key);
        let result = $func.call1((state, $value));
        let result = result.map_err(|e| $self.ctx.stop($py, e, $action, Some(key)))?;
        if let FoldKind::FoldFinal { .. } = $self.kind {
            $ks.state = Some(result.unbind());
            continue;
        }
        let Some(returned) = result.cast::<PyTuple>().ok().filter(|t| t.len() == 2) else {
            let err = mapper_result_error(&$self.ctx, &$func, &result);
            return Err($self.ctx.stop($py, err, $action, Some(key)));
        };
        // SAFETY: the length was checked just above.
        let (state, emit) = unsafe {
            (
                returned.get_borrowed_item_unchecked(0),
                returned.get_borrowed_item_unchecked(1),
            )
        };
        let key_obj = match $item_key.py_obj() {
            Some(obj) => obj,
            None => $ks
                .key_obj
                .get_or_insert_with(|| PyString::new($py, key).unbind())
                .bind($py)
                .clone(),
        };
        let pushed =
            pair_for($out, key_obj.into_any(), emit.to_owned()).and_then(|t| $out.append(t));
        pushed.map_err(|e| $self.ctx.stop($py, e, $action, Some(key)))?;
        if state.is_none() {
            // Removed once the batch is done: a later item may hold the
            // entry.
            $ks.state = None;
            $discarded.push(CompactString::from(key));
        } else {
            $ks.state = Some(state.to_owned().unbind());
        }
    }};
}

/// From how many keys a step's table outgrows the CPU cache, so that its
/// entries are worth finding ahead of the items (see
/// [`KeyedFold::resolve`]).
const RESOLVE_AHEAD_FROM_KEYS: usize = 16_384;

impl KeyedFold {
    /// Finds (or makes) the entry of every key of a batch, in order, and
    /// asks the CPU to fetch each entry's state and key objects.
    ///
    /// In a large table every entry is a cache miss. Found one at a time
    /// between the user's calls, the misses are waited for one after the
    /// other; found in a tight loop, they overlap. New keys get an entry
    /// without state (their builder runs when their item is handled), and
    /// room for all of them is reserved first, so that no entry moves
    /// while the batch is handled.
    fn resolve<'k>(&mut self, keys: impl Iterator<Item = &'k str>, len: usize) -> Resolved {
        self.keys.reserve(len);
        let mut entries = Vec::with_capacity(len);
        for key in keys {
            let entry = entry_for!(self.keys, key);
            if let Some(state) = &entry.state {
                prefetch(state.as_ptr());
            }
            if let Some(key_obj) = &entry.key_obj {
                prefetch(key_obj.as_ptr());
            }
            entries.push(NonNull::from(entry));
        }
        Resolved { entries }
    }

    /// `on_items` for a table small enough to stay in cache: each key is
    /// looked up as its item comes.
    fn on_items_one_by_one(
        &mut self,
        py: Python<'_>,
        func: &Bound<'_, PyAny>,
        action: &'static str,
        items: &KeyedItems<'_>,
        out: &Bound<'_, PyList>,
    ) -> Step<()> {
        let mut discarded = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let (item_key, value) = item.map_err(|bad| bad.stop(&self.ctx, py))?;
            items.prefetch(i + PREFETCH_DISTANCE);
            let ks = entry_for!(self.keys, item_key.as_str());
            handle_item!(self, py, ks, item_key, value, func, action, out, discarded);
        }
        self.forget(discarded);
        Ok(())
    }

    /// Removes the keys whose state was discarded, unless an item after
    /// that made a new one.
    fn forget(&mut self, discarded: Vec<CompactString>) {
        for key in discarded {
            if self.keys.get(&key).is_some_and(|ks| ks.state.is_none()) {
                self.keys.remove(&key);
            }
        }
    }
}

/// The entries of a batch's keys, in item order, up to its first malformed
/// item. Valid while no key is added beyond those the batch reserved room
/// for, and none is removed.
struct Resolved {
    entries: Vec<NonNull<KeyState>>,
}

/// How many items ahead of the one being handled its value (and, for a
/// large table, its state) is fetched into cache.
const PREFETCH_DISTANCE: usize = 8;

impl StatefulLogic for KeyedFold {
    fn on_items(
        &mut self,
        py: Python<'_>,
        items: &KeyedItems<'_>,
        out: &Bound<'_, PyList>,
    ) -> Step<()> {
        let (func, action) = match &self.kind {
            FoldKind::StatefulMap { mapper, .. } => (mapper.bind(py).clone(), "calling `mapper`"),
            FoldKind::FoldFinal { folder, .. } => (folder.bind(py).clone(), "calling `folder`"),
        };
        if self.keys.len() < RESOLVE_AHEAD_FROM_KEYS {
            return self.on_items_one_by_one(py, &func, action, items, out);
        }
        // Up to the first malformed item, reported once the items before
        // it are handled.
        let mut bad = None;
        let keys = items.iter().map_while(|item| match item {
            Ok((key, _)) => Some(key.as_str()),
            Err(err) => {
                bad = Some(err);
                None
            }
        });
        let resolved = self.resolve(keys, items.len());
        let mut discarded = Vec::new();
        let entries = resolved.entries;
        for (i, (item, entry)) in items.iter().zip(entries.iter()).enumerate() {
            let Ok((item_key, value)) = item else { break };
            if let Some(ahead) = entries.get(i + PREFETCH_DISTANCE) {
                items.prefetch(i + PREFETCH_DISTANCE);
                // SAFETY: as for `ks` below.
                if let Some(state) = unsafe { &(*ahead.as_ptr()).state } {
                    prefetch(state.as_ptr());
                }
            }
            // SAFETY: see `Resolved`; nothing else touches the table until
            // this loop ends.
            let ks = unsafe { &mut *entry.as_ptr() };
            handle_item!(self, py, ks, item_key, value, func, action, out, discarded);
        }
        self.forget(discarded);
        match bad {
            Some(bad) => Err(bad.stop(&self.ctx, py)),
            None => Ok(()),
        }
    }

    fn next_wake(&self) -> Option<DateTime<Utc>> {
        None
    }

    fn on_wake(
        &mut self,
        _py: Python<'_>,
        _now: DateTime<Utc>,
        _out: &Bound<'_, PyList>,
    ) -> Step<()> {
        Ok(())
    }

    /// `fold_final` emits every key's accumulator, in key order, and
    /// forgets them; `stateful_map` keeps its state.
    fn on_eof(&mut self, py: Python<'_>, out: &Bound<'_, PyList>) -> Step<()> {
        if let FoldKind::FoldFinal { .. } = self.kind {
            let mut keys: Vec<_> = self.keys.keys().cloned().collect();
            keys.sort_unstable();
            for key in keys {
                let ks = self.keys.remove(&key).expect("listed just above");
                self.changes.mark_gone(&key);
                let Some(state) = ks.state else { continue };
                let key_obj = PyString::new(py, &key).into_any();
                let pushed =
                    pair_for(out, key_obj, state.into_bound(py)).and_then(|t| out.append(t));
                pushed.map_err(|e| {
                    self.ctx
                        .stop(py, e, "emitting at the end of input", Some(&key))
                })?;
            }
        }
        Ok(())
    }

    fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    fn snapshots(&mut self, py: Python<'_>, epoch: Epoch) -> Step<Vec<Snapshot>> {
        let Some(snapshotter) = self.snapshotter.clone() else {
            return Ok(Vec::new());
        };
        let keys = self.changes.take();
        let mut snaps = Vec::with_capacity(keys.len());
        for key in keys {
            let state = match self.keys.get(key.as_str()).and_then(|ks| ks.state.as_ref()) {
                Some(state) => Some(
                    snapshotter
                        .ser(state.bind(py))
                        .map_err(|e| self.ctx.stop(py, e, "snapshotting state", Some(&key)))?,
                ),
                None => None,
            };
            snaps.push(Snapshot {
                step_id: self.ctx.step_id.to_string(),
                key,
                epoch,
                state,
            });
        }
        Ok(snaps)
    }
}
