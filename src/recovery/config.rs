//! `RecoveryConfig`: where the recovery partitions are, how long old
//! snapshots are kept, and which serde writes snapshots.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

/// Configuration for recovery: `db_dir` holds the partitions made by
/// `bytewax init-db` (or `init_db_dir`); snapshots older than
/// `backup_interval` are deleted; `snapshot_serde` (a `bytewax.serde.Serde`
/// subclass) turns state into text.
#[pyclass(module = "bytewax.recovery")]
pub struct RecoveryConfig {
    #[pyo3(get)]
    pub db_dir: Py<PyAny>,
    #[pyo3(get)]
    pub backup_interval: Py<PyAny>,
    #[pyo3(get)]
    pub snapshot_serde: Py<PyAny>,
}

#[pymethods]
impl RecoveryConfig {
    #[new]
    #[pyo3(signature = (db_dir, backup_interval=None, snapshot_serde=None))]
    fn new(
        py: Python<'_>,
        db_dir: &Bound<'_, PyAny>,
        backup_interval: Option<&Bound<'_, PyAny>>,
        snapshot_serde: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let pathlib = py.import("pathlib")?;
        let db_dir = pathlib.getattr("Path")?.call1((db_dir,))?;
        let backup_interval = match backup_interval {
            Some(b) if !b.is_none() => {
                crate::python::time::delta_from_py(b).map_err(|_| {
                    PyTypeError::new_err("backup interval must be a `datetime.timedelta`")
                })?;
                b.clone()
            }
            _ => py.import("datetime")?.getattr("timedelta")?.call0()?,
        };
        let serde_mod = py.import("bytewax.serde")?;
        let snapshot_serde = match snapshot_serde {
            Some(s) if !s.is_none() => {
                let base = serde_mod.getattr("Serde")?;
                let is_class = s.is_instance_of::<pyo3::types::PyType>();
                if !is_class || !s.cast::<pyo3::types::PyType>()?.is_subclass(&base)? {
                    return Err(PyTypeError::new_err(format!(
                        "snapshot_serde must be a subclass of `bytewax.serde.Serde` (the class itself); got {}",
                        s.repr()?
                    )));
                }
                s.clone()
            }
            _ => serde_mod.getattr("JsonPickleSerde")?,
        };
        Ok(RecoveryConfig {
            db_dir: db_dir.unbind(),
            backup_interval: backup_interval.unbind(),
            snapshot_serde: snapshot_serde.unbind(),
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "RecoveryConfig(db_dir={}, backup_interval={}, snapshot_serde={})",
            self.db_dir.bind(py).repr()?,
            self.backup_interval.bind(py).repr()?,
            self.snapshot_serde.bind(py).repr()?
        ))
    }
}
