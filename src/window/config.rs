//! The window configuration classes users build flows with, and
//! `WindowMetadata`, the description of a window that comes with each
//! window's output. Argument types are checked on construction (a
//! `TypeError`, as in Bytewax 0.18); values, such as a length that must be
//! positive, when the window step is built, so that those errors name the
//! step.

use chrono::{DateTime, Utc};
use pyo3::basic::CompareOp;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDelta, PyTuple};

use crate::flow::type_name;
use crate::python::time::{from_py, to_py};

/// A constructor argument that must be a `timedelta`.
fn timedelta_arg(obj: &Bound<'_, PyAny>, arg: &str) -> PyResult<Py<PyAny>> {
    if obj.cast::<PyDelta>().is_err() {
        return Err(PyTypeError::new_err(format!(
            "argument `{arg}` must be a `datetime.timedelta`; got a `{}`",
            type_name(obj)
        )));
    }
    Ok(obj.clone().unbind())
}

/// A constructor argument that must be a timezone-aware `datetime`.
fn aware_datetime_arg(obj: &Bound<'_, PyAny>, arg: &str) -> PyResult<Py<PyAny>> {
    let py = obj.py();
    from_py(obj).map_err(|err| {
        let msg = format!("argument `{arg}`: {}", err.value(py));
        if err.is_instance_of::<PyTypeError>(py) {
            PyTypeError::new_err(msg)
        } else {
            PyValueError::new_err(msg)
        }
    })?;
    Ok(obj.clone().unbind())
}

/// Base class of clock configurations.
#[pyclass(subclass, module = "bytewax.operators.window", from_py_object)]
#[derive(Clone)]
pub struct ClockConfig;

#[pymethods]
impl ClockConfig {
    #[new]
    fn new() -> Self {
        ClockConfig
    }

    fn __repr__(&self) -> &'static str {
        "ClockConfig()"
    }
}

/// Use the current system time as each item's time.
#[pyclass(extends = ClockConfig, module = "bytewax.operators.window")]
pub struct SystemClockConfig;

#[pymethods]
impl SystemClockConfig {
    #[new]
    fn new() -> PyClassInitializer<Self> {
        PyClassInitializer::from(ClockConfig).add_subclass(SystemClockConfig)
    }

    fn __repr__(&self) -> &'static str {
        "SystemClockConfig()"
    }

    /// Pickles as a call to the class with its arguments (every protocol).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        Ok((
            slf.get_type().into_any(),
            slf.call_method0("__getnewargs__")?,
        ))
    }

    fn __getnewargs__<'py>(&self, py: Python<'py>) -> Bound<'py, PyTuple> {
        PyTuple::empty(py)
    }
}

/// Read each item's time with `dt_getter`, and wait
/// `wait_for_system_duration` of system time for late items before
/// closing windows.
#[pyclass(extends = ClockConfig, module = "bytewax.operators.window")]
pub struct EventClockConfig {
    #[pyo3(get)]
    pub dt_getter: Py<PyAny>,
    #[pyo3(get)]
    pub wait_for_system_duration: Py<PyAny>,
}

#[pymethods]
impl EventClockConfig {
    #[new]
    fn new(
        dt_getter: &Bound<'_, PyAny>,
        wait_for_system_duration: &Bound<'_, PyAny>,
    ) -> PyResult<PyClassInitializer<Self>> {
        if !dt_getter.is_callable() {
            return Err(PyTypeError::new_err(format!(
                "argument `dt_getter` must be callable; got a `{}`",
                type_name(dt_getter)
            )));
        }
        Ok(
            PyClassInitializer::from(ClockConfig).add_subclass(EventClockConfig {
                dt_getter: dt_getter.clone().unbind(),
                wait_for_system_duration: timedelta_arg(
                    wait_for_system_duration,
                    "wait_for_system_duration",
                )?,
            }),
        )
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "EventClockConfig(dt_getter={}, wait_for_system_duration={})",
            self.dt_getter.bind(py).repr()?,
            self.wait_for_system_duration.bind(py).repr()?
        ))
    }

    /// Pickles as a call to the class with its arguments (every protocol).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        Ok((
            slf.get_type().into_any(),
            slf.call_method0("__getnewargs__")?,
        ))
    }

    fn __getnewargs__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(
            py,
            [
                self.dt_getter.clone_ref(py),
                self.wait_for_system_duration.clone_ref(py),
            ],
        )
    }
}

/// Base class of windower configurations.
#[pyclass(subclass, module = "bytewax.operators.window", from_py_object)]
#[derive(Clone)]
pub struct WindowConfig;

#[pymethods]
impl WindowConfig {
    #[new]
    fn new() -> Self {
        WindowConfig
    }

    fn __repr__(&self) -> &'static str {
        "WindowConfig()"
    }
}

/// Back-to-back windows of a fixed `length`, aligned to `align_to`.
#[pyclass(extends = WindowConfig, module = "bytewax.operators.window")]
pub struct TumblingWindow {
    #[pyo3(get)]
    pub length: Py<PyAny>,
    #[pyo3(get)]
    pub align_to: Py<PyAny>,
}

#[pymethods]
impl TumblingWindow {
    #[new]
    fn new(
        length: &Bound<'_, PyAny>,
        align_to: &Bound<'_, PyAny>,
    ) -> PyResult<PyClassInitializer<Self>> {
        Ok(
            PyClassInitializer::from(WindowConfig).add_subclass(TumblingWindow {
                length: timedelta_arg(length, "length")?,
                align_to: aware_datetime_arg(align_to, "align_to")?,
            }),
        )
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "TumblingWindow(length={}, align_to={})",
            self.length.bind(py).repr()?,
            self.align_to.bind(py).repr()?
        ))
    }

    /// Pickles as a call to the class with its arguments (every protocol).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        Ok((
            slf.get_type().into_any(),
            slf.call_method0("__getnewargs__")?,
        ))
    }

    fn __getnewargs__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, [self.length.clone_ref(py), self.align_to.clone_ref(py)])
    }
}

/// Windows of `length` that open every `offset` from `align_to`: they
/// overlap when `offset < length` and leave gaps when `offset > length`.
#[pyclass(extends = WindowConfig, module = "bytewax.operators.window")]
pub struct SlidingWindow {
    #[pyo3(get)]
    pub length: Py<PyAny>,
    #[pyo3(get)]
    pub offset: Py<PyAny>,
    #[pyo3(get)]
    pub align_to: Py<PyAny>,
}

#[pymethods]
impl SlidingWindow {
    #[new]
    fn new(
        length: &Bound<'_, PyAny>,
        offset: &Bound<'_, PyAny>,
        align_to: &Bound<'_, PyAny>,
    ) -> PyResult<PyClassInitializer<Self>> {
        Ok(
            PyClassInitializer::from(WindowConfig).add_subclass(SlidingWindow {
                length: timedelta_arg(length, "length")?,
                offset: timedelta_arg(offset, "offset")?,
                align_to: aware_datetime_arg(align_to, "align_to")?,
            }),
        )
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "SlidingWindow(length={}, offset={}, align_to={})",
            self.length.bind(py).repr()?,
            self.offset.bind(py).repr()?,
            self.align_to.bind(py).repr()?
        ))
    }

    /// Pickles as a call to the class with its arguments (every protocol).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        Ok((
            slf.get_type().into_any(),
            slf.call_method0("__getnewargs__")?,
        ))
    }

    fn __getnewargs__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(
            py,
            [
                self.length.clone_ref(py),
                self.offset.clone_ref(py),
                self.align_to.clone_ref(py),
            ],
        )
    }
}

/// Windows that stay open while items keep arriving less than `gap` apart.
#[pyclass(extends = WindowConfig, module = "bytewax.operators.window")]
pub struct SessionWindow {
    #[pyo3(get)]
    pub gap: Py<PyAny>,
}

#[pymethods]
impl SessionWindow {
    #[new]
    fn new(gap: &Bound<'_, PyAny>) -> PyResult<PyClassInitializer<Self>> {
        Ok(
            PyClassInitializer::from(WindowConfig).add_subclass(SessionWindow {
                gap: timedelta_arg(gap, "gap")?,
            }),
        )
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("SessionWindow(gap={})", self.gap.bind(py).repr()?))
    }

    /// Pickles as a call to the class with its arguments (every protocol).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        Ok((
            slf.get_type().into_any(),
            slf.call_method0("__getnewargs__")?,
        ))
    }

    fn __getnewargs__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, [self.gap.clone_ref(py)])
    }
}

/// When a window opened and closed. Windows order by close time, then open
/// time; two are equal when both times are.
#[pyclass(module = "bytewax.operators.window", frozen, from_py_object)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WindowMetadata {
    // Field order gives the derived ordering: close time first.
    pub close: DateTime<Utc>,
    pub open: DateTime<Utc>,
}

impl WindowMetadata {
    pub fn new(open: DateTime<Utc>, close: DateTime<Utc>) -> Self {
        WindowMetadata { close, open }
    }
}

#[pymethods]
impl WindowMetadata {
    #[new]
    fn py_new(open_time: &Bound<'_, PyAny>, close_time: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(WindowMetadata::new(
            from_py(open_time)?,
            from_py(close_time)?,
        ))
    }

    #[getter]
    fn open_time<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, self.open)
    }

    #[getter]
    fn close_time<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, self.close)
    }

    fn __repr__(&self) -> String {
        format!(
            "WindowMetadata(open_time: {}, close_time: {})",
            self.open, self.close
        )
    }

    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp) -> Py<PyAny> {
        let py = other.py();
        match other.cast::<WindowMetadata>() {
            Ok(other) => {
                let other = other.get();
                op.matches(self.cmp(other))
                    .into_pyobject(py)
                    .unwrap()
                    .to_owned()
                    .into_any()
                    .unbind()
            }
            Err(_) => py.NotImplemented(),
        }
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.hash(&mut hasher);
        hasher.finish()
    }

    /// Pickles as a call to the class with its arguments (every protocol).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        Ok((
            slf.get_type().into_any(),
            slf.call_method0("__getnewargs__")?,
        ))
    }

    fn __getnewargs__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, [to_py(py, self.open)?, to_py(py, self.close)?])
    }
}
