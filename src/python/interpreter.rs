//! Starting the embedded interpreter: which Python, which virtualenv, what
//! `sys.argv` and `sys.executable` say, and handing the GIL to pyo3.

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::prelude::*;

/// The `major.minor` of the Python this binary was built against.
pub const PYTHON_VERSION: &str = env!("BYTEWAX_PYTHON_VERSION");

/// How the interpreter's command line is treated.
pub enum Launch<'a> {
    /// The runner owns the process; Python sees `argv` as `sys.argv` and
    /// does not parse it.
    Embedded { argv: &'a [String] },
    /// `bytewax python ARGS...`: Python parses `ARGS` as its own command
    /// line and `Py_RunMain` runs it.
    Main { args: &'a [String] },
}

/// Why the interpreter could not start, or what it asked for instead.
#[derive(Debug)]
pub enum StartError {
    /// A problem the user can fix (a bad virtualenv); exit code 2.
    Usage(String),
    /// CPython refused to start.
    Failed(String),
    /// CPython handled the command line itself (`--version`, `--help`).
    Exit(i32),
}

/// Set when this process started the interpreter in embedded mode (and so
/// must finalise it).
static OWNED: OnceLock<()> = OnceLock::new();

/// Whether an interpreter is already running in this process.
pub fn is_running() -> bool {
    unsafe { ffi::Py_IsInitialized() != 0 }
}

/// Starts CPython once per process and installs the embedded `bytewax`
/// package. On return the calling thread does not hold the GIL, so pyo3's
/// `Python::attach` works from every thread.
///
/// If the interpreter is already running (for example `run_main` called
/// from `bytewax python`), this does nothing.
pub fn start(launch: Launch<'_>) -> Result<(), StartError> {
    if is_running() {
        return Ok(());
    }
    let executable = choose_executable()?;
    unsafe { initialize(&launch, executable.as_deref())? };

    // The main thread holds the GIL right after initialisation.
    Python::attach(|py| -> Result<(), StartError> {
        super::embedded::install(py)
            .map_err(|err| StartError::Failed(super::errors::format_exception(py, &err)))?;
        Ok(())
    })?;
    if let Launch::Embedded { .. } = launch {
        OWNED.set(()).ok();
        // Release the GIL for good; threads take it with `Python::attach`.
        unsafe {
            ffi::PyEval_SaveThread();
        }
    }
    Ok(())
}

/// Runs `bytewax python ARGS...` after `start(Launch::Main)`; returns the
/// exit code. The interpreter is finalised.
pub fn run_main() -> i32 {
    unsafe { ffi::Py_RunMain() }
}

/// Flushes Python's stdio and finalises the interpreter, running `atexit`
/// handlers. Must be called from the thread that started it, with no
/// worker threads left.
pub fn finish() -> i32 {
    if OWNED.get().is_none() {
        return 0;
    }
    unsafe {
        // The run is over: a Ctrl-C now (or one still pending, e.g. when a
        // peer's stop message won the race against our own signal) must
        // not surface as a KeyboardInterrupt during shutdown.
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        ffi::PyGILState_Ensure();
        if ffi::PyErr_CheckSignals() < 0 {
            ffi::PyErr_Clear();
        }
        if ffi::Py_FinalizeEx() < 0 {
            return 120;
        }
    }
    0
}

unsafe fn initialize(launch: &Launch<'_>, executable: Option<&Path>) -> Result<(), StartError> {
    let mut config = std::mem::MaybeUninit::<ffi::PyConfig>::zeroed();
    ffi::PyConfig_InitPythonConfig(config.as_mut_ptr());
    let config = config.assume_init_mut();

    let result = (|| -> Result<(), StartError> {
        let argv: Vec<String> = match launch {
            Launch::Embedded { argv } => {
                config.parse_argv = 0;
                argv.to_vec()
            }
            Launch::Main { args } => {
                config.parse_argv = 1;
                let program = executable
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "python3".into());
                std::iter::once(program)
                    .chain(args.iter().cloned())
                    .collect()
            }
        };
        let cargs: Vec<CString> = argv
            .iter()
            .map(|a| CString::new(a.as_str()))
            .collect::<Result<_, _>>()
            .map_err(|_| StartError::Usage("an argument contains a NUL byte".into()))?;
        let mut ptrs: Vec<*const std::os::raw::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
        check(ffi::PyConfig_SetBytesArgv(
            config,
            ptrs.len() as ffi::Py_ssize_t,
            ptrs.as_mut_ptr(),
        ))?;

        if let Some(exe) = executable {
            let exe = CString::new(exe.as_os_str().as_encoded_bytes())
                .map_err(|_| StartError::Usage("interpreter path contains a NUL byte".into()))?;
            check(ffi::PyConfig_SetBytesString(
                config,
                &mut config.executable,
                exe.as_ptr(),
            ))?;
            check(ffi::PyConfig_SetBytesString(
                config,
                &mut config.program_name,
                exe.as_ptr(),
            ))?;
        }
        check(ffi::Py_InitializeFromConfig(config))
    })();
    ffi::PyConfig_Clear(config);
    result
}

unsafe fn check(status: ffi::PyStatus) -> Result<(), StartError> {
    if ffi::PyStatus_IsExit(status) != 0 {
        return Err(StartError::Exit(status.exitcode));
    }
    if ffi::PyStatus_Exception(status) != 0 {
        let msg = if status.err_msg.is_null() {
            "unknown error".to_string()
        } else {
            CStr::from_ptr(status.err_msg)
                .to_string_lossy()
                .into_owned()
        };
        return Err(StartError::Failed(format!("Python failed to start: {msg}")));
    }
    Ok(())
}

/// `sys.executable`: the activated virtualenv's `python`, or else the
/// interpreter this binary was built against (if it is still there), so
/// that the standard library and `site-packages` are found as they would
/// be by that `python`.
fn choose_executable() -> Result<Option<PathBuf>, StartError> {
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV").filter(|v| !v.is_empty()) {
        return virtualenv_python(Path::new(&venv)).map(Some);
    }
    let built = PathBuf::from(env!("BYTEWAX_BUILD_PYTHON"));
    Ok(built.exists().then_some(built))
}

fn virtualenv_python(venv: &Path) -> Result<PathBuf, StartError> {
    let cfg_path = venv.join("pyvenv.cfg");
    let cfg = std::fs::read_to_string(&cfg_path).map_err(|_| {
        StartError::Usage(format!(
            "VIRTUAL_ENV is set to `{}`, but that is not a virtualenv (no pyvenv.cfg there); \
             activate a virtualenv made with `python{PYTHON_VERSION} -m venv`, or unset VIRTUAL_ENV",
            venv.display()
        ))
    })?;
    if let Some(version) = venv_version(&cfg) {
        let minor: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
        if minor != PYTHON_VERSION {
            return Err(StartError::Usage(format!(
                "the virtualenv `{}` was made for Python {version}, but this bytewax embeds Python \
                 {PYTHON_VERSION}; recreate it with `python{PYTHON_VERSION} -m venv {}`",
                venv.display(),
                venv.display()
            )));
        }
    }
    let python = venv.join("bin").join("python");
    if !python.exists() {
        return Err(StartError::Usage(format!(
            "the virtualenv `{}` has no bin/python",
            venv.display()
        )));
    }
    Ok(python)
}

/// The Python version a `pyvenv.cfg` records (`version` or `version_info`).
///
/// ```
/// use bytewax::python::interpreter::venv_version;
/// let cfg = "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.7\n";
/// assert_eq!(venv_version(cfg).as_deref(), Some("3.11.7"));
/// assert_eq!(venv_version("version_info = 3.12.1.final.0").as_deref(), Some("3.12.1.final.0"));
/// assert_eq!(venv_version("home = /x"), None);
/// ```
pub fn venv_version(cfg: &str) -> Option<String> {
    cfg.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        matches!(key.trim(), "version" | "version_info").then(|| value.trim().to_string())
    })
}
