//! The `bytewax` Python package compiled into the binary, and the import
//! hook that serves it (with the native `bytewax.bytewax`) to Python.

use std::ffi::CString;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};

/// One `.py` file of the embedded package.
pub struct EmbeddedModule {
    /// Dotted module name, e.g. `bytewax.operators.window`.
    pub name: &'static str,
    /// Path below `src/`, e.g. `bytewax/operators/window.py`.
    pub path: &'static str,
    /// Whether this is a package's `__init__.py`.
    pub is_package: bool,
    pub source: &'static str,
    /// The module's code object, marshalled by the build interpreter
    /// (empty when the build could not make it).
    pub code: &'static [u8],
}

/// Every module of the embedded package, sorted by name.
pub static MODULES: &[EmbeddedModule] = include!(concat!(env!("OUT_DIR"), "/embedded_python.rs"));

/// `importlib.util.MAGIC_NUMBER` of the interpreter that made `code`.
static BUILD_MAGIC: &[u8] = include!(concat!(env!("OUT_DIR"), "/embedded_magic.rs"));

const IMPORTER: &str = include_str!("embedded_importer.py");

/// Installs the import hook on `sys.meta_path` (once per interpreter).
pub fn install(py: Python<'_>) -> PyResult<()> {
    let table = PyDict::new(py);
    for module in MODULES {
        let entry = PyTuple::new(
            py,
            [
                module.is_package.into_pyobject(py)?.to_owned().into_any(),
                module.path.into_pyobject(py)?.into_any(),
                module.source.into_pyobject(py)?.into_any(),
                PyBytes::new(py, module.code).into_any(),
            ],
        )?;
        table.set_item(module.name, entry)?;
    }
    let native = super::native::module(py)?;
    let code = CString::new(IMPORTER).expect("importer source has no NUL");
    let importer = PyModule::from_code(py, &code, c"<bytewax-importer>", c"_bytewax_importer")?;
    importer
        .getattr("install")?
        .call1((table, native, PyBytes::new(py, BUILD_MAGIC)))?;
    warn_if_shadowed(py);
    Ok(())
}

/// A `bytewax` installed with pip (for example the reference wheel) is
/// never imported; say so once, since its version may confuse the user.
fn warn_if_shadowed(py: Python<'_>) {
    let found = py
        .import("importlib.machinery")
        .and_then(|m| {
            m.getattr("PathFinder")?
                .call_method1("find_spec", ("bytewax",))
        })
        .ok()
        .filter(|spec| !spec.is_none());
    if let Some(spec) = found {
        let origin = spec
            .getattr("origin")
            .and_then(|o| o.extract::<String>())
            .unwrap_or_else(|_| "site-packages".into());
        tracing::warn!(
            "a `bytewax` package is also installed at {origin}; the one built into this binary is used instead"
        );
    }
}
