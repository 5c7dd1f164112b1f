//! Runs the Python test suite (`tests/python`) with the binary's own
//! interpreter: `bytewax python -m pytest tests/python -q`, from the
//! repository root.
//!
//! pytest and jsonpickle must be importable. If the interpreter the binary
//! uses (the caller's `VIRTUAL_ENV`, if any, else the one it was built
//! against) lacks them, a virtualenv is made once under the target folder
//! (`target/test-venv`) with `python -m venv` and `pip install pytest
//! jsonpickle`, and reused by later runs.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{bytewax, repo_root};

const NEEDED: &str = "import pytest, jsonpickle";

/// Whether the binary, with `VIRTUAL_ENV` inherited from the caller, can
/// import what the suite needs.
fn caller_has_pytest() -> bool {
    let mut cmd = bytewax(["python", "-c", NEEDED]).timeout(Duration::from_secs(120));
    if let Some(v) = std::env::var_os("VIRTUAL_ENV") {
        cmd = cmd.env("VIRTUAL_ENV", v);
    }
    cmd.run().code == Some(0)
}

/// The virtualenv to run the suite in: the caller's (if it has pytest),
/// else the shared test venv, made on first use.
fn suite_venv() -> Option<PathBuf> {
    if caller_has_pytest() {
        return std::env::var_os("VIRTUAL_ENV").map(PathBuf::from);
    }
    Some(common::tools_venv())
}

#[test]
fn python_test_suite_passes_under_bytewax_python() {
    let venv = suite_venv();
    let mut cmd = bytewax([
        "python",
        "-m",
        "pytest",
        "tests/python",
        "-q",
        "-p",
        "no:cacheprovider",
    ])
    .cwd(repo_root())
    .timeout(Duration::from_secs(1200));
    if let Some(venv) = &venv {
        cmd = cmd.env("VIRTUAL_ENV", venv);
    }
    let out = cmd.run();
    assert_eq!(
        out.code,
        Some(0),
        "`bytewax python -m pytest tests/python -q` failed\n{}",
        out.report()
    );
}
