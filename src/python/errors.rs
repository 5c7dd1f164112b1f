//! Python exceptions as users see them: tracebacks rendered once, and notes
//! that say which step, worker and key an exception came from.

use pyo3::prelude::*;
use pyo3::types::PyList;

/// Renders an exception the way Python's top level would, traceback and
/// notes included.
pub fn format_exception(py: Python<'_>, err: &PyErr) -> String {
    let rendered = py
        .import("traceback")
        .and_then(|tb| {
            let value = err.value(py);
            // The traceback lives beside the value until it is attached.
            if let Some(traceback) = err.traceback(py) {
                if value.getattr("__traceback__").is_ok_and(|t| t.is_none()) {
                    value.setattr("__traceback__", traceback)?;
                }
            }
            tb.getattr("format_exception")?.call1((value,))
        })
        .and_then(|lines| {
            let lines = lines.cast_into::<PyList>()?;
            let mut out = String::new();
            for line in lines.iter() {
                out.push_str(&line.extract::<String>()?);
            }
            Ok(out)
        });
    match rendered {
        Ok(text) => text,
        Err(_) => format!("{err}\n"),
    }
}

/// Adds a note (PEP 678) to an exception, so the original type and message
/// survive while the rendered traceback says where it happened.
pub fn add_note(py: Python<'_>, err: &PyErr, note: &str) {
    let value = err.value(py);
    if value.call_method1("add_note", (note,)).is_err() {
        // Not a BaseException that supports notes (should not happen on
        // 3.11+); fall back to the attribute the traceback module reads.
        let _ = value.setattr("__notes__", PyList::new(py, [note]).ok());
    }
}

/// Whether an exception is an instance of the named builtin type.
pub fn is_instance_of_name(py: Python<'_>, err: &PyErr, module: &str, name: &str) -> bool {
    py.import(module)
        .and_then(|m| m.getattr(name))
        .map(|ty| err.value(py).is_instance(&ty).unwrap_or(false))
        .unwrap_or(false)
}
