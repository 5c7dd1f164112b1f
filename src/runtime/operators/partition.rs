//! A user's source or sink partition object, closed exactly once: at EOF
//! by the operator (errors reported), or when the dataflow is dropped
//! early by an abort or a failure (errors ignored).

use pyo3::prelude::*;

pub struct Partition {
    obj: Option<Py<PyAny>>,
}

impl Partition {
    pub fn new(obj: Py<PyAny>) -> Self {
        Partition { obj: Some(obj) }
    }

    pub fn bind<'py>(&self, py: Python<'py>) -> &Bound<'py, PyAny> {
        self.obj
            .as_ref()
            .expect("partition used after close")
            .bind(py)
    }

    /// Calls `close()` now and reports its error.
    pub fn close(mut self, py: Python<'_>) -> PyResult<()> {
        match self.obj.take() {
            Some(obj) => obj.bind(py).call_method0("close").map(|_| ()),
            None => Ok(()),
        }
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        if let Some(obj) = self.obj.take() {
            Python::attach(|py| {
                let _ = obj.bind(py).call_method0("close");
            });
        }
    }
}
