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

/// Renders an exception raised while importing the user's module the way
/// `python app.py` would show it: without the import machinery's frames
/// on top, and through Python's own top-level display, which adds hints
/// such as "Did you mean: ...?" that the `traceback` module of 3.11 does
/// not. Only for the import, before any worker runs: the display writes
/// to a `sys.stderr` swapped for a buffer meanwhile.
pub fn format_import_error(py: Python<'_>, err: &PyErr) -> String {
    let rendered = (|| -> PyResult<String> {
        let value = err.value(py);
        let mut tb = match err.traceback(py) {
            Some(tb) => tb.into_any(),
            None => value.getattr("__traceback__")?,
        };
        while !tb.is_none() {
            let file: String = tb
                .getattr("tb_frame")?
                .getattr("f_code")?
                .getattr("co_filename")?
                .extract()?;
            if !file.starts_with("<frozen importlib") {
                break;
            }
            tb = tb.getattr("tb_next")?;
        }
        value.setattr("__traceback__", &tb)?;
        let sys = py.import("sys")?;
        let buffer = py.import("io")?.getattr("StringIO")?.call0()?;
        let stderr = sys.getattr("stderr")?;
        sys.setattr("stderr", &buffer)?;
        let shown = sys
            .getattr("__excepthook__")?
            .call1((value.get_type(), value, &tb));
        sys.setattr("stderr", stderr)?;
        shown?;
        buffer.call_method0("getvalue")?.extract()
    })();
    match rendered {
        Ok(text) if !text.is_empty() => text,
        _ => format_exception(py, err),
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
