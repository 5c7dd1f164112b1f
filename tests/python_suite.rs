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

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{bytewax, embedded_python_executable, repo_root, Cmd};

const NEEDED: &str = "import pytest, jsonpickle";

/// `target/test-venv` (next to `target/tmp`, so it follows
/// `CARGO_TARGET_DIR`).
fn test_venv_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("test-venv")
}

/// Whether the binary, with `VIRTUAL_ENV` set to `venv` (or inherited from
/// the caller when `None`), can import what the suite needs.
fn can_import_needed(venv: Option<&Path>) -> bool {
    let mut cmd = bytewax(["python", "-c", NEEDED]).timeout(Duration::from_secs(120));
    match venv {
        Some(v) => cmd = cmd.env("VIRTUAL_ENV", v),
        None => {
            if let Some(v) = std::env::var_os("VIRTUAL_ENV") {
                cmd = cmd.env("VIRTUAL_ENV", v);
            }
        }
    }
    cmd.run().code == Some(0)
}

/// The virtualenv to run the suite in: the caller's (if it has pytest),
/// else `target/test-venv`, made on first use.
fn suite_venv() -> Option<PathBuf> {
    if can_import_needed(None) {
        return std::env::var_os("VIRTUAL_ENV").map(PathBuf::from);
    }
    let venv = test_venv_dir();
    // Written only after pip succeeded, so a half-made venv is redone.
    let ready = venv.join(".bytewax-test-venv-ready");
    if ready.is_file() && can_import_needed(Some(&venv)) {
        return Some(venv);
    }
    let _ = std::fs::remove_dir_all(&venv);
    let python = embedded_python_executable();
    eprintln!(
        "creating {} with {} (pytest is not importable otherwise)",
        venv.display(),
        python.display()
    );
    Cmd::new(&python)
        .args(["-m", "venv"])
        .arg(&venv)
        .timeout(Duration::from_secs(300))
        .run()
        .assert_success();
    Cmd::new(venv.join("bin").join("python"))
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
            "pytest",
            "jsonpickle",
        ])
        .timeout(Duration::from_secs(600))
        .run()
        .assert_success();
    assert!(
        can_import_needed(Some(&venv)),
        "pytest and jsonpickle were installed into {} but `bytewax python` cannot import them",
        venv.display()
    );
    std::fs::write(&ready, "pytest jsonpickle\n").expect("write the venv marker");
    Some(venv)
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
