//! Recovery: snapshots in SQLite partitions, and resuming from them.
//!
//! [`store`] is one partition file; [`init`] creates a directory of them;
//! [`resume`] decides where a run restarts; [`inspect`] shows it all. The
//! runtime writes snapshots through its epoch machinery
//! (`runtime::epochs::writer`) and loads them before the dataflow starts.

pub mod config;
pub mod init;
pub mod inspect;
pub mod resume;
pub mod store;
use pyo3::exceptions::{PyFileNotFoundError, PyValueError};

pyo3::create_exception!(
    bytewax.recovery,
    InconsistentPartitionsError,
    PyValueError,
    "The recovery partitions do not agree with each other (different partition counts, or some too old to resume without losing data)."
);
pyo3::create_exception!(
    bytewax.recovery,
    MissingPartitionsError,
    PyFileNotFoundError,
    "Some recovery partitions are missing from the recovery directory."
);
pyo3::create_exception!(
    bytewax.recovery,
    NoPartitionsError,
    PyFileNotFoundError,
    "The recovery directory holds no recovery partitions; create them with `bytewax init-db`."
);
