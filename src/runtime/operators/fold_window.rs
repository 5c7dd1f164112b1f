//! `fold_window`: per key, give each item a time with the clock, put it in
//! its windows, fold it into each window's accumulator with the user's
//! `builder`/`folder`, and emit `(key, (WindowMetadata, acc))` as each
//! window closes (at the latest at the end of input).
//!
//! Sliding and tumbling windows fold as items arrive. Session windows keep
//! their values and fold when they close, so sessions merged by a late
//! bridging item lose nothing. Items too late for any open window are
//! dropped, counted, and logged at DEBUG.

use chrono::{DateTime, Utc};

use crate::python::time::{micros_from_py, micros_to_utc};
use crate::window::{Micros, END_OF_TIME};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use super::{PyStream, SnapStream};
use crate::python::time::to_py;
use crate::runtime::context::{Step, StepCtx};
use crate::runtime::epochs::stateful::{stateful, StatefulLogic};
use crate::runtime::epochs::{Changes, Epoch, KeyMap, Snapshot, Snapshotter, Timers};
use crate::runtime::keyed_batch::{pair_for, KeyedItems};
use crate::telemetry::metrics::Timer;
use crate::window::clock::{Clock, ClockState};
use crate::window::config::WindowMetadata;
use crate::window::session::Sessions;
use crate::window::sliding::SlidingWindows;
use crate::window::Windower;

/// The user's fold over one window.
pub struct Fold {
    pub builder: Py<PyAny>,
    pub folder: Py<PyAny>,
}

#[allow(clippy::too_many_arguments)]
pub fn fold_window<'s>(
    up: PyStream<'s>,
    ctx: StepCtx,
    clock: Py<PyAny>,
    windower: Py<PyAny>,
    fold: Fold,
    resume: Vec<(String, Py<PyAny>)>,
    resume_epoch: Epoch,
    local: std::ops::Range<usize>,
    snapshotter: Option<Snapshotter>,
) -> (PyStream<'s>, SnapStream<'s>) {
    let logic_ctx = ctx.clone();
    stateful(
        up,
        ctx,
        resume_epoch,
        local,
        Timer::WindowItems,
        move |py| {
            let config = Clock::from_config(clock.bind(py))
                .and_then(|c| Ok((c, Windower::from_config(windower.bind(py))?)));
            let (clock, windower) = match config {
                Ok(config) => config,
                Err(err) => {
                    logic_ctx.fail(py, err, "reading the window configuration", None);
                    return None;
                }
            };
            let mut state = WindowState {
                ctx: logic_ctx,
                clock,
                windower,
                fold,
                changes: Changes::new(snapshotter.is_some()),
                snapshotter,
                keys: KeyMap::default(),
                timers: Timers::default(),
                seq: 0,
                late: 0,
                queued: Vec::new(),
                activation: 1,
            };
            state.resume(py, resume).ok()?;
            Some(state)
        },
    )
}

/// A key's open windows.
enum Open {
    Sliding(SlidingWindows<Py<PyAny>>),
    Session(Sessions<Py<PyAny>>),
}

struct KeyWindows {
    key: Py<PyString>,
    clock: ClockState,
    open: Open,
    /// When this key's timer is set for.
    wake: Option<DateTime<Utc>>,
    changed_in: u64,
    /// Activation in which the key was queued for a timer update.
    queued_in: u64,
}

impl KeyWindows {
    fn is_empty(&self) -> bool {
        match &self.open {
            Open::Sliding(w) => w.open.is_empty(),
            Open::Session(s) => s.is_empty(),
        }
    }
}

struct WindowState {
    ctx: StepCtx,
    clock: Clock,
    windower: Windower,
    fold: Fold,
    snapshotter: Option<Snapshotter>,
    keys: KeyMap<KeyWindows>,
    timers: Timers,
    changes: Changes,
    /// Arrival number of the next value (orders a merged session's values).
    seq: u64,
    /// Items dropped because every window they belong to had closed.
    late: u64,
    /// Keys whose timer must be recomputed at the end of this activation
    /// (once, not after every item).
    queued: Vec<String>,
    activation: u64,
}

impl WindowState {
    fn new_key(&self, key_obj: &Bound<'_, PyString>) -> KeyWindows {
        KeyWindows {
            key: key_obj.clone().unbind(),
            clock: ClockState::default(),
            open: match self.windower {
                Windower::Sliding(_) => Open::Sliding(SlidingWindows::default()),
                Windower::Session { .. } => Open::Session(Sessions::default()),
            },
            wake: None,
            changed_in: 0,
            queued_in: 0,
        }
    }

    /// Folds `value` into every window of `t`; `false` if all were closed.
    fn insert(
        &mut self,
        py: Python<'_>,
        key: &str,
        t: Micros,
        watermark: Micros,
        value: &Bound<'_, PyAny>,
    ) -> Step<bool> {
        let kw = self.keys.get_mut(key).expect("key was just looked up");
        match (&self.windower, &mut kw.open) {
            (Windower::Sliding(shape), Open::Sliding(windows)) => {
                let mut placed = false;
                for i in shape.indices(t) {
                    if shape.is_closed(i, watermark) {
                        continue;
                    }
                    placed = true;
                    let acc =
                        match windows.open.remove(&i) {
                            Some(acc) => acc.into_bound(py),
                            None => self.fold.builder.bind(py).call0().map_err(|e| {
                                self.ctx.stop(py, e, "calling `builder`", Some(key))
                            })?,
                        };
                    let acc = self
                        .fold
                        .folder
                        .bind(py)
                        .call1((acc, value))
                        .map_err(|e| self.ctx.stop(py, e, "calling `folder`", Some(key)))?;
                    windows.open.insert(i, acc.unbind());
                }
                // A time in the gap between windows belongs to none; that
                // is not lateness.
                Ok(placed || shape.indices(t).is_empty())
            }
            (Windower::Session { gap }, Open::Session(sessions)) => {
                self.seq += 1;
                Ok(sessions
                    .insert(*gap, t, self.seq, value.clone().unbind(), watermark)
                    .is_ok())
            }
            _ => unreachable!("a key's windows match the windower"),
        }
    }

    /// Emits the windows of `key` closed at `watermark`, then resets its
    /// timer, or forgets the key when it has no open window left.
    fn close_windows(
        &mut self,
        py: Python<'_>,
        key: &str,
        watermark: Micros,
        out: &Bound<'_, PyList>,
    ) -> Step<()> {
        let Some(kw) = self.keys.get_mut(key) else {
            return Ok(());
        };
        let key_obj = kw.key.bind(py).clone();
        let mut closed: Vec<(WindowMetadata, Bound<'_, PyAny>)> = Vec::new();
        match (&self.windower, &mut kw.open) {
            (Windower::Sliding(shape), Open::Sliding(windows)) => {
                for (i, acc) in windows.drain_closed(shape, watermark) {
                    let (open, close) = shape.bounds(i);
                    closed.push((
                        WindowMetadata::new(micros_to_utc(open), micros_to_utc(close)),
                        acc.into_bound(py),
                    ));
                }
            }
            (Windower::Session { gap }, Open::Session(sessions)) => {
                for session in sessions.drain_closed(*gap, watermark) {
                    let mut acc = self
                        .fold
                        .builder
                        .bind(py)
                        .call0()
                        .map_err(|e| self.ctx.stop(py, e, "calling `builder`", Some(key)))?;
                    for (_, value) in session.values {
                        acc = self
                            .fold
                            .folder
                            .bind(py)
                            .call1((acc, value))
                            .map_err(|e| self.ctx.stop(py, e, "calling `folder`", Some(key)))?;
                    }
                    // As in Bytewax 0.18, a session's close time is its
                    // latest item's time.
                    closed.push((
                        WindowMetadata::new(
                            micros_to_utc(session.start),
                            micros_to_utc(session.latest),
                        ),
                        acc,
                    ));
                }
            }
            _ => unreachable!("a key's windows match the windower"),
        }
        for (meta, acc) in closed {
            let meta = Bound::new(py, meta)
                .map_err(|e| self.ctx.stop(py, e, "emitting a window", Some(key)))?;
            pair_for(out, meta.into_any(), acc)
                .and_then(|inner| pair_for(out, key_obj.as_any().clone(), inner.into_any()))
                .and_then(|item| out.append(item))
                .map_err(|e| self.ctx.stop(py, e, "emitting a window", Some(key)))?;
        }
        if let Some(kw) = self.keys.get_mut(key) {
            if kw.queued_in != self.activation {
                kw.queued_in = self.activation;
                self.queued.push(key.to_string());
            }
        }
        Ok(())
    }

    /// Points `key`'s timer at the system time its next window closes, or
    /// drops the key if nothing is open.
    fn reschedule(&mut self, key: &str) {
        let Some(kw) = self.keys.get_mut(key) else {
            return;
        };
        let target = match (&self.windower, &kw.open) {
            (Windower::Sliding(shape), Open::Sliding(windows)) => windows.next_close(shape),
            (Windower::Session { gap }, Open::Session(sessions)) => sessions.next_close(*gap),
            _ => None,
        };
        let wake = target
            .and_then(|t| kw.clock.passes_at(&self.clock, t))
            .map(micros_to_utc);
        self.timers.reschedule(key, kw.wake, wake);
        kw.wake = wake;
        // As in Bytewax 0.18, a key with no open window is forgotten,
        // clock included.
        if kw.is_empty() {
            self.keys.remove(key);
            self.changes.mark_gone(key);
        }
    }

    fn resume(&mut self, py: Python<'_>, resume: Vec<(String, Py<PyAny>)>) -> Step<()> {
        for (key, state) in resume {
            let key_obj = PyString::new(py, &key);
            let mut kw = self.new_key(&key_obj);
            restore(&mut kw, state.bind(py), &mut self.seq)
                .map_err(|e| self.ctx.stop(py, e, "loading a snapshot", Some(&key)))?;
            self.keys.insert(key.as_str().into(), kw);
            self.reschedule(&key);
        }
        Ok(())
    }
}

impl StatefulLogic for WindowState {
    fn on_items(
        &mut self,
        py: Python<'_>,
        items: &KeyedItems<'_>,
        out: &Bound<'_, PyList>,
    ) -> Step<()> {
        let now = Utc::now().timestamp_micros();
        for item in items.iter() {
            let (item_key, value) = item.map_err(|bad| bad.stop(&self.ctx, py))?;
            let key = item_key.as_str();
            if !self.keys.contains_key(key) {
                let kw = self.new_key(&item_key.to_py(py));
                self.keys.insert(key.into(), kw);
            }
            let kw = self.keys.get_mut(key).expect("inserted just above");
            let t = kw
                .clock
                .time_for(&self.clock, &value, now)
                .map_err(|e| self.ctx.stop(py, e, "calling `dt_getter`", Some(key)))?;
            let watermark = kw.clock.watermark(&self.clock, now);
            self.changes.mark(&mut kw.changed_in, key);
            if !self.insert(py, key, t, watermark, &value)? {
                self.late += 1;
                if let Some(m) = &self.ctx.metrics {
                    m.late_items(1);
                }
                tracing::debug!(
                    step_id = %self.ctx.step_id,
                    key,
                    time = %micros_to_utc(t),
                    watermark = %micros_to_utc(watermark),
                    "dropped a late item"
                );
            }
            self.close_windows(py, key, watermark, out)?;
        }
        Ok(())
    }

    fn next_wake(&self) -> Option<DateTime<Utc>> {
        self.timers.first()
    }

    fn on_wake(&mut self, py: Python<'_>, now: DateTime<Utc>, out: &Bound<'_, PyList>) -> Step<()> {
        for (key, _) in self.timers.take_due(now) {
            let Some(kw) = self.keys.get_mut(key.as_str()) else {
                continue;
            };
            kw.wake = None;
            self.changes.mark(&mut kw.changed_in, &key);
            let watermark = kw.clock.watermark(&self.clock, now.timestamp_micros());
            self.close_windows(py, &key, watermark, out)?;
        }
        Ok(())
    }

    fn on_eof(&mut self, py: Python<'_>, out: &Bound<'_, PyList>) -> Step<()> {
        let mut keys: Vec<String> = self.keys.keys().map(|k| k.to_string()).collect();
        keys.sort_unstable();
        for key in keys {
            let kw = self.keys.get_mut(key.as_str()).expect("listed just above");
            kw.clock.eof = true;
            self.close_windows(py, &key, END_OF_TIME, out)?;
        }
        Ok(())
    }

    fn has_leftover(&self) -> bool {
        !self.queued.is_empty()
    }

    fn finish_activation(&mut self, _py: Python<'_>) -> Step<()> {
        self.activation += 1;
        for key in std::mem::take(&mut self.queued) {
            self.reschedule(&key);
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
            let state = match self.keys.get(key.as_str()) {
                Some(kw) => Some(
                    snapshot(py, kw)
                        .and_then(|s| snapshotter.ser(&s))
                        .map_err(|e| self.ctx.stop(py, e, "snapshotting windows", Some(&key)))?,
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

/// A key's windows as plain Python data: `{"clock": (event, seen) | None,
/// "windows": [(index, acc)], "sessions": [(start, latest, [(seq, value)])]}`.
fn snapshot<'py>(py: Python<'py>, kw: &KeyWindows) -> PyResult<Bound<'py, PyAny>> {
    let dict = PyDict::new(py);
    match kw.clock.latest {
        Some((ev, seen)) => dict.set_item(
            "clock",
            (
                to_py(py, micros_to_utc(ev))?,
                to_py(py, micros_to_utc(seen))?,
            ),
        )?,
        None => dict.set_item("clock", py.None())?,
    }
    match &kw.open {
        Open::Sliding(windows) => {
            let list = PyList::empty(py);
            for (i, acc) in &windows.open {
                list.append((*i, acc.clone_ref(py)))?;
            }
            dict.set_item("windows", list)?;
        }
        Open::Session(sessions) => {
            let list = PyList::empty(py);
            for s in &sessions.sessions {
                let values = PyList::empty(py);
                for (seq, v) in &s.values {
                    values.append((*seq, v.clone_ref(py)))?;
                }
                list.append((
                    to_py(py, micros_to_utc(s.start))?,
                    to_py(py, micros_to_utc(s.latest))?,
                    values,
                ))?;
            }
            dict.set_item("sessions", list)?;
        }
    }
    Ok(dict.into_any())
}

/// A snapshotted session: start, latest item, and `(arrival, value)`s.
type SessionRow<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, Vec<(u64, Py<PyAny>)>);

fn restore(kw: &mut KeyWindows, state: &Bound<'_, PyAny>, seq: &mut u64) -> PyResult<()> {
    let clock = state.get_item("clock")?;
    if !clock.is_none() {
        let (ev, seen): (Bound<'_, PyAny>, Bound<'_, PyAny>) = clock.extract()?;
        kw.clock.latest = Some((micros_from_py(&ev)?, micros_from_py(&seen)?));
    }
    match &mut kw.open {
        Open::Sliding(windows) => {
            for entry in state.get_item("windows")?.try_iter()? {
                let (i, acc): (i64, Py<PyAny>) = entry?.extract()?;
                windows.open.insert(i, acc);
            }
        }
        Open::Session(sessions) => {
            for entry in state.get_item("sessions")?.try_iter()? {
                let (start, latest, values): SessionRow<'_> = entry?.extract()?;
                *seq = (*seq).max(values.iter().map(|(s, _)| *s).max().unwrap_or(0));
                sessions.sessions.push(crate::window::session::Session {
                    start: micros_from_py(&start)?,
                    latest: micros_from_py(&latest)?,
                    values,
                });
            }
        }
    }
    Ok(())
}
