//! Clocks: what time an item has, and the watermark (the time before which
//! no more items are expected) for one key. Times are microseconds since
//! the Unix epoch ([`Micros`]); arithmetic saturates at the ends of time.
//!
//! The event clock's watermark is the latest event time seen minus the
//! allowed wait, plus the system time passed since that event was seen; it
//! never goes backwards. The system clock's watermark is the current time.
//! At the end of input the watermark jumps to the end of time.

use chrono::TimeDelta;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use super::config::{EventClockConfig, SystemClockConfig};
use super::{Micros, END_OF_TIME, START_OF_TIME};
use crate::python::time::{delta_from_py, micros_from_py};

/// A clock configuration, checked.
pub enum Clock {
    System,
    Event { dt_getter: Py<PyAny>, wait: Micros },
}

impl Clock {
    /// Reads a `ClockConfig` given to a window step.
    pub fn from_config(cfg: &Bound<'_, PyAny>) -> PyResult<Clock> {
        if cfg.cast::<SystemClockConfig>().is_ok() {
            return Ok(Clock::System);
        }
        if let Ok(event) = cfg.cast::<EventClockConfig>() {
            let event = event.borrow();
            let py = cfg.py();
            let wait = delta_from_py(event.wait_for_system_duration.bind(py)).map_err(|_| {
                PyTypeError::new_err(format!(
                    "`wait_for_system_duration` must be a `datetime.timedelta`; got {}",
                    event
                        .wait_for_system_duration
                        .bind(py)
                        .repr()
                        .map(|r| r.to_string())
                        .unwrap_or_default()
                ))
            })?;
            if wait < TimeDelta::zero() {
                return Err(PyValueError::new_err(
                    "`wait_for_system_duration` must not be negative",
                ));
            }
            let wait = wait
                .num_microseconds()
                .ok_or_else(|| PyValueError::new_err("`wait_for_system_duration` is too long"))?;
            return Ok(Clock::Event {
                dt_getter: event.dt_getter.clone_ref(py),
                wait,
            });
        }
        Err(PyTypeError::new_err(format!(
            "clock must be a `SystemClockConfig` or `EventClockConfig`; got {}",
            cfg.repr().map(|r| r.to_string()).unwrap_or_default()
        )))
    }
}

/// A key's clock state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClockState {
    /// Event clock: the latest event time seen and the system time it was
    /// seen at.
    pub latest: Option<(Micros, Micros)>,
    /// The input has ended.
    pub eof: bool,
}

impl ClockState {
    /// The time of `value`, advancing the watermark with it. `now` is the
    /// system time of this batch.
    pub fn time_for(
        &mut self,
        clock: &Clock,
        value: &Bound<'_, PyAny>,
        now: Micros,
    ) -> PyResult<Micros> {
        match clock {
            Clock::System => Ok(now),
            Clock::Event { dt_getter, wait } => {
                let t = micros_from_py(&dt_getter.bind(value.py()).call1((value,))?)?;
                let candidate = t.saturating_sub(*wait);
                if self
                    .latest
                    .is_none_or(|_| candidate > event_watermark(self.latest, *wait, now))
                {
                    self.latest = Some((t, now));
                }
                Ok(t)
            }
        }
    }

    /// The watermark at system time `now`.
    pub fn watermark(&self, clock: &Clock, now: Micros) -> Micros {
        if self.eof {
            return END_OF_TIME;
        }
        match clock {
            Clock::System => now,
            Clock::Event { wait, .. } => event_watermark(self.latest, *wait, now),
        }
    }

    /// The earliest system time at which the watermark passes `target`
    /// (is strictly later than it), or `None` if it never will on its own.
    pub fn passes_at(&self, clock: &Clock, target: Micros) -> Option<Micros> {
        match clock {
            Clock::System => Some(target.saturating_add(1)),
            Clock::Event { wait, .. } => {
                let (ev, seen) = self.latest?;
                // ev - wait + (at - seen) > target  <=>  at > seen + target - (ev - wait)
                let lag = target.saturating_sub(ev.saturating_sub(*wait));
                Some(seen.saturating_add(lag).saturating_add(1))
            }
        }
    }
}

/// The event clock's watermark: the latest event time minus the wait, plus
/// the system time passed since that event was seen.
///
/// ```
/// use bytewax::window::clock::event_watermark;
/// use bytewax::window::START_OF_TIME;
///
/// // 100 - 10 + (1005 - 1000)
/// assert_eq!(event_watermark(Some((100, 1000)), 10, 1005), 95);
/// assert_eq!(event_watermark(None, 0, 5), START_OF_TIME);
/// ```
pub fn event_watermark(latest: Option<(Micros, Micros)>, wait: Micros, now: Micros) -> Micros {
    match latest {
        None => START_OF_TIME,
        Some((ev, seen)) => ev
            .saturating_sub(wait)
            .saturating_add(now.saturating_sub(seen)),
    }
}
