//! Helpers shared by the integration tests: run the real `bytewax` binary
//! under a hard timeout, write flow files into fresh temporary folders, and
//! compare outputs as multisets of lines.
//!
//! Only the standard library is used. Every run is bounded: a child that
//! outlives its timeout is killed and the test fails with whatever it had
//! printed so far.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_bytewax");

/// The repository root (where `Cargo.toml` is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/flows` in the repository.
pub fn flows_dir() -> PathBuf {
    repo_root().join("tests").join("flows")
}

/// How long one run of the binary may take unless a test says otherwise.
/// Generous, because a debug build on a loaded 2-core machine is slow; a
/// run that hangs still fails (and is killed) after this.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(90);

/// Imports most test flows start with.
pub const PRELUDE: &str = "\
from datetime import datetime, timedelta, timezone

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource
";

// ---------------------------------------------------------------------
// Temporary folders.

static TEMP_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh folder, removed when dropped (set `BYTEWAX_TEST_KEEP_TMP=1` to
/// keep it for debugging).
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a new empty folder whose name starts with `label`.
    pub fn new(label: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let n = TEMP_COUNTER.fetch_add(1, Ordering::SeqCst);
        let label: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let path = std::env::temp_dir().join(format!(
            "bytewax-test-{label}-{}-{n}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create temp dir {}: {e}", path.display()));
        // Canonical, so paths in tracebacks match what tests expect.
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `self.path().join(rel)`.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }

    /// Writes `contents` to `rel` (creating parent folders) and returns the
    /// full path.
    pub fn write(&self, rel: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", parent.display()));
        }
        std::fs::write(&path, contents)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }

    /// Creates a sub-folder and returns its path.
    pub fn mkdir(&self, rel: impl AsRef<Path>) -> PathBuf {
        let path = self.path.join(rel);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("BYTEWAX_TEST_KEEP_TMP").is_none() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Writes `PRELUDE` followed by `body` to `name` in `dir`.
pub fn write_flow(dir: &TempDir, name: &str, body: &str) -> PathBuf {
    dir.write(name, format!("{PRELUDE}\n{body}"))
}

// ---------------------------------------------------------------------
// Running the binary.

/// A command line for the binary under test, built up and then run.
///
/// The environment is made predictable: `VIRTUAL_ENV`, `PYTHONPATH`,
/// `PYTHONHOME`, `PYTHONSTARTUP`, `PYTHONUNBUFFERED` and every `BYTEWAX_*`
/// variable of the caller are removed; `PYTHONUTF8=1` and
/// `PYTHONDONTWRITEBYTECODE=1` are set. `env` and `env_remove` apply after
/// that. Stdin is empty unless `stdin` gives it bytes.
pub struct Cmd {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    cwd: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
}

/// `Cmd` for the `bytewax` binary with these arguments.
pub fn bytewax<I, S>(args: I) -> Cmd
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Cmd::new(BIN).args(args)
}

impl Cmd {
    /// Any program (used for helpers like `python3 -m venv`); the same
    /// environment clean-up applies.
    pub fn new(program: impl AsRef<Path>) -> Cmd {
        Cmd {
            program: program.as_ref().to_path_buf(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd {
        self.env.push((
            key.as_ref().to_os_string(),
            Some(value.as_ref().to_os_string()),
        ));
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Cmd {
        self.env.push((key.as_ref().to_os_string(), None));
        self
    }

    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Cmd {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    pub fn stdin(mut self, input: impl AsRef<[u8]>) -> Cmd {
        self.stdin = Some(input.as_ref().to_vec());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Cmd {
        self.timeout = timeout;
        self
    }

    /// The command line, for messages.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.env {
            if let Some(v) = v {
                let _ = write!(s, "{}={} ", k.to_string_lossy(), v.to_string_lossy());
            }
        }
        s.push_str(&self.program.to_string_lossy());
        for a in &self.args {
            let a = a.to_string_lossy();
            if a.contains(' ') || a.contains('"') || a.contains('(') || a.is_empty() {
                let _ = write!(s, " '{a}'");
            } else {
                let _ = write!(s, " {a}");
            }
        }
        if let Some(cwd) = &self.cwd {
            let _ = write!(s, "   (in {})", cwd.display());
        }
        s
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        for key in [
            "VIRTUAL_ENV",
            "PYTHONPATH",
            "PYTHONHOME",
            "PYTHONSTARTUP",
            "PYTHONUNBUFFERED",
            "PYTHONINSPECT",
        ] {
            cmd.env_remove(key);
        }
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("BYTEWAX_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("PYTHONUTF8", "1");
        cmd.env("PYTHONDONTWRITEBYTECODE", "1");
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if let Some(cwd) = &self.cwd {
            cmd.current_dir(cwd);
        }
        cmd.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped());
        cmd.stderr(Stdio::piped());
        cmd
    }

    /// Starts the process; see `Running`.
    pub fn spawn(self) -> Running {
        let describe = self.describe();
        let mut child = self
            .command()
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{describe}`: {e}"));
        let started = Instant::now();
        if let Some(input) = self.stdin.clone() {
            let mut stdin = child.stdin.take().expect("stdin is piped");
            // A thread, so a child that does not read its stdin cannot
            // block us; errors (the child exited early) are ignored.
            std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
        let (line_tx, line_rx) = mpsc::channel();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let out_reader = {
            let mut pipe = child.stdout.take().expect("stdout is piped");
            let buf = Arc::clone(&stdout);
            std::thread::spawn(move || {
                let mut chunk = [0u8; 8192];
                let mut pending = Vec::new();
                loop {
                    match pipe.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            buf.lock().unwrap().extend_from_slice(&chunk[..n]);
                            pending.extend_from_slice(&chunk[..n]);
                            while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
                                let line: Vec<u8> = pending.drain(..=pos).collect();
                                let line = String::from_utf8_lossy(&line[..line.len() - 1]);
                                let _ = line_tx.send(line.into_owned());
                            }
                        }
                    }
                }
                if !pending.is_empty() {
                    let _ = line_tx.send(String::from_utf8_lossy(&pending).into_owned());
                }
            })
        };
        let err_reader = {
            let mut pipe = child.stderr.take().expect("stderr is piped");
            let buf = Arc::clone(&stderr);
            std::thread::spawn(move || {
                let mut chunk = [0u8; 8192];
                loop {
                    match pipe.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.lock().unwrap().extend_from_slice(&chunk[..n]),
                    }
                }
            })
        };
        Running {
            child,
            describe,
            started,
            timeout: self.timeout,
            lines: line_rx,
            stdout,
            stderr,
            readers: vec![out_reader, err_reader],
        }
    }

    /// Runs to completion (or kills the process and panics when the
    /// timeout passes) and returns what it did.
    #[track_caller]
    pub fn run(self) -> Output {
        self.spawn().wait()
    }
}

/// A process that is running. Its stdout is collected and also offered
/// line by line (`next_line`, `wait_for_line`) so a test can react to
/// progress instead of sleeping.
pub struct Running {
    child: Child,
    describe: String,
    started: Instant,
    timeout: Duration,
    lines: Receiver<String>,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How long since the process started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    fn deadline(&self) -> Instant {
        self.started + self.timeout
    }

    /// Waits (at most `within`, and never past the run's own timeout) for
    /// a line of stdout for which `pred` holds. `None` if stdout ended or
    /// the time ran out first.
    pub fn wait_for_line(
        &mut self,
        within: Duration,
        mut pred: impl FnMut(&str) -> bool,
    ) -> Option<String> {
        let until = (Instant::now() + within).min(self.deadline());
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            match self.lines.recv_timeout(left) {
                Ok(line) if pred(&line) => return Some(line),
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Sends a signal by name (`INT`, `TERM`, ...) with the `kill` command.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap_or_else(|e| panic!("cannot run `kill -{name}`: {e}"));
        assert!(status.success(), "`kill -{name} {}` failed", self.pid());
    }

    /// What the process has written so far.
    pub fn output_so_far(&self) -> (String, String) {
        (
            String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned(),
            String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned(),
        )
    }

    /// Waits for the process to exit, at most until its timeout; a process
    /// still running then is killed and the test fails.
    #[track_caller]
    pub fn wait(self) -> Output {
        let deadline = self.deadline();
        self.wait_until(deadline)
    }

    /// Like `wait`, but fails if the process is not done within `within`
    /// from now.
    #[track_caller]
    pub fn wait_within(self, within: Duration) -> Output {
        let deadline = (Instant::now() + within).min(self.deadline());
        self.wait_until(deadline)
    }

    #[track_caller]
    fn wait_until(mut self, deadline: Instant) -> Output {
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) => {}
                Err(e) => panic!("waiting for `{}` failed: {e}", self.describe),
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            // Polling the child's status, not synchronising with it.
            std::thread::sleep(Duration::from_millis(5));
        };
        let elapsed = self.started.elapsed();
        // The pipes close when the process (and anything that inherited
        // them) is gone; don't wait forever for a stray grandchild.
        let readers = std::mem::take(&mut self.readers);
        let (done_tx, done_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for r in readers {
                let _ = r.join();
            }
            let _ = done_tx.send(());
        });
        let _ = done_rx.recv_timeout(Duration::from_secs(5));
        let (stdout, stderr) = self.output_so_far();
        let Some(status) = status else {
            panic!(
                "`{}` was still running {:.1?} after it started (past the test's deadline); it was killed.\n--- stdout ---\n{}\n--- stderr ---\n{}",
                self.describe,
                elapsed,
                tail(&stdout, 4000),
                tail(&stderr, 4000)
            );
        };
        let signal = unix_signal(&status);
        Output {
            code: status.code(),
            signal,
            stdout,
            stderr,
            elapsed,
            describe: self.describe.clone(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A test that panicked half-way must not leave the process behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(unix)]
fn unix_signal(status: &std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

#[cfg(not(unix))]
fn unix_signal(_status: &std::process::ExitStatus) -> Option<i32> {
    None
}

fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// How a finished process went.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code; `None` if a signal ended the process.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    pub describe: String,
}

/// Text that must never reach a user: Rust panics and their hints.
pub const PANIC_MARKERS: &[&str] = &["panicked", "RUST_BACKTRACE", "stack backtrace"];

impl Output {
    /// Everything about the run, for assertion messages.
    pub fn report(&self) -> String {
        format!(
            "command: {}\nexit code: {:?}{}\nelapsed: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--------------",
            self.describe,
            self.code,
            self.signal
                .map(|s| format!(" (killed by signal {s})"))
                .unwrap_or_default(),
            self.elapsed,
            tail(&self.stdout, 6000),
            tail(&self.stderr, 6000)
        )
    }

    /// Asserts the exit code (and that no panic text appeared anywhere).
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Output {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit code {code}\n{}",
            self.report()
        );
        self.assert_no_panic();
        self
    }

    #[track_caller]
    pub fn assert_success(&self) -> &Output {
        self.assert_code(0)
    }

    /// No Rust panic text on stdout or stderr.
    #[track_caller]
    pub fn assert_no_panic(&self) -> &Output {
        for marker in PANIC_MARKERS {
            assert!(
                !self.stderr.contains(marker) && !self.stdout.contains(marker),
                "`{marker}` must never be shown to users\n{}",
                self.report()
            );
        }
        self
    }

    /// Asserts that stderr contains every one of `needles`.
    #[track_caller]
    pub fn assert_stderr_has(&self, needles: &[&str]) -> &Output {
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "stderr should contain {needle:?}\n{}",
                self.report()
            );
        }
        self
    }

    /// Asserts that stdout contains every one of `needles`.
    #[track_caller]
    pub fn assert_stdout_has(&self, needles: &[&str]) -> &Output {
        for needle in needles {
            assert!(
                self.stdout.contains(needle),
                "stdout should contain {needle:?}\n{}",
                self.report()
            );
        }
        self
    }

    /// Asserts that sorted stdout lines equal the sorted `expected` lines.
    #[track_caller]
    pub fn assert_sorted_stdout(&self, expected: &[&str]) -> &Output {
        let want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        if let Some(diff) = multiset_diff(&lines(&self.stdout), &want) {
            panic!(
                "stdout differs from the expected multiset of lines:\n{diff}\n{}",
                self.report()
            );
        }
        self
    }

    /// Asserts that stdout lines equal `expected`, in order.
    #[track_caller]
    pub fn assert_stdout_lines(&self, expected: &[&str]) -> &Output {
        let got = lines(&self.stdout);
        assert_eq!(
            got,
            expected.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "stdout lines differ\n{}",
            self.report()
        );
        self
    }

    pub fn stdout_lines(&self) -> Vec<String> {
        lines(&self.stdout)
    }

    pub fn stderr_lines(&self) -> Vec<String> {
        lines(&self.stderr)
    }
}

// ---------------------------------------------------------------------
// Comparing outputs.

/// The lines of `text` (without their `\n`; a `\r` before it is kept, so
/// a stray CR shows up as a difference).
pub fn lines(text: &str) -> Vec<String> {
    if text.is_empty() {
        return Vec::new();
    }
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.split('\n').map(str::to_string).collect()
}

/// `lines(text)`, sorted.
pub fn sorted_lines(text: &str) -> Vec<String> {
    let mut v = lines(text);
    v.sort();
    v
}

/// `None` when `actual` and `expected` hold the same lines the same number
/// of times; otherwise a description of what is missing and what is extra.
pub fn multiset_diff(actual: &[String], expected: &[String]) -> Option<String> {
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for l in expected {
        *counts.entry(l.as_str()).or_default() += 1;
    }
    for l in actual {
        *counts.entry(l.as_str()).or_default() -= 1;
    }
    let mut missing = String::new();
    let mut extra = String::new();
    for (line, n) in counts {
        if n > 0 {
            let _ = writeln!(missing, "  - {line:?}{}", times(n));
        } else if n < 0 {
            let _ = writeln!(extra, "  + {line:?}{}", times(-n));
        }
    }
    if missing.is_empty() && extra.is_empty() {
        return None;
    }
    let mut out = String::new();
    if !missing.is_empty() {
        let _ = write!(out, "missing (expected but not printed):\n{missing}");
    }
    if !extra.is_empty() {
        let _ = write!(out, "extra (printed but not expected):\n{extra}");
    }
    Some(out)
}

fn times(n: i64) -> String {
    if n == 1 {
        String::new()
    } else {
        format!(" x{n}")
    }
}

/// How many times `needle` occurs in `haystack`.
pub fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// Runs `bytewax run FILE -w W` in `cwd` for each worker count and checks
/// each run exits 0 with stdout equal to `expected` as a multiset; all
/// failures are reported together.
#[track_caller]
pub fn assert_flow_output_for_workers(
    cwd: &Path,
    import_str: &str,
    workers: &[u32],
    expected: &[&str],
) {
    let want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    let mut failures = Vec::new();
    for w in workers {
        let out = bytewax(["run", import_str, "-w", &w.to_string()])
            .cwd(cwd)
            .run();
        if out.code != Some(0) || PANIC_MARKERS.iter().any(|m| out.stderr.contains(m)) {
            failures.push(format!("-w {w}: run failed\n{}", out.report()));
            continue;
        }
        if let Some(diff) = multiset_diff(&lines(&out.stdout), &want) {
            failures.push(format!("-w {w}: {diff}{}", out.report()));
        }
    }
    assert!(
        failures.is_empty(),
        "`{import_str}` gave wrong output:\n{}",
        failures.join("\n")
    );
}

/// The interpreter the binary embeds, as `sys.executable` reports it when
/// no virtualenv is active (used to make virtualenvs of the same version).
pub fn embedded_python_executable() -> PathBuf {
    let out = bytewax([
        "python",
        "-c",
        "import sys; print(getattr(sys, '_base_executable', None) or sys.executable)",
    ])
    .run();
    out.assert_success();
    let path = PathBuf::from(out.stdout.trim());
    assert!(
        path.exists(),
        "the embedded Python reports sys.executable = {} which does not exist\n{}",
        path.display(),
        out.report()
    );
    path
}

/// `site-packages` of a POSIX virtualenv.
pub fn venv_site_packages(venv: &Path) -> PathBuf {
    let lib = venv.join("lib");
    let entries =
        std::fs::read_dir(&lib).unwrap_or_else(|e| panic!("cannot list {}: {e}", lib.display()));
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("python") {
            let sp = entry.path().join("site-packages");
            if sp.is_dir() {
                return sp;
            }
        }
    }
    panic!("no lib/python*/site-packages in {}", venv.display());
}

/// A virtualenv under the target folder with `packages` installed, made
/// once and reused by every test (and test binary) that asks for the same
/// `name`. It is built aside and renamed into place, so a half-made one is
/// never used. `Err` carries pip's output when installing failed.
pub fn shared_venv(name: &str, packages: &[&str]) -> Result<PathBuf, Output> {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let root = tmp.parent().unwrap_or(tmp);
    let venv = root.join(name);
    let ready = venv.join(".bytewax-test-venv-ready");
    let wanted = packages.join(" ");
    if std::fs::read_to_string(&ready).is_ok_and(|s| s.trim() == wanted) {
        return Ok(venv);
    }
    let building = root.join(format!("{name}.building-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    eprintln!(
        "creating the test virtualenv {} with {wanted}",
        venv.display()
    );
    Cmd::new(embedded_python_executable())
        .args(["-m", "venv"])
        .arg(&building)
        .timeout(Duration::from_secs(300))
        .run()
        .assert_success();
    let pip = Cmd::new(building.join("bin").join("python"))
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
        ])
        .args(packages)
        .timeout(Duration::from_secs(900))
        .run();
    if pip.code != Some(0) {
        let _ = std::fs::remove_dir_all(&building);
        return Err(pip);
    }
    std::fs::write(
        building.join(".bytewax-test-venv-ready"),
        format!("{wanted}\n"),
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&venv);
    if std::fs::rename(&building, &venv).is_err() {
        // Another test binary got there first; theirs is as good.
        let _ = std::fs::remove_dir_all(&building);
    }
    Ok(venv)
}

/// The virtualenv with `jsonpickle` and `pytest` many tests use.
pub fn tools_venv() -> PathBuf {
    shared_venv("tools-venv", &["jsonpickle", "pytest"]).unwrap_or_else(|pip| {
        panic!(
            "cannot install jsonpickle and pytest for the tests\n{}",
            pip.report()
        )
    })
}
