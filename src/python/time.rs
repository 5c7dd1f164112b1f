//! Moving instants and durations between Rust and Python exactly (to the
//! microsecond), accepting any timezone-aware `datetime`.

use chrono::{DateTime, TimeDelta, Utc};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{
    PyDateAccess, PyDateTime, PyDelta, PyDeltaAccess, PyTimeAccess, PyTzInfo, PyTzInfoAccess,
};

/// The current time as a UTC `datetime`.
pub fn now_py(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    to_py(py, Utc::now())
}

/// A UTC instant as an aware `datetime` (tzinfo `timezone.utc`).
pub fn to_py(py: Python<'_>, dt: DateTime<Utc>) -> PyResult<Bound<'_, PyAny>> {
    Ok(dt.into_pyobject(py)?.into_any())
}

/// An aware `datetime` in any timezone as a UTC instant. A naive
/// `datetime` is a `ValueError` that says what to do.
///
/// A `datetime` in `timezone.utc` (the common case, and what the runtime
/// itself hands out) is read field by field without calling into Python.
pub fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<DateTime<Utc>> {
    let py = obj.py();
    let dt = obj.cast::<PyDateTime>().map_err(|_| {
        PyTypeError::new_err(format!(
            "expected a `datetime.datetime`; got a `{}` instead",
            crate::flow::type_name(obj)
        ))
    })?;
    if let Some(tz) = dt.get_tzinfo() {
        if tz.is(&*PyTzInfo::utc(py)?) {
            if let Some(utc) = utc_fields(dt) {
                return Ok(utc);
            }
        }
    }
    if dt.call_method0("utcoffset")?.is_none() {
        return Err(PyValueError::new_err(format!(
            "datetime {} has no timezone; give it one, e.g. `dt.replace(tzinfo=timezone.utc)`",
            dt.repr()?
        )));
    }
    let epoch = epoch_py(py)?;
    let delta = dt.call_method1("__sub__", (epoch,))?;
    let micros = delta_micros(delta.cast::<PyDelta>()?);
    DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(|| {
        PyValueError::new_err(format!(
            "datetime {} is out of range",
            dt.repr().map(|r| r.to_string()).unwrap_or_default()
        ))
    })
}

fn utc_fields(dt: &Bound<'_, PyDateTime>) -> Option<DateTime<Utc>> {
    let date =
        chrono::NaiveDate::from_ymd_opt(dt.get_year(), dt.get_month().into(), dt.get_day().into())?;
    let time = chrono::NaiveTime::from_hms_micro_opt(
        dt.get_hour().into(),
        dt.get_minute().into(),
        dt.get_second().into(),
        dt.get_microsecond(),
    )?;
    Some(date.and_time(time).and_utc())
}

/// An optional aware `datetime` (`None` stays `None`).
pub fn from_py_opt(obj: &Bound<'_, PyAny>) -> PyResult<Option<DateTime<Utc>>> {
    if obj.is_none() {
        Ok(None)
    } else {
        from_py(obj).map(Some)
    }
}

fn epoch_py(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    to_py(py, DateTime::<Utc>::UNIX_EPOCH)
}

fn delta_micros(delta: &Bound<'_, PyDelta>) -> i64 {
    delta.get_days() as i64 * 86_400_000_000
        + delta.get_seconds() as i64 * 1_000_000
        + delta.get_microseconds() as i64
}

/// A `timedelta` as a chrono duration, exactly.
pub fn delta_from_py(obj: &Bound<'_, PyAny>) -> PyResult<TimeDelta> {
    let delta = obj.cast::<PyDelta>().map_err(|_| {
        PyTypeError::new_err(format!(
            "expected a `datetime.timedelta`; got a `{}` instead",
            crate::flow::type_name(obj)
        ))
    })?;
    Ok(TimeDelta::microseconds(delta_micros(delta)))
}

/// A chrono duration as a `timedelta`.
pub fn delta_to_py(py: Python<'_>, delta: TimeDelta) -> PyResult<Bound<'_, PyAny>> {
    Ok(delta.into_pyobject(py)?.into_any())
}

/// A `timedelta` that must not be negative, as a std duration.
pub fn std_duration_from_py(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<std::time::Duration> {
    let delta = delta_from_py(obj).map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be a `datetime.timedelta`; got a `{}` instead",
            crate::flow::type_name(obj)
        ))
    })?;
    delta
        .to_std()
        .map_err(|_| PyValueError::new_err(format!("{what} must not be negative")))
}
