//! Driving one source partition: polling `next_batch` when it is awake,
//! honouring `next_awake`, closing epochs on time, and noticing EOF and
//! `AbortExecution`. Shared by the fixed and dynamic input operators.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use timely::dataflow::channels::pushers::Output;
use timely::dataflow::operators::Capability;

use super::copy_list;
use super::partition::Partition;
use crate::python::native::AbortExecution;
use crate::python::time::{from_py_opt, to_py};
use crate::runtime::batch::PyBatch;
use crate::runtime::context::StepCtx;
use crate::runtime::epochs::{Epoch, EpochClock, ProbeWatch};
use crate::telemetry::metrics::{timed, Timer};

/// How long to wait before polling again after an empty batch from a
/// partition that gave no `next_awake`.
const EMPTY_BATCH_BACKOFF: Duration = Duration::from_millis(1);

/// What happened to a partition in one activation.
#[derive(Debug, Default)]
pub struct Polled {
    /// The epoch that closed, if one did (snapshot it at this epoch).
    pub closed_epoch: Option<Epoch>,
    /// The partition reached EOF (its epoch has been closed too).
    pub eof: bool,
    /// The partition wants to be polled again at once.
    pub again: bool,
    /// When this partition next needs an activation.
    pub wake_at: Option<Instant>,
}

pub struct SourcePart {
    /// Partition key (fixed sources only), for messages and snapshots.
    pub key: Option<String>,
    pub part: Partition,
    pub cap: Capability<Epoch>,
    clock: EpochClock,
    interval: Duration,
    next_awake: Option<DateTime<Utc>>,
    retry_at: Option<Instant>,
    timer: Option<std::sync::Arc<crate::telemetry::metrics::Histogram>>,
    emitted_in_epoch: bool,
}

impl SourcePart {
    pub fn new(
        py: Python<'_>,
        ctx: &StepCtx,
        key: Option<String>,
        part: Py<PyAny>,
        cap: Capability<Epoch>,
        interval: Duration,
    ) -> Result<Self, (PyErr, String)> {
        let epoch = *cap.time();
        let mut this = SourcePart {
            key,
            part: Partition::new(part),
            cap,
            clock: EpochClock::new(epoch, interval, Instant::now()),
            interval,
            next_awake: None,
            retry_at: None,
            emitted_in_epoch: false,
            timer: ctx.timer(Timer::NextBatch),
        };
        // The first `next_awake` is asked here; its errors name it, not
        // the builder.
        this.next_awake = this
            .ask_next_awake(py, ctx)
            .map_err(|err| (err, this.what("next_awake")))?;
        Ok(this)
    }

    pub fn epoch(&self) -> Epoch {
        self.clock.epoch()
    }

    fn what(&self, method: &str) -> String {
        let class = if self.key.is_some() {
            "StatefulSourcePartition"
        } else {
            "StatelessSourcePartition"
        };
        match &self.key {
            Some(key) => format!("calling `{class}.{method}` for partition {key:?}"),
            None => format!("calling `{class}.{method}`"),
        }
    }

    fn ask_next_awake(&self, py: Python<'_>, ctx: &StepCtx) -> PyResult<Option<DateTime<Utc>>> {
        let _ = ctx;
        let result = self.part.bind(py).call_method0("next_awake")?;
        from_py_opt(&result)
    }

    /// Polls the partition if backpressure and `next_awake` allow, emits
    /// what it returns, and closes the epoch when it is due.
    pub fn poll(
        &mut self,
        py: Python<'_>,
        ctx: &StepCtx,
        probe: &ProbeWatch,
        output: &mut Output<Epoch, PyBatch>,
    ) -> Polled {
        let mut polled = Polled::default();
        let now = Instant::now();
        if !probe.ready_for(self.clock.epoch()) {
            // The waker activates us when earlier epochs have drained.
            return polled;
        }

        let wall = Utc::now();
        let awake =
            self.next_awake.is_none_or(|t| t <= wall) && self.retry_at.is_none_or(|t| t <= now);
        if awake {
            crate::runtime::gil::mark_busy();
            self.retry_at = None;
            let _span = ctx.span();
            let batch = timed(self.timer.as_deref(), || self.next_batch(py));
            match batch {
                Ok(Some(batch)) => {
                    self.emitted_in_epoch = true;
                    polled.again = true;
                    ctx.count_out(batch.len());
                    output
                        .activate()
                        .give(&self.cap, &mut PyBatch::from_list(batch));
                }
                Ok(None) => {}
                Err(err) if err.is_instance_of::<PyStopIteration>(py) => polled.eof = true,
                Err(err) if err.is_instance_of::<AbortExecution>(py) => {
                    ctx.shared.abort();
                    polled.eof = true;
                    return polled;
                }
                Err(err) => {
                    ctx.fail(py, err, &self.what("next_batch"), None);
                    polled.eof = true;
                    return polled;
                }
            }
            if !polled.eof {
                match self.ask_next_awake(py, ctx) {
                    Ok(next) => self.next_awake = next,
                    Err(err) => {
                        ctx.fail(py, err, &self.what("next_awake"), None);
                        polled.eof = true;
                        return polled;
                    }
                }
                if !polled.again && self.next_awake.is_none() {
                    self.retry_at = Some(now + EMPTY_BATCH_BACKOFF);
                }
                if self.next_awake.is_some() {
                    polled.again = false;
                }
            }
        }

        // An epoch closes when its time is up, or at EOF. With an interval
        // of zero, only epochs that carried data close, so an idle source
        // does not spin through empty epochs.
        let due = self.clock.is_due(now) && (!self.interval.is_zero() || self.emitted_in_epoch);
        if polled.eof || due {
            polled.closed_epoch = Some(self.clock.epoch());
            probe.note_epoch(self.clock.epoch());
            tracing::debug!(step_id = %ctx.step_id, worker = ctx.worker, partition = ?self.key, epoch = self.clock.epoch(), "epoch closed");
            self.clock.advance(now);
            self.emitted_in_epoch = false;
            self.cap.downgrade(&self.clock.epoch());
        }

        if !polled.eof {
            let mut wake = if self.interval.is_zero() {
                None
            } else {
                Some(self.clock.deadline())
            };
            if let Some(at) = self.next_awake {
                let delay = (at - Utc::now()).to_std().unwrap_or_default();
                wake = Some(wake.map_or(now + delay, |w| w.min(now + delay)));
            }
            if let Some(at) = self.retry_at {
                wake = Some(wake.map_or(at, |w| w.min(at)));
            }
            polled.wake_at = wake;
        }
        polled
    }

    /// One call to `next_batch`: `Ok(None)` for an empty batch.
    fn next_batch<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Option<Bound<'py, pyo3::types::PyList>>> {
        let sched = match self.next_awake {
            Some(at) => to_py(py, at)?,
            None => py.None().into_bound(py),
        };
        let result = self.part.bind(py).call_method1("next_batch", (sched,))?;
        // Copied: a source may keep and reuse the list it returned.
        let batch = copy_list(&result, "`next_batch`")?;
        Ok((!batch.is_empty()).then_some(batch))
    }

    /// Calls `snapshot()` for the resume state.
    pub fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.part.bind(py).call_method0("snapshot")
    }

    pub fn what_snapshot(&self) -> String {
        self.what("snapshot")
    }
}

/// Schedules the operator's next activation from its partitions' needs.
pub fn schedule(activator: &timely::scheduling::Activator, again: bool, wake_at: Option<Instant>) {
    if again {
        activator.activate();
    } else if let Some(at) = wake_at {
        let delay = at.saturating_duration_since(Instant::now());
        if delay.is_zero() {
            activator.activate();
        } else {
            activator.activate_after(delay);
        }
    }
}
