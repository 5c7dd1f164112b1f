//! Clocks: what time an item has, and the watermark (the time before which
//! no more items are expected) for one key.
//!
//! The event clock's watermark is the latest event time seen minus the
//! allowed wait, plus the system time passed since that event was seen; it
//! never goes backwards. The system clock's watermark is the current time.
//! At the end of input the watermark jumps to the end of time.

use chrono::{DateTime, TimeDelta, Utc};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use super::config::{EventClockConfig, SystemClockConfig};
use crate::python::time::{delta_from_py, from_py};

/// A clock configuration, checked.
pub enum Clock {
    System,
    Event {
        dt_getter: Py<PyAny>,
        wait: TimeDelta,
    },
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
    pub latest: Option<(DateTime<Utc>, DateTime<Utc>)>,
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
        now: DateTime<Utc>,
    ) -> PyResult<DateTime<Utc>> {
        match clock {
            Clock::System => Ok(now),
            Clock::Event { dt_getter, wait } => {
                let t = from_py(&dt_getter.bind(value.py()).call1((value,))?)?;
                let candidate = t - *wait;
                let current = self.latest.map(|(ev, seen)| ev - *wait + (now - seen));
                if current.is_none_or(|wm| candidate > wm) {
                    self.latest = Some((t, now));
                }
                Ok(t)
            }
        }
    }

    /// The watermark at system time `now`.
    pub fn watermark(&self, clock: &Clock, now: DateTime<Utc>) -> DateTime<Utc> {
        if self.eof {
            return DateTime::<Utc>::MAX_UTC;
        }
        match clock {
            Clock::System => now,
            Clock::Event { wait, .. } => event_watermark(self.latest, *wait, now),
        }
    }

    /// The earliest system time at which the watermark passes `target`
    /// (is strictly later than it), or `None` if it never will on its own.
    pub fn passes_at(&self, clock: &Clock, target: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let tick = TimeDelta::microseconds(1);
        match clock {
            Clock::System => target.checked_add_signed(tick),
            Clock::Event { wait, .. } => {
                let (ev, seen) = self.latest?;
                // ev - wait + (at - seen) > target  <=>  at > seen + target - (ev - wait)
                let lag = target.signed_duration_since(ev.checked_sub_signed(*wait)?);
                seen.checked_add_signed(lag)?.checked_add_signed(tick)
            }
        }
    }
}

/// The event clock's watermark: the latest event time minus the wait, plus
/// the system time passed since that event was seen.
///
/// ```
/// use chrono::{DateTime, TimeDelta, TimeZone, Utc};
/// use bytewax::window::clock::event_watermark;
///
/// let t = |s| Utc.timestamp_opt(s, 0).unwrap();
/// // 100 - 10 + (1005 - 1000)
/// assert_eq!(event_watermark(Some((t(100), t(1000))), TimeDelta::seconds(10), t(1005)), t(95));
/// assert_eq!(event_watermark(None, TimeDelta::zero(), t(5)), DateTime::<Utc>::MIN_UTC);
/// ```
pub fn event_watermark(
    latest: Option<(DateTime<Utc>, DateTime<Utc>)>,
    wait: TimeDelta,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    match latest {
        None => DateTime::<Utc>::MIN_UTC,
        Some((ev, seen)) => ev
            .checked_sub_signed(wait)
            .and_then(|x| x.checked_add_signed(now - seen))
            .unwrap_or(DateTime::<Utc>::MIN_UTC),
    }
}
