//! Recovery: snapshots in SQLite partitions, and resuming from them.

pub mod config;

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
