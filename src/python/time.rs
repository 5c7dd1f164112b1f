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
/// `datetime` is a `TypeError` (as in Bytewax 0.18) that says what to do.
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
        return Err(PyTypeError::new_err(format!(
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

/// An aware `datetime` as whole microseconds since the Unix epoch: the
/// representation window arithmetic uses.
pub fn micros_from_py(obj: &Bound<'_, PyAny>) -> PyResult<i64> {
    let py = obj.py();
    if let Ok(dt) = obj.cast::<PyDateTime>() {
        if let Some(tz) = dt.get_tzinfo() {
            if tz.is(&*PyTzInfo::utc(py)?) {
                let days = days_from_civil(
                    dt.get_year() as i64,
                    dt.get_month() as i64,
                    dt.get_day() as i64,
                );
                let secs = days * 86_400
                    + dt.get_hour() as i64 * 3_600
                    + dt.get_minute() as i64 * 60
                    + dt.get_second() as i64;
                return Ok(secs * 1_000_000 + dt.get_microsecond() as i64);
            }
        }
    }
    Ok(from_py(obj)?.timestamp_micros())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
///
/// ```
/// use bytewax::python::time::days_from_civil;
/// assert_eq!(days_from_civil(1970, 1, 1), 0);
/// assert_eq!(days_from_civil(2000, 3, 1), 11_017);
/// assert_eq!(days_from_civil(1969, 12, 31), -1);
/// ```
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Microseconds since the epoch as a UTC instant (saturating at the ends
/// of chrono's range).
pub fn micros_to_utc(us: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(us).unwrap_or(if us < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
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
