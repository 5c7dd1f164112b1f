//! `unary`: the generic keyed stateful operator. Items are routed by key
//! to the worker that owns the key's `UnaryLogic`; the logic is built on
//! the key's first item (or from its snapshot), fed `on_item`, woken by
//! `on_notify` at the time `notify_at` asks for, told `on_eof` at the end
//! of input, and snapshotted when an epoch closes.
//!
//! Cost per item does not depend on the number of live keys: logics live
//! in a hash map, timers in an ordered set keyed by time, and per-epoch
//! bookkeeping only visits keys that were touched.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use foldhash::fast::FixedState as FastHash;

use chrono::{DateTime, Utc};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};
use timely::dataflow::channels::pact::DistributorPact;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::Capability;

use super::{PyStream, SnapStream};
use crate::flow::type_name;
use crate::python::time::{from_py_opt, now_py};
use crate::runtime::batch::PyBatch;
use crate::runtime::context::StepCtx;
use crate::runtime::epochs::{Epoch, Snapshot, Snapshotter};
use crate::runtime::routing::{item_key, ByKey, PyDistributor};

/// One live key.
struct KeyState {
    logic: Py<PyAny>,
    key: Py<PyString>,
    /// When the logic asked to be notified.
    sched: Option<DateTime<Utc>>,
    /// Whether the logic's class overrides `notify_at` (if not, it is never
    /// called).
    uses_timers: bool,
    /// Activation in which `notify_at` was last scheduled to be asked.
    touched_in: u64,
    /// Snapshot round in which this key was last marked for a snapshot.
    marked_in: u64,
}

/// Everything the operator keeps between activations.
struct State {
    ctx: StepCtx,
    builder: Py<PyAny>,
    logic_cls: Py<PyAny>,
    notify_at_base: Py<PyAny>,
    snapshotter: Option<Snapshotter>,
    logics: HashMap<String, KeyState, FastHash>,
    timers: BTreeSet<(DateTime<Utc>, String)>,
    /// Keys to ask `notify_at` at the end of this activation.
    touched: Vec<String>,
    activation: u64,
    /// Keys whose state changed since the last snapshot round.
    marked: Vec<String>,
    round: u64,
}

/// Which `UnaryLogic` method a result came from (names are only formatted
/// when something went wrong).
#[derive(Clone, Copy)]
enum Method {
    OnItem,
    OnNotify,
    OnEof,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::OnItem => "on_item",
            Method::OnNotify => "on_notify",
            Method::OnEof => "on_eof",
        }
    }

    fn action(self) -> String {
        format!("calling `UnaryLogic.{}`", self.name())
    }
}

/// Marks a key as touched in this activation (to ask `notify_at`) and in
/// this snapshot round; each list gets a key at most once.
fn mark(
    ks: &mut KeyState,
    key: &str,
    activation: u64,
    round: u64,
    recovering: bool,
    touched: &mut Vec<String>,
    marked: &mut Vec<String>,
) {
    if ks.uses_timers && ks.touched_in != activation {
        ks.touched_in = activation;
        touched.push(key.to_string());
    }
    if recovering && ks.marked_in != round {
        ks.marked_in = round;
        marked.push(key.to_string());
    }
}

/// Why processing stopped early: the failure is already reported.
struct Stop;

type Step<T> = Result<T, Stop>;

pub fn unary<'s>(
    up: PyStream<'s>,
    ctx: StepCtx,
    builder: Py<PyAny>,
    resume: Vec<(String, Py<PyAny>)>,
    resume_epoch: Epoch,
    local: std::ops::Range<usize>,
    snapshotter: Option<Snapshotter>,
) -> (PyStream<'s>, SnapStream<'s>) {
    let scope = up.scope();
    let mut op = OperatorBuilder::new(ctx.step_id.to_string(), scope);
    let pact = DistributorPact({
        let ctx = ctx.clone();
        move |_peers| PyDistributor::new(ByKey, local, ctx)
    });
    let mut input = op.new_input(up, pact);
    let (mut output, down) = op.new_output::<PyBatch>();
    let (mut snap_output, snaps) = op.new_output::<Vec<Snapshot>>();
    let activator = scope.activator_for(op.operator_info().address);

    op.build(move |mut caps| {
        let mut snap_cap: Option<Capability<Epoch>> = caps.pop().map(|c| c.delayed(&resume_epoch));
        let mut cap: Option<Capability<Epoch>> = caps.pop().map(|c| c.delayed(&resume_epoch));
        let mut pending: BTreeMap<Epoch, (Capability<Epoch>, Vec<PyBatch>)> = BTreeMap::new();

        let mut state = Python::attach(|py| State::new(py, ctx.clone(), builder, snapshotter));
        if let Some(st) = state.as_mut() {
            Python::attach(|py| {
                let _ = st.resume(py, resume);
            });
        }

        move |frontiers| {
            let Some(st) = state.as_mut() else {
                input.for_each(|_, _| {});
                return;
            };
            if st.ctx.stopping() {
                input.for_each(|_, _| {});
                cap = None;
                snap_cap = None;
                return;
            }
            let frontier = frontiers[0].frontier().iter().min().copied();
            let mut output = output.activate();
            st.activation += 1;
            let mut result: Step<()> = Ok(());

            // Items of the oldest open epoch are processed at once; later
            // epochs wait, so a snapshot of an epoch never holds effects of
            // the next one. The GIL is taken only when there is work.
            input.for_each_stamp(|time, batches| {
                if result.is_err() {
                    return;
                }
                let epoch = time.least().copied().unwrap_or_default();
                if frontier.is_some_and(|f| epoch > f) {
                    let entry = pending.entry(epoch).or_insert_with(|| {
                        (
                            time.retain_least(0).expect("a message has a time"),
                            Vec::new(),
                        )
                    });
                    entry.1.extend(batches.map(std::mem::take));
                    return;
                }
                result = Python::attach(|py| {
                    let now = now_py(py).map_err(|e| st.fail(py, e, "reading the clock", None))?;
                    let out = PyList::empty(py);
                    for batch in batches {
                        let items = batch
                            .take(py)
                            .map_err(|e| st.fail(py, e, "receiving items", None))?;
                        st.on_items(py, &now, &items, &out)?;
                    }
                    if !out.is_empty() {
                        output.give(&time, &mut PyBatch::from_list(out));
                    }
                    Ok(())
                });
            });

            let ready: Vec<Epoch> = pending
                .keys()
                .copied()
                .filter(|e| frontier.is_none_or(|f| *e <= f))
                .collect();
            let timers_due = st.timers.first().is_some_and(|(at, _)| *at <= Utc::now());
            let at_eof = frontier.is_none() && cap.is_some();
            if result.is_ok()
                && (!ready.is_empty() || timers_due || at_eof || !st.touched.is_empty())
            {
                result = Python::attach(|py| -> Step<()> {
                    let now = now_py(py).map_err(|e| st.fail(py, e, "reading the clock", None))?;
                    for epoch in ready {
                        let (time, batches) = pending.remove(&epoch).unwrap();
                        let out = PyList::empty(py);
                        for mut batch in batches {
                            let items = batch
                                .take(py)
                                .map_err(|e| st.fail(py, e, "receiving items", None))?;
                            st.on_items(py, &now, &items, &out)?;
                        }
                        if !out.is_empty() {
                            output.give(&time, &mut PyBatch::from_list(out));
                        }
                    }
                    if let Some(c) = cap.as_ref() {
                        let out = PyList::empty(py);
                        if timers_due {
                            st.on_due_timers(py, &out)?;
                        }
                        if at_eof {
                            st.on_eof(py, &out)?;
                        }
                        if !out.is_empty() {
                            output.give(c, &mut PyBatch::from_list(out));
                        }
                    }
                    st.ask_notify_at(py)
                });
            }

            // Snapshot and move on when the oldest open epoch closes.
            if result.is_ok() {
                if let Some(c) = cap.as_mut() {
                    let current = *c.time();
                    if frontier.is_none_or(|f| f > current) {
                        let closed = frontier.map_or(current, |f| f - 1);
                        if let Some(sc) = snap_cap.as_ref() {
                            if !st.marked.is_empty() {
                                result = Python::attach(|py| {
                                    let mut snaps = st.snapshots(py, closed)?;
                                    snap_output.give(&sc.delayed(&closed), &mut snaps);
                                    Ok(())
                                });
                            }
                        }
                        match frontier {
                            Some(f) => {
                                c.downgrade(&f);
                                if let Some(sc) = snap_cap.as_mut() {
                                    sc.downgrade(&f);
                                }
                            }
                            None => {
                                cap = None;
                                snap_cap = None;
                            }
                        }
                    }
                }
            }
            if result.is_err() {
                cap = None;
                snap_cap = None;
                return;
            }
            if cap.is_none() {
                // Nothing can be emitted any more, so no timer can fire.
                st.timers.clear();
            } else if let Some((at, _)) = st.timers.first() {
                let delay = (*at - Utc::now()).to_std().unwrap_or_default();
                activator.activate_after(delay);
            }
        }
    });
    (down, snaps)
}

impl State {
    fn new(
        py: Python<'_>,
        ctx: StepCtx,
        builder: Py<PyAny>,
        snapshotter: Option<Snapshotter>,
    ) -> Option<State> {
        let found = py.import("bytewax.operators").and_then(|m| {
            let cls = m.getattr("UnaryLogic")?;
            let base = cls.getattr("notify_at")?;
            Ok((cls.unbind(), base.unbind()))
        });
        match found {
            Ok((logic_cls, notify_at_base)) => Some(State {
                ctx,
                builder,
                logic_cls,
                notify_at_base,
                snapshotter,
                logics: HashMap::default(),
                timers: BTreeSet::new(),
                touched: Vec::new(),
                activation: 0,
                marked: Vec::new(),
                round: 1,
            }),
            Err(err) => {
                ctx.fail(py, err, "loading `bytewax.operators.UnaryLogic`", None);
                None
            }
        }
    }

    fn fail(&self, py: Python<'_>, err: PyErr, action: &str, key: Option<&str>) -> Stop {
        self.ctx.fail(py, err, action, key);
        Stop
    }

    /// Rebuilds logics from their snapshots.
    fn resume(&mut self, py: Python<'_>, resume: Vec<(String, Py<PyAny>)>) -> Step<()> {
        let now = now_py(py).map_err(|e| self.fail(py, e, "reading the clock", None))?;
        for (key, snapshot) in resume {
            let key_obj = PyString::new(py, &key);
            self.build_logic(py, &now, &key, &key_obj, snapshot.bind(py))?;
            self.touch(&key);
        }
        self.ask_notify_at(py)
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
            .map_err(|e| self.fail(py, e, "calling `builder`", Some(key)))?;
        if !logic.is_instance(self.logic_cls.bind(py)).unwrap_or(false) {
            let err = self.ctx.type_error(format!(
                "`builder` must return a `bytewax.operators.UnaryLogic`; got a `{}` instead",
                type_name(&logic)
            ));
            return Err(self.fail(py, err, "calling `builder`", Some(key)));
        }
        let uses_timers = logic
            .get_type()
            .getattr("notify_at")
            .map(|m| !m.is(self.notify_at_base.bind(py)))
            .unwrap_or(true);
        self.logics.insert(
            key.to_string(),
            KeyState {
                logic: logic.unbind(),
                key: key_obj.clone().unbind(),
                sched: None,
                uses_timers,
                touched_in: 0,
                marked_in: 0,
            },
        );
        Ok(())
    }

    /// Remembers that `key` needs `notify_at` asked this activation and a
    /// snapshot at the next epoch close.
    fn touch(&mut self, key: &str) {
        let (activation, round, recovering) =
            (self.activation, self.round, self.snapshotter.is_some());
        if let Some(ks) = self.logics.get_mut(key) {
            mark(
                ks,
                key,
                activation,
                round,
                recovering,
                &mut self.touched,
                &mut self.marked,
            );
        }
    }

    fn on_items(
        &mut self,
        py: Python<'_>,
        now: &Bound<'_, PyAny>,
        items: &Bound<'_, PyList>,
        out: &Bound<'_, PyList>,
    ) -> Step<()> {
        let on_item = pyo3::intern!(py, "on_item");
        let (activation, round, recovering) =
            (self.activation, self.round, self.snapshotter.is_some());
        for item in items.iter() {
            let Some(key_obj) = item_key(&item) else {
                let err = self.ctx.type_error(format!(
                    "a stateful step needs `(key, value)` 2-tuples with `str` keys from upstream; got a `{}` instead{}",
                    type_name(&item),
                    describe_bad_item(&item)
                ));
                return Err(self.fail(py, err, "routing an item by key", None));
            };
            let key = key_obj
                .to_str()
                .map_err(|e| self.fail(py, e, "reading a key", None))?;
            // SAFETY: `item_key` checked it is a 2-tuple.
            let value = unsafe {
                item.cast_unchecked::<PyTuple>()
                    .get_borrowed_item_unchecked(1)
            };
            // One lookup per item: marking the key for `notify_at` and the
            // next snapshot happens before the call, which is equivalent.
            let logic = match self.logics.get_mut(key) {
                Some(ks) => {
                    mark(
                        ks,
                        key,
                        activation,
                        round,
                        recovering,
                        &mut self.touched,
                        &mut self.marked,
                    );
                    ks.logic.bind(py).clone()
                }
                None => {
                    self.build_logic(py, now, key, &key_obj, &py.None().into_bound(py))?;
                    self.touch(key);
                    self.logics[key].logic.bind(py).clone()
                }
            };
            let result = logic.call_method1(on_item, (now, value));
            self.apply(py, key, &key_obj, result, Method::OnItem, out)?;
        }
        Ok(())
    }

    fn on_due_timers(&mut self, py: Python<'_>, out: &Bound<'_, PyList>) -> Step<()> {
        let now = Utc::now();
        let mut due = Vec::new();
        while let Some((at, _)) = self.timers.first() {
            if *at > now {
                break;
            }
            let (at, key) = self.timers.pop_first().unwrap();
            due.push((key, at));
        }
        due.sort();
        for (key, at) in due {
            let Some(ks) = self.logics.get_mut(&key) else {
                continue;
            };
            ks.sched = None;
            let logic = ks.logic.bind(py).clone();
            let key_obj = ks.key.bind(py).clone();
            self.touch(&key);
            let sched = crate::python::time::to_py(py, at)
                .map_err(|e| self.fail(py, e, "reading the clock", None))?;
            let result = logic.call_method1(pyo3::intern!(py, "on_notify"), (sched,));
            self.apply(py, &key, &key_obj, result, Method::OnNotify, out)?;
        }
        Ok(())
    }

    fn on_eof(&mut self, py: Python<'_>, out: &Bound<'_, PyList>) -> Step<()> {
        let mut keys: Vec<String> = self.logics.keys().cloned().collect();
        keys.sort();
        for key in keys {
            let Some(ks) = self.logics.get(&key) else {
                continue;
            };
            let logic = ks.logic.bind(py).clone();
            let key_obj = ks.key.bind(py).clone();
            self.touch(&key);
            let result = logic.call_method0(pyo3::intern!(py, "on_eof"));
            self.apply(py, &key, &key_obj, result, Method::OnEof, out)?;
        }
        Ok(())
    }

    /// Handles what a logic method returned: `(emit, is_complete)`. The key
    /// has already been marked as touched.
    fn apply(
        &mut self,
        py: Python<'_>,
        key: &str,
        key_obj: &Bound<'_, PyString>,
        result: PyResult<Bound<'_, PyAny>>,
        method: Method,
        out: &Bound<'_, PyList>,
    ) -> Step<()> {
        let result = result.map_err(|e| self.fail(py, e, &method.action(), Some(key)))?;
        let Some(pair) = result.cast::<PyTuple>().ok().filter(|t| t.len() == 2) else {
            let err = self.ctx.type_error(format!(
                "`UnaryLogic.{}` must return a 2-tuple `(emit, is_complete)`; got a `{}` instead",
                method.name(),
                type_name(&result)
            ));
            return Err(self.fail(py, err, &method.action(), Some(key)));
        };
        // SAFETY: the length was checked just above.
        let emit = unsafe { pair.get_borrowed_item_unchecked(0) };
        let complete = unsafe { pair.get_borrowed_item_unchecked(1) };
        let complete = if complete.is(&*pyo3::types::PyBool::new(py, true)) {
            true
        } else if complete.is(&*pyo3::types::PyBool::new(py, false)) {
            false
        } else {
            let err = self.ctx.type_error(format!(
                "`is_complete` returned by `UnaryLogic.{}` must be a `bool`; got a `{}` instead",
                method.name(),
                type_name(&complete)
            ));
            return Err(self.fail(py, err, &method.action(), Some(key)));
        };
        self.emit(py, key, key_obj, &emit, method, out)?;
        if complete {
            if let Some(ks) = self.logics.remove(key) {
                if let Some(at) = ks.sched {
                    self.timers.remove(&(at, key.to_string()));
                }
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
            out.append(PyTuple::new(py, [key_obj.as_any().clone(), value])?)
        };
        let pushed = if let Ok(list) = emit.cast::<PyList>() {
            list.iter().try_for_each(push)
        } else if let Ok(tuple) = emit.cast::<PyTuple>() {
            tuple.iter().try_for_each(push)
        } else {
            match emit.try_iter() {
                Ok(iter) => iter.map(|v| v.and_then(push)).collect::<PyResult<()>>(),
                Err(_) => Err(self.ctx.type_error(format!(
                    "`emit` returned by `UnaryLogic.{}` must be an iterable; got a `{}` instead",
                    method.name(),
                    type_name(emit)
                ))),
            }
        };
        pushed.map_err(|e| self.fail(py, e, &method.action(), Some(key)))
    }

    /// Asks `notify_at` of every key touched in this activation.
    fn ask_notify_at(&mut self, py: Python<'_>) -> Step<()> {
        for key in std::mem::take(&mut self.touched) {
            let Some(ks) = self.logics.get(&key) else {
                continue;
            };
            let at = ks
                .logic
                .bind(py)
                .call_method0(pyo3::intern!(py, "notify_at"))
                .and_then(|r| from_py_opt(&r))
                .map_err(|e| self.fail(py, e, "calling `UnaryLogic.notify_at`", Some(&key)))?;
            let ks = self.logics.get_mut(&key).unwrap();
            if ks.sched != at {
                if let Some(old) = ks.sched {
                    self.timers.remove(&(old, key.clone()));
                }
                ks.sched = at;
                if let Some(at) = at {
                    self.timers.insert((at, key));
                }
            }
        }
        Ok(())
    }

    /// Snapshots of every key marked since the last round, at `epoch`.
    fn snapshots(&mut self, py: Python<'_>, epoch: Epoch) -> Step<Vec<Snapshot>> {
        let Some(snapshotter) = self.snapshotter.clone() else {
            return Ok(Vec::new());
        };
        self.round += 1;
        let mut snaps = Vec::with_capacity(self.marked.len());
        for key in std::mem::take(&mut self.marked) {
            let state = match self.logics.get(&key) {
                Some(ks) => {
                    let snap = ks
                        .logic
                        .bind(py)
                        .call_method0(pyo3::intern!(py, "snapshot"))
                        .and_then(|s| snapshotter.ser(&s))
                        .map_err(|e| {
                            self.fail(py, e, "calling `UnaryLogic.snapshot`", Some(&key))
                        })?;
                    Some(snap)
                }
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

/// A hint for the most common mistake: forgetting to key the stream.
fn describe_bad_item(item: &Bound<'_, PyAny>) -> String {
    match item.cast::<PyTuple>() {
        Ok(t) if t.len() == 2 => match t.get_item(0) {
            Ok(k) => format!(" (its key is a `{}`; keys must be `str`)", type_name(&k)),
            Err(_) => String::new(),
        },
        Ok(t) => format!(" (a tuple of {} items)", t.len()),
        Err(_) => "; key the stream first, e.g. with `op.key_on`".to_string(),
    }
}
