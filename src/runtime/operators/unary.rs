//! `unary`: the generic keyed stateful operator. A key's `UnaryLogic` is
//! built on the key's first item (or from its snapshot), fed `on_item`,
//! woken by `on_notify` at the time `notify_at` asks for, told `on_eof` at
//! the end of input, and snapshotted when an epoch closes (see
//! [`crate::runtime::epochs::stateful`] for when each happens).
//!
//! Cost per item does not depend on the number of live keys: logics live
//! in a hash map, timers in a set ordered by time, and `notify_at` is only
//! asked of keys touched in the activation (never of logics that do not
//! override it).

use chrono::{DateTime, Utc};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyList, PyString, PyTuple};

use super::keyed_fold::{FoldKind, KeyedFold};
use super::{PyStream, SnapStream};
use crate::flow::type_name;
use crate::python::time::{from_py_opt, now_py, to_py};
use crate::runtime::context::{Step, StepCtx};
use crate::runtime::epochs::stateful::{stateful, StatefulLogic};
use crate::runtime::epochs::{Changes, Epoch, KeyMap, Snapshot, Snapshotter, Timers};
use crate::runtime::keyed_batch::{pair_for, KeyedItems};
use crate::telemetry::metrics::Timer;

pub fn unary<'s>(
    up: PyStream<'s>,
    ctx: StepCtx,
    builder: Py<PyAny>,
    resume: Vec<(String, Py<PyAny>)>,
    resume_epoch: Epoch,
    local: std::ops::Range<usize>,
    snapshotter: Option<Snapshotter>,
) -> (PyStream<'s>, SnapStream<'s>) {
    let logic_ctx = ctx.clone();
    if let Some(kind) = Python::attach(|py| FoldKind::from_builder(builder.bind(py))) {
        return stateful(
            up,
            ctx,
            resume_epoch,
            local,
            Timer::UnaryOnItems,
            move |_py| Some(KeyedFold::new(logic_ctx, kind, snapshotter, resume)),
        );
    }
    stateful(
        up,
        ctx,
        resume_epoch,
        local,
        Timer::UnaryOnItems,
        move |py| {
            let mut state = UnaryState::new(py, logic_ctx, builder, snapshotter)?;
            state.resume(py, resume).ok()?;
            Some(state)
        },
    )
}

/// One live key.
struct KeyState {
    logic: Py<PyAny>,
    key: Py<PyString>,
    /// When the logic asked to be notified.
    sched: Option<DateTime<Utc>>,
    /// Whether the logic's class overrides `notify_at` (if not, it is never
    /// called).
    uses_timers: bool,
    /// Activation in which the key was last queued for `notify_at`.
    touched_in: u64,
    /// Snapshot round in which the key was last marked as changed.
    changed_in: u64,
}

/// Which `UnaryLogic` method a result came from (names are only formatted
/// when something went wrong).
#[derive(Clone, Copy)]
enum Method {
    Item,
    Notify,
    Eof,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Item => "on_item",
            Method::Notify => "on_notify",
            Method::Eof => "on_eof",
        }
    }

    fn action(self) -> String {
        format!("calling `UnaryLogic.{}`", self.name())
    }
}

struct UnaryState {
    ctx: StepCtx,
    builder: Py<PyAny>,
    logic_cls: Py<PyAny>,
    notify_at_base: Py<PyAny>,
    snapshotter: Option<Snapshotter>,
    logics: KeyMap<KeyState>,
    timers: Timers,
    /// Keys to ask `notify_at` at the end of this activation.
    touched: Vec<String>,
    activation: u64,
    changes: Changes,
}

impl UnaryState {
    fn new(
        py: Python<'_>,
        ctx: StepCtx,
        builder: Py<PyAny>,
        snapshotter: Option<Snapshotter>,
    ) -> Option<Self> {
        let found = py.import("bytewax.operators").and_then(|m| {
            let cls = m.getattr("UnaryLogic")?;
            let base = cls.getattr("notify_at")?;
            Ok((cls.unbind(), base.unbind()))
        });
        match found {
            Ok((logic_cls, notify_at_base)) => Some(UnaryState {
                ctx,
                builder,
                logic_cls,
                notify_at_base,
                changes: Changes::new(snapshotter.is_some()),
                snapshotter,
                logics: KeyMap::default(),
                timers: Timers::default(),
                touched: Vec::new(),
                activation: 1,
            }),
            Err(err) => {
                ctx.fail(py, err, "loading `bytewax.operators.UnaryLogic`", None);
                None
            }
        }
    }

    /// Rebuilds logics from their snapshots.
    fn resume(&mut self, py: Python<'_>, resume: Vec<(String, Py<PyAny>)>) -> Step<()> {
        let now = now_py(py).map_err(|e| self.ctx.stop(py, e, "reading the clock", None))?;
        for (key, snapshot) in resume {
            let key_obj = PyString::new(py, &key);
            self.build_logic(py, &now, &key, &key_obj, snapshot.bind(py))?;
            self.touch(&key);
        }
        self.finish_activation(py)
    }

    fn build_logic(
        &mut self,
        py: Python<'_>,
        now: &Bound<'_, PyAny>,
        key: &str,
        key_obj: &Bound<'_, PyString>,
        resume_state: &Bound<'_, PyAny>,
    ) -> Step<()> {
        let logic = self
            .builder
            .bind(py)
            .call1((now, resume_state))
            .map_err(|e| self.ctx.stop(py, e, "calling `builder`", Some(key)))?;
        if !logic.is_instance(self.logic_cls.bind(py)).unwrap_or(false) {
            let err = self.ctx.type_error(format!(
                "`builder` must return a `bytewax.operators.UnaryLogic`; got a `{}` instead",
                type_name(&logic)
            ));
            return Err(self.ctx.stop(py, err, "calling `builder`", Some(key)));
        }
        let uses_timers = logic
            .get_type()
            .getattr("notify_at")
            .map(|m| !m.is(self.notify_at_base.bind(py)))
            .unwrap_or(true);
        self.logics.insert(
            key.into(),
            KeyState {
                logic: logic.unbind(),
                key: key_obj.clone().unbind(),
                sched: None,
                uses_timers,
                touched_in: 0,
                changed_in: 0,
            },
        );
        Ok(())
    }

    /// Queues `key` for `notify_at` and marks it changed.
    fn touch(&mut self, key: &str) {
        if let Some(ks) = self.logics.get_mut(key) {
            touch(
                ks,
                key,
                self.activation,
                &mut self.touched,
                &mut self.changes,
            );
        }
    }

    /// Handles what a logic method returned: `(emit, is_complete)`. The key
    /// has already been touched.
    fn apply(
        &mut self,
        py: Python<'_>,
        key: &str,
        key_obj: &Bound<'_, PyString>,
        result: PyResult<Bound<'_, PyAny>>,
        method: Method,
        out: &Bound<'_, PyList>,
    ) -> Step<()> {
        let result = result.map_err(|e| self.ctx.stop(py, e, &method.action(), Some(key)))?;
        let Some(pair) = result.cast::<PyTuple>().ok().filter(|t| t.len() == 2) else {
            let err = self.ctx.type_error(format!(
                "`UnaryLogic.{}` must return a 2-tuple `(emit, is_complete)`; got a `{}` instead",
                method.name(),
                type_name(&result)
            ));
            return Err(self.ctx.stop(py, err, &method.action(), Some(key)));
        };
        // SAFETY: the length was checked just above.
        let emit = unsafe { pair.get_borrowed_item_unchecked(0) };
        let complete = unsafe { pair.get_borrowed_item_unchecked(1) };
        let Ok(complete) = complete.cast::<PyBool>().map(|b| b.is_true()) else {
            let err = self.ctx.type_error(format!(
                "`is_complete` returned by `UnaryLogic.{}` must be a `bool`; got a `{}` instead",
                method.name(),
                type_name(&complete)
            ));
            return Err(self.ctx.stop(py, err, &method.action(), Some(key)));
        };
        self.emit(py, key, key_obj, &emit, method, out)?;
        if complete {
            if let Some(ks) = self.logics.remove(key) {
                self.timers.reschedule(key, ks.sched, None);
            }
        }
        Ok(())
    }

    fn emit(
        &self,
        py: Python<'_>,
        key: &str,
        key_obj: &Bound<'_, PyString>,
        emit: &Bound<'_, PyAny>,
        method: Method,
        out: &Bound<'_, PyList>,
    ) -> Step<()> {
        let push = |value: Bound<'_, PyAny>| -> PyResult<()> {
            out.append(pair_for(out, key_obj.as_any().clone(), value)?)
        };
        let pushed = if let Ok(list) = emit.cast::<PyList>() {
            list.iter().try_for_each(push)
        } else if let Ok(tuple) = emit.cast::<PyTuple>() {
            tuple.iter().try_for_each(push)
        } else {
            match emit.try_iter() {
                Ok(iter) => iter.into_iter().try_for_each(|v| v.and_then(push)),
                Err(_) => Err(self.ctx.type_error(format!(
                    "`emit` returned by `UnaryLogic.{}` must be an iterable; got a `{}` instead",
                    method.name(),
                    type_name(emit)
                ))),
            }
        };
        pushed.map_err(|e| self.ctx.stop(py, e, &method.action(), Some(key)))
    }
}

/// Queues a key for `notify_at` (once per activation) and marks it changed
/// (once per snapshot round).
fn touch(
    ks: &mut KeyState,
    key: &str,
    activation: u64,
    touched: &mut Vec<String>,
    changes: &mut Changes,
) {
    if ks.uses_timers && ks.touched_in != activation {
        ks.touched_in = activation;
        touched.push(key.to_string());
    }
    changes.mark(&mut ks.changed_in, key);
}

impl StatefulLogic for UnaryState {
    fn on_items(
        &mut self,
        py: Python<'_>,
        items: &KeyedItems<'_>,
        out: &Bound<'_, PyList>,
    ) -> Step<()> {
        let now = &now_py(py).map_err(|e| self.ctx.stop(py, e, "reading the clock", None))?;
        let on_item = pyo3::intern!(py, "on_item");
        for item in items.iter() {
            let (item_key, value) = item.map_err(|bad| bad.stop(&self.ctx, py))?;
            let key = item_key.as_str();
            // One lookup per item: touching the key before the call is
            // equivalent to touching it after.
            let (logic, key_obj) = match self.logics.get_mut(key) {
                Some(ks) => {
                    touch(
                        ks,
                        key,
                        self.activation,
                        &mut self.touched,
                        &mut self.changes,
                    );
                    (ks.logic.bind(py).clone(), ks.key.bind(py).clone())
                }
                None => {
                    let key_obj = item_key.to_py(py);
                    self.build_logic(py, now, key, &key_obj, &py.None().into_bound(py))?;
                    self.touch(key);
                    (self.logics[key].logic.bind(py).clone(), key_obj)
                }
            };
            let result = logic.call_method1(on_item, (now, value));
            self.apply(py, key, &key_obj, result, Method::Item, out)?;
        }
        Ok(())
    }

    fn next_wake(&self) -> Option<DateTime<Utc>> {
        self.timers.first()
    }

    fn on_wake(&mut self, py: Python<'_>, now: DateTime<Utc>, out: &Bound<'_, PyList>) -> Step<()> {
        for (key, at) in self.timers.take_due(now) {
            let Some(ks) = self.logics.get_mut(key.as_str()) else {
                continue;
            };
            ks.sched = None;
            let logic = ks.logic.bind(py).clone();
            let key_obj = ks.key.bind(py).clone();
            self.touch(&key);
            let sched =
                to_py(py, at).map_err(|e| self.ctx.stop(py, e, "reading the clock", None))?;
            let result = logic.call_method1(pyo3::intern!(py, "on_notify"), (sched,));
            self.apply(py, &key, &key_obj, result, Method::Notify, out)?;
        }
        Ok(())
    }

    fn on_eof(&mut self, py: Python<'_>, out: &Bound<'_, PyList>) -> Step<()> {
        let mut keys: Vec<String> = self.logics.keys().map(|k| k.to_string()).collect();
        keys.sort_unstable();
        for key in keys {
            let Some(ks) = self.logics.get(key.as_str()) else {
                continue;
            };
            let logic = ks.logic.bind(py).clone();
            let key_obj = ks.key.bind(py).clone();
            self.touch(&key);
            let result = logic.call_method0(pyo3::intern!(py, "on_eof"));
            self.apply(py, &key, &key_obj, result, Method::Eof, out)?;
        }
        Ok(())
    }

    fn has_leftover(&self) -> bool {
        !self.touched.is_empty()
    }

    /// Asks `notify_at` of every key touched in this activation. `None`
    /// clears a key's timer.
    fn finish_activation(&mut self, py: Python<'_>) -> Step<()> {
        self.activation += 1;
        for key in std::mem::take(&mut self.touched) {
            let Some(ks) = self.logics.get(key.as_str()) else {
                continue;
            };
            let at = ks
                .logic
                .bind(py)
                .call_method0(pyo3::intern!(py, "notify_at"))
                .and_then(|r| from_py_opt(&r))
                .map_err(|e| {
                    self.ctx
                        .stop(py, e, "calling `UnaryLogic.notify_at`", Some(&key))
                })?;
            let ks = self
                .logics
                .get_mut(key.as_str())
                .expect("looked up just above");
            self.timers.reschedule(&key, ks.sched, at);
            ks.sched = at;
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
            let state = match self.logics.get(key.as_str()) {
                Some(ks) => Some(
                    ks.logic
                        .bind(py)
                        .call_method0(pyo3::intern!(py, "snapshot"))
                        .and_then(|s| snapshotter.ser(&s))
                        .map_err(|e| {
                            self.ctx
                                .stop(py, e, "calling `UnaryLogic.snapshot`", Some(&key))
                        })?,
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
