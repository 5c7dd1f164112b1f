//! Windowing: clocks that give items a time and keys a watermark, and
//! windowers that group times into tumbling, sliding and session windows.
//! The fold over each window's values runs in the `fold_window` operator.

pub mod clock;
pub mod config;
pub mod session;
pub mod sliding;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::python::time::{delta_from_py, from_py};
use config::{SessionWindow, SlidingWindow, TumblingWindow};
use sliding::Sliding;

/// Microseconds since the Unix epoch: times in window arithmetic.
pub type Micros = i64;
/// Before every possible item (the watermark of a clock that saw nothing).
pub const START_OF_TIME: Micros = i64::MIN;
/// After every possible item (the watermark at the end of input).
pub const END_OF_TIME: Micros = i64::MAX;

/// A windower configuration, checked.
pub enum Windower {
    Sliding(Sliding),
    Session { gap: Micros },
}

impl Windower {
    /// Reads a `WindowConfig` given to a window step.
    pub fn from_config(cfg: &Bound<'_, PyAny>) -> PyResult<Windower> {
        let py = cfg.py();
        let delta = |obj: &Py<PyAny>, what: &str| {
            delta_from_py(obj.bind(py)).map_err(|_| {
                PyTypeError::new_err(format!(
                    "`{what}` must be a `datetime.timedelta`; got {}",
                    obj.bind(py)
                        .repr()
                        .map(|r| r.to_string())
                        .unwrap_or_default()
                ))
            })
        };
        // A wrong type or a naive datetime stays a `TypeError`, a datetime
        // out of range a `ValueError`.
        let align = |obj: &Py<PyAny>| {
            from_py(obj.bind(py)).map_err(|e| {
                let msg = format!(
                    "`align_to` must be a timezone-aware `datetime`: {}",
                    e.value(py)
                );
                if e.is_instance_of::<PyTypeError>(py) {
                    PyTypeError::new_err(msg)
                } else {
                    PyValueError::new_err(msg)
                }
            })
        };
        if let Ok(w) = cfg.cast::<TumblingWindow>() {
            let w = w.borrow();
            let length = delta(&w.length, "length")?;
            let shape =
                Sliding::new(length, length, align(&w.align_to)?).map_err(PyValueError::new_err)?;
            return Ok(Windower::Sliding(shape));
        }
        if let Ok(w) = cfg.cast::<SlidingWindow>() {
            let w = w.borrow();
            let shape = Sliding::new(
                delta(&w.length, "length")?,
                delta(&w.offset, "offset")?,
                align(&w.align_to)?,
            )
            .map_err(PyValueError::new_err)?;
            return Ok(Windower::Sliding(shape));
        }
        if let Ok(w) = cfg.cast::<SessionWindow>() {
            let w = w.borrow();
            let gap = session::check_gap(delta(&w.gap, "gap")?).map_err(PyValueError::new_err)?;
            return Ok(Windower::Session { gap });
        }
        Err(PyTypeError::new_err(format!(
            "windower must be a `TumblingWindow`, `SlidingWindow` or `SessionWindow`; got {}",
            cfg.repr().map(|r| r.to_string()).unwrap_or_default()
        )))
    }
}
