//! Resolving `module_or_file[:attr_or_factory(args)]` to a `Dataflow`, the
//! way `python -m bytewax.run` does, with one clear paragraph per mistake.

use std::path::{Path, PathBuf};

use pyo3::exceptions::{PyModuleNotFoundError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use super::errors::format_import_error;

/// Why an import string did not give a dataflow.
#[derive(Debug)]
pub enum LocateError {
    /// The string points at nothing usable: exit code 2.
    Usage(String),
    /// The user's module (or factory) raised while running: exit code 1,
    /// with its traceback already rendered.
    Raised(String),
    /// Ctrl-C while the module was importing.
    Interrupted,
    /// The module called `sys.exit`: exit with this code, after printing
    /// the message if there is one.
    Exit(i32, Option<String>),
}

/// What an exception raised by the user's module means for the run.
fn raised(py: Python<'_>, err: &PyErr) -> LocateError {
    if err.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py) {
        return LocateError::Interrupted;
    }
    if err.is_instance_of::<pyo3::exceptions::PySystemExit>(py) {
        // As Python does: `None` is 0, an int is the code, anything else is
        // printed and exits 1.
        let code = err.value(py).getattr("code").ok();
        return match code {
            None => LocateError::Exit(0, None),
            Some(code) if code.is_none() => LocateError::Exit(0, None),
            Some(code) => match code.extract::<i32>() {
                Ok(n) => LocateError::Exit(n, None),
                Err(_) => LocateError::Exit(1, code.str().ok().map(|s| s.to_string())),
            },
        };
    }
    LocateError::Raised(format_import_error(py, err))
}

/// Imports the module and returns the dataflow the string names.
pub fn locate_dataflow<'py>(
    py: Python<'py>,
    import_str: &str,
) -> Result<Bound<'py, PyAny>, LocateError> {
    let (module_part, expr) = match import_str.split_once(':') {
        Some((m, e)) => (
            m,
            if e.trim().is_empty() {
                "flow"
            } else {
                e.trim()
            },
        ),
        None => (import_str, "flow"),
    };
    if module_part.is_empty() {
        return Err(LocateError::Usage(format!(
            "`{import_str}` names no module or file; use e.g. `app.py:flow` or `package.module:flow`"
        )));
    }
    let module_name = prepare_import(py, module_part)?;
    let module = import_module(py, &module_name, module_part)?;
    let target = parse_target(py, expr, import_str)?;
    let value = module.getattr(target.name.as_str()).map_err(|_| {
        LocateError::Usage(format!(
            "module `{module_name}` has no attribute `{}`.{}",
            target.name,
            hint_dataflows(py, &module)
        ))
    })?;
    let value = call_factory(py, value, &target, &module_name)?;
    let dataflow_cls = py
        .import("bytewax.dataflow")
        .and_then(|m| m.getattr("Dataflow"))
        .map_err(|e| raised(py, &e))?;
    if !value.is_instance(&dataflow_cls).unwrap_or(false) {
        return Err(LocateError::Usage(format!(
            "`{module_name}:{expr}` is a `{}`, not a `bytewax.dataflow.Dataflow`.{}",
            crate::flow::type_name(&value),
            hint_dataflows(py, &module)
        )));
    }
    Ok(value)
}

/// Turns a file path into a dotted module name, putting the folder it is
/// importable from first on `sys.path` (packages with `__init__.py` are
/// walked up). A dotted name is kept as it is, with the working directory
/// on the path.
fn prepare_import(py: Python<'_>, module_part: &str) -> Result<String, LocateError> {
    let looks_like_path = module_part.ends_with(".py")
        || module_part.contains('/')
        || Path::new(module_part).is_file();
    let (name, dir) = if looks_like_path {
        let path = Path::new(module_part);
        let path = std::fs::canonicalize(path)
            .map_err(|_| LocateError::Usage(format!("no such file: `{module_part}`")))?;
        if path.is_dir() && !path.join("__init__.py").is_file() {
            return Err(LocateError::Usage(format!(
                "`{module_part}` is a directory, not a Python file or package"
            )));
        }
        let mut path: PathBuf = if path.extension().is_some_and(|e| e == "py") {
            path.with_extension("")
        } else {
            path
        };
        if path.file_name().is_some_and(|n| n == "__init__") {
            path.pop();
        }
        let mut parts = vec![path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()];
        let mut dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        while dir.join("__init__.py").is_file() {
            parts.push(
                dir.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
            );
            if !dir.pop() {
                break;
            }
        }
        parts.reverse();
        (parts.join("."), dir)
    } else {
        (
            module_part.to_string(),
            std::env::current_dir().unwrap_or_default(),
        )
    };
    let inserted = py.import("sys").and_then(|sys| {
        let path = sys.getattr("path")?.cast_into::<PyList>()?;
        let dir = dir.to_string_lossy().into_owned();
        if !path.contains(&dir)? {
            path.insert(0, dir)?;
        }
        Ok(())
    });
    inserted.map_err(|e| raised(py, &e))?;
    Ok(name)
}

fn import_module<'py>(
    py: Python<'py>,
    name: &str,
    given: &str,
) -> Result<Bound<'py, PyModule>, LocateError> {
    match py.import(name) {
        Ok(module) => Ok(module),
        Err(err) if err.is_instance_of::<PyModuleNotFoundError>(py) => {
            let missing: Option<String> = err
                .value(py)
                .getattr("name")
                .ok()
                .and_then(|n| n.extract().ok());
            // Only "the module itself is missing" is a usage error; a
            // missing dependency of the user's module is the module's
            // own failure, reported with its traceback.
            let is_target = missing
                .as_deref()
                .is_some_and(|m| name == m || name.starts_with(&format!("{m}.")));
            if is_target {
                Err(LocateError::Usage(format!(
                    "no module named `{name}` (from `{given}`); give a path to a .py file or a module \
                     importable from the current directory"
                )))
            } else {
                Err(raised(py, &err))
            }
        }
        Err(err) => Err(raised(py, &err)),
    }
}

/// An attribute name, or a factory call with literal arguments.
struct Target<'py> {
    name: String,
    call: Option<(Bound<'py, PyTuple>, Bound<'py, PyDict>)>,
}

fn parse_target<'py>(
    py: Python<'py>,
    expr: &str,
    import_str: &str,
) -> Result<Target<'py>, LocateError> {
    let bad = |why: &str| {
        LocateError::Usage(format!(
            "cannot use `{expr}` (from `{import_str}`) as a dataflow name: {why}; write an attribute \
             name like `flow` or a call with literal arguments like `make_flow(4, \"x\")`"
        ))
    };
    let parsed = (|| -> PyResult<Result<Target<'py>, &'static str>> {
        let ast = py.import("ast")?;
        let tree = match ast.call_method1("parse", (expr.trim(), "<import string>", "eval")) {
            Ok(tree) => tree.getattr("body")?,
            Err(_) => return Ok(Err("it is not valid Python")),
        };
        let name_cls = ast.getattr("Name")?;
        let call_cls = ast.getattr("Call")?;
        if tree.is_instance(&name_cls)? {
            return Ok(Ok(Target {
                name: tree.getattr("id")?.extract()?,
                call: None,
            }));
        }
        if !tree.is_instance(&call_cls)? {
            return Ok(Err("it is neither a name nor a call"));
        }
        let func = tree.getattr("func")?;
        if !func.is_instance(&name_cls)? {
            return Ok(Err("the function must be a simple name"));
        }
        let literal_eval = ast.getattr("literal_eval")?;
        let mut args = Vec::new();
        for arg in tree.getattr("args")?.try_iter()? {
            match literal_eval.call1((arg?,)) {
                Ok(v) => args.push(v),
                Err(_) => {
                    return Ok(Err(
                        "arguments must be literals (numbers, strings, lists, ...)",
                    ))
                }
            }
        }
        let kwargs = PyDict::new(py);
        for kw in tree.getattr("keywords")?.try_iter()? {
            let kw = kw?;
            let key = kw.getattr("arg")?;
            if key.is_none() {
                return Ok(Err("`**kwargs` is not supported"));
            }
            match literal_eval.call1((kw.getattr("value")?,)) {
                Ok(v) => kwargs.set_item(key, v)?,
                Err(_) => {
                    return Ok(Err(
                        "arguments must be literals (numbers, strings, lists, ...)",
                    ))
                }
            }
        }
        Ok(Ok(Target {
            name: func.getattr("id")?.extract()?,
            call: Some((PyTuple::new(py, args)?, kwargs)),
        }))
    })();
    match parsed {
        Ok(Ok(target)) => Ok(target),
        Ok(Err(why)) => Err(bad(why)),
        Err(err) => Err(raised(py, &err)),
    }
}

/// Calls a factory function (also a bare name that is a function, as the
/// reference does); other attributes are used as they are.
fn call_factory<'py>(
    py: Python<'py>,
    value: Bound<'py, PyAny>,
    target: &Target<'py>,
    module_name: &str,
) -> Result<Bound<'py, PyAny>, LocateError> {
    let is_function = py
        .import("inspect")
        .and_then(|i| i.call_method1("isfunction", (&value,)))
        .and_then(|r| r.extract::<bool>())
        .unwrap_or(false);
    if !is_function {
        if target.call.is_some() {
            return Err(LocateError::Usage(format!(
                "`{}` in module `{module_name}` is not a function, so it cannot be called",
                target.name
            )));
        }
        return Ok(value);
    }
    let (args, kwargs) = match &target.call {
        Some((args, kwargs)) => (args.clone(), Some(kwargs.clone())),
        None => (PyTuple::empty(py), None),
    };
    // A TypeError raised by the call itself (not inside the factory) means
    // the arguments do not fit the signature.
    let fits = py
        .import("inspect")
        .and_then(|i| i.call_method1("signature", (&value,)))
        .and_then(|sig| sig.call_method("bind", args.clone(), kwargs.as_ref()))
        .map(|_| true);
    match fits {
        Ok(_) => {}
        Err(err) if err.is_instance_of::<PyTypeError>(py) => {
            return Err(LocateError::Usage(format!(
                "the factory `{}` in module `{module_name}` cannot be called with these arguments: {}",
                target.name,
                err.value(py)
            )));
        }
        Err(_) => {}
    }
    value
        .call(args, kwargs.as_ref())
        .map_err(|err| raised(py, &err))
}

/// " Dataflows found in the module: `a`, `b`." (or nothing).
fn hint_dataflows(py: Python<'_>, module: &Bound<'_, PyModule>) -> String {
    let Ok(cls) = py
        .import("bytewax.dataflow")
        .and_then(|m| m.getattr("Dataflow"))
    else {
        return String::new();
    };
    let Ok(dict) = module.dict().cast_into::<PyDict>() else {
        return String::new();
    };
    let mut names: Vec<String> = dict
        .iter()
        .filter(|(_, v)| v.is_instance(&cls).unwrap_or(false))
        .filter_map(|(k, _)| k.extract::<String>().ok())
        .collect();
    names.sort();
    if names.is_empty() {
        " The module defines no `Dataflow` at top level.".to_string()
    } else {
        let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        format!(" Dataflows found in it: {}.", list.join(", "))
    }
}
