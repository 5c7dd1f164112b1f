//! The state of one key of one step at the close of an epoch.

use serde::{Deserialize, Serialize};

use super::Epoch;

/// A serialised snapshot on its way to a recovery partition. `state` is
/// `None` when the key's state was discarded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub step_id: String,
    pub key: String,
    pub epoch: Epoch,
    pub state: Option<String>,
}

use pyo3::prelude::*;

/// Serialises state objects for snapshots with the run's `Serde` class
/// (`ser(obj) -> str`, `de(s) -> obj`).
#[derive(Clone)]
pub struct Snapshotter {
    serde: std::sync::Arc<Py<PyAny>>,
}

impl Snapshotter {
    pub fn new(serde: Py<PyAny>) -> Self {
        Snapshotter {
            serde: std::sync::Arc::new(serde),
        }
    }

    pub fn ser(&self, state: &Bound<'_, PyAny>) -> PyResult<String> {
        self.serde
            .bind(state.py())
            .call_method1("ser", (state,))?
            .extract()
    }

    pub fn de<'py>(&self, py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
        self.serde.bind(py).call_method1("de", (text,))
    }
}
