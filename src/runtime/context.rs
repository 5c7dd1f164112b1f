//! What an operator knows about itself at run time: its step id, its
//! worker, and how to report a failure so the user sees where it happened.

use std::rc::Rc;
use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use super::shared::{Failure, RunShared};
use crate::python::errors::add_note;
use crate::telemetry::metrics::{self, Histogram, StepMetrics, Timer};

/// Processing stopped early; the failure has already been reported.
#[derive(Debug)]
pub struct Stop;

/// The result of a step of work that may have failed and been reported.
pub type Step<T> = Result<T, Stop>;

/// Per-operator context, owned by one worker thread.
#[derive(Clone)]
pub struct StepCtx {
    pub step_id: Rc<str>,
    pub worker: usize,
    pub workers: usize,
    pub shared: Arc<RunShared>,
    /// This step's metrics, when metrics are on.
    pub metrics: Option<Arc<StepMetrics>>,
}

impl StepCtx {
    pub fn new(step_id: &str, worker: usize, workers: usize, shared: Arc<RunShared>) -> Self {
        let metrics = metrics::for_step(step_id, worker);
        StepCtx {
            step_id: Rc::from(step_id),
            worker,
            workers,
            shared,
            metrics,
        }
    }

    /// A span for one activation of this step that does work (free when
    /// tracing is off).
    #[inline]
    pub fn span(&self) -> tracing::span::EnteredSpan {
        tracing::debug_span!("step", step_id = %self.step_id, worker = self.worker).entered()
    }

    #[inline]
    pub fn count_in(&self, n: usize) {
        if let Some(m) = &self.metrics {
            m.items_in(n);
        }
    }

    #[inline]
    pub fn count_out(&self, n: usize) {
        if let Some(m) = &self.metrics {
            m.items_out(n);
        }
    }

    /// The histogram for `timer`, when metrics are on.
    pub fn timer(&self, timer: Timer) -> Option<Arc<Histogram>> {
        self.metrics.as_ref().map(|m| m.timer(timer))
    }

    /// Stops the run with `err`, noting where it was raised: `action` is
    /// what the runtime was doing (e.g. "calling `mapper`").
    pub fn fail(&self, py: Python<'_>, err: PyErr, action: &str, key: Option<&str>) {
        if self.shared.stopping() {
            // A failure elsewhere already stops the run; exceptions raised
            // while stopping are consequences, not news.
            if self.shared.has_failed() {
                return;
            }
        }
        let mut note = format!(
            "while {action} in step '{}' on worker {}",
            self.step_id, self.worker
        );
        if let Some(key) = key {
            note.push_str(&format!(" for key {key:?}"));
        }
        add_note(py, &err, &note);
        self.shared.fail(Failure::User(err));
    }

    /// [`fail`](Self::fail), returning the marker that unwinds the caller.
    pub fn stop(&self, py: Python<'_>, err: PyErr, action: &str, key: Option<&str>) -> Stop {
        self.fail(py, err, action, key);
        Stop
    }

    /// A `TypeError` about a value user code returned, naming this step.
    pub fn type_error(&self, message: impl std::fmt::Display) -> PyErr {
        PyTypeError::new_err(format!("{message} (in step '{}')", self.step_id))
    }

    #[inline]
    pub fn stopping(&self) -> bool {
        self.shared.stopping()
    }
}
