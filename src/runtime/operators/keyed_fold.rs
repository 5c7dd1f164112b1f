//! The two most used `unary` logics, run natively: `stateful_map`
//! (`mapper(state, value) -> (state, emit)` on every item) and `fold_final`
//! (`folder(state, value) -> state`, emitted at the end of input), which
//! also underlies `reduce_final`, `count_final`, `max_final` and
//! `min_final`. Their Python builders mark themselves with
//! `_bytewax_native`; the step ids and results are exactly those of the
//! Python logics, but per item there is one Python call (the user's
//! function) instead of three, and per key one state object instead of a
//! logic object.

use chrono::{DateTime, Utc};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use crate::flow::type_name;
use crate::runtime::context::{Step, StepCtx};
use crate::runtime::epochs::stateful::StatefulLogic;
use crate::runtime::epochs::{Changes, Epoch, KeyMap, Snapshot, Snapshotter};
use crate::runtime::keyed_batch::{pair_for, KeyedItems};

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

struct KeyState {
    state: Py<PyAny>,
    changed_in: u64,
    /// `stateful_map` emits `(key, value)` tuples, but items the exchange
    /// took apart bring their key as text only (it does that while a step
    /// has few keys): the key's `str` is made once, kept beside its state.
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
                    state,
                    changed_in: 0,
                    key_obj: None,
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

impl StatefulLogic for KeyedFold {
    fn on_items(
        &mut self,
        py: Python<'_>,
        _now: &Bound<'_, PyAny>,
        items: &KeyedItems<'_>,
        out: &Bound<'_, PyList>,
    ) -> Step<()> {
        let (func, action) = match &self.kind {
            FoldKind::StatefulMap { mapper, .. } => (mapper.bind(py).clone(), "calling `mapper`"),
            FoldKind::FoldFinal { folder, .. } => (folder.bind(py).clone(), "calling `folder`"),
        };
        let is_map = matches!(self.kind, FoldKind::StatefulMap { .. });
        for item in items.iter() {
            let (item_key, value) = item.map_err(|bad| bad.stop(&self.ctx, py))?;
            let key = item_key.as_str();
            let ks =
                match self.keys.get_mut(key) {
                    Some(ks) => ks,
                    None => {
                        let state =
                            self.kind.builder().bind(py).call0().map_err(|e| {
                                self.ctx.stop(py, e, "calling `builder`", Some(key))
                            })?;
                        self.keys.insert(
                            key.into(),
                            KeyState {
                                state: state.unbind(),
                                changed_in: 0,
                                key_obj: None,
                            },
                        );
                        self.keys.get_mut(key).expect("inserted just above")
                    }
                };
            self.changes.mark(&mut ks.changed_in, key);
            let result = func.call1((ks.state.bind(py), value));
            let result = result.map_err(|e| self.ctx.stop(py, e, action, Some(key)))?;
            if !is_map {
                ks.state = result.unbind();
                continue;
            }
            let Some(returned) = result.cast::<PyTuple>().ok().filter(|t| t.len() == 2) else {
                let err = mapper_result_error(&self.ctx, &func, &result);
                return Err(self.ctx.stop(py, err, action, Some(key)));
            };
            // SAFETY: the length was checked just above.
            let (state, emit) = unsafe {
                (
                    returned.get_borrowed_item_unchecked(0),
                    returned.get_borrowed_item_unchecked(1),
                )
            };
            let key_obj = match item_key.py_obj() {
                Some(obj) => obj,
                None => ks
                    .key_obj
                    .get_or_insert_with(|| PyString::new(py, key).unbind())
                    .bind(py)
                    .clone(),
            };
            let pushed =
                pair_for(out, key_obj.into_any(), emit.to_owned()).and_then(|t| out.append(t));
            pushed.map_err(|e| self.ctx.stop(py, e, action, Some(key)))?;
            if state.is_none() {
                self.keys.remove(key);
            } else {
                ks.state = state.to_owned().unbind();
            }
        }
        Ok(())
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
                let key_obj = PyString::new(py, &key).into_any();
                let pushed =
                    pair_for(out, key_obj, ks.state.into_bound(py)).and_then(|t| out.append(t));
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

    fn key_count(&self) -> usize {
        self.keys.len()
    }

    fn snapshots(&mut self, py: Python<'_>, epoch: Epoch) -> Step<Vec<Snapshot>> {
        let Some(snapshotter) = self.snapshotter.clone() else {
            return Ok(Vec::new());
        };
        let keys = self.changes.take();
        let mut snaps = Vec::with_capacity(keys.len());
        for key in keys {
            let state = match self.keys.get(key.as_str()) {
                Some(ks) => Some(
                    snapshotter
                        .ser(ks.state.bind(py))
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

    fn clear_timers(&mut self) {}
}
