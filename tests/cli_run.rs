//! The command line, end to end: `bytewax run` and `bytewax python` on real
//! flow files, asserting on exit codes, stdout and stderr.
//!
//! Exit codes: 0 ok, 1 the flow failed, 2 a usage or import mistake, 130
//! Ctrl-C. Stdout carries only the flow's output.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{
    bytewax, count, embedded_python_executable, lines, venv_site_packages, write_flow, Cmd, Output,
    TempDir, PRELUDE,
};

// ---------------------------------------------------------------------
// Flow files used by several tests.

/// `flow` prints 1..3; `other` prints "o"; `make(n, tag)` is a factory;
/// `not_a_flow` is an int; `broken()` raises.
const APP: &str = r#"
flow = Dataflow("app")
op.output("out", op.input("inp", flow, TestingSource([1, 2, 3])), StdOutSink())

other = Dataflow("other")
op.output("out", op.input("inp", other, TestingSource(["o"])), StdOutSink())

not_a_flow = 5


def make(n, tag="x"):
    f = Dataflow("made")
    items = [f"{tag}{i}" for i in range(n)]
    op.output("out", op.input("inp", f, TestingSource(items)), StdOutSink())
    return f


def make_default(n=2, tag="d"):
    return make(n, tag)


def broken():
    raise RuntimeError("factory boom")


def type_error_inside(n):
    return len(n)


def returns_none():
    return None
"#;

fn app_dir() -> TempDir {
    let dir = TempDir::new("app");
    write_flow(&dir, "app.py", APP);
    dir
}

/// A usage or import mistake: exit code 2, one paragraph starting with
/// `error:` naming the culprit, no traceback, nothing on stdout.
#[track_caller]
fn assert_usage_error(out: &Output, culprits: &[&str]) {
    out.assert_code(2);
    assert!(
        out.stdout.is_empty(),
        "a usage error must print nothing on stdout\n{}",
        out.report()
    );
    assert!(
        out.stderr.starts_with("error:"),
        "a usage error starts with `error:`\n{}",
        out.report()
    );
    assert!(
        !out.stderr.contains("Traceback"),
        "a usage error is one paragraph, not a traceback\n{}",
        out.report()
    );
    assert!(
        !out.stderr.trim_end().contains("\n\n"),
        "a usage error is one paragraph\n{}",
        out.report()
    );
    out.assert_stderr_has(culprits);
}

// ---------------------------------------------------------------------
// --help, --version, missing arguments.

#[test]
fn run_help_shows_every_flag_with_its_env_var() {
    let out = bytewax(["run", "--help"]).run();
    out.assert_success();
    // clap wraps long lines; compare with all whitespace collapsed.
    let help = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    let flags = [
        ("-w, --workers-per-process", "BYTEWAX_WORKERS_PER_PROCESS"),
        ("-s, --snapshot-interval", "BYTEWAX_SNAPSHOT_INTERVAL"),
        ("-r, --recovery-directory", "BYTEWAX_RECOVERY_DIRECTORY"),
        ("-b, --backup-interval", "BYTEWAX_RECOVERY_BACKUP_INTERVAL"),
        ("-i, --process-id", "BYTEWAX_PROCESS_ID"),
        ("-a, --addresses", "BYTEWAX_ADDRESSES"),
        ("-p, --processes", "BYTEWAX_PROCESSES"),
        ("--log-level", "BYTEWAX_LOG_LEVEL"),
    ];
    let positions: Vec<usize> = flags
        .iter()
        .map(|(flag, _)| {
            help.find(flag)
                .unwrap_or_else(|| panic!("--help does not show `{flag}`\n{}", out.report()))
        })
        .collect();
    for (i, (flag, var)) in flags.iter().enumerate() {
        // The option's own paragraph: up to the next option (or the end).
        let start = positions[i];
        let end = positions
            .iter()
            .copied()
            .filter(|&p| p > start)
            .min()
            .unwrap_or(help.len());
        let paragraph = &help[start..end];
        assert!(
            paragraph.contains(&format!("[env: {var}=")),
            "--help should show `[env: {var}=]` for `{flag}`; its paragraph is:\n{paragraph}"
        );
    }
    assert!(help.contains("IMPORT_STR"), "{}", out.report());
}

#[test]
fn version_and_missing_arguments() {
    let out = bytewax(["--version"]).run();
    out.assert_success();
    assert!(out.stdout.starts_with("bytewax "), "{}", out.report());

    let out = bytewax::<[&str; 0], &str>([]).run();
    out.assert_code(2);
    let out = bytewax(["run"]).run();
    out.assert_code(2);
    out.assert_stderr_has(&["IMPORT_STR"]);
    let out = bytewax(["no-such-command"]).run();
    out.assert_code(2);
}

// ---------------------------------------------------------------------
// Durations and other flags.

#[test]
fn snapshot_interval_accepts_seconds_fractions_and_units() {
    let dir = app_dir();
    for s in ["30", "0.5", "10m", "0", "1h 30m", "250ms"] {
        bytewax(["run", "app.py", "-s", s])
            .cwd(dir.path())
            .run()
            .assert_success()
            .assert_stdout_lines(&["1", "2", "3"]);
    }
    bytewax(["run", "app.py"])
        .env("BYTEWAX_SNAPSHOT_INTERVAL", "0.5")
        .cwd(dir.path())
        .run()
        .assert_success()
        .assert_stdout_lines(&["1", "2", "3"]);
}

#[test]
fn bad_durations_are_usage_errors() {
    let dir = app_dir();
    for s in ["soon", "", "1x", "-1s"] {
        let out = bytewax(["run", "app.py", &format!("--snapshot-interval={s}")])
            .cwd(dir.path())
            .run();
        out.assert_code(2);
        assert!(out.stdout.is_empty(), "{}", out.report());
        assert!(out.stderr.contains("snapshot-interval"), "{}", out.report());
    }
    let out = bytewax(["run", "app.py", "-s", "soon"])
        .cwd(dir.path())
        .run();
    out.assert_code(2);
    out.assert_stderr_has(&["soon"]);
    let out = bytewax(["run", "app.py"])
        .env("BYTEWAX_SNAPSHOT_INTERVAL", "soon")
        .cwd(dir.path())
        .run();
    out.assert_code(2);
    out.assert_stderr_has(&["soon"]);
}

#[test]
fn bad_flag_values_and_combinations_are_usage_errors() {
    let dir = app_dir();
    let cases: &[(&[&str], &[&str])] = &[
        (&["-w", "0"], &["workers-per-process"]),
        (&["-w", "many"], &["workers-per-process"]),
        (&["--log-level", "loud"], &["loud"]),
        // Recovery needs both intervals; a process id needs addresses.
        (&["-r", "."], &["snapshot-interval", "backup-interval"]),
        (&["-r", ".", "-s", "10"], &["backup-interval"]),
        (&["-i", "1"], &["-a"]),
    ];
    for (flags, needles) in cases {
        let out = bytewax(["run", "app.py"])
            .args(*flags)
            .cwd(dir.path())
            .run();
        out.assert_code(2);
        assert!(
            out.stdout.is_empty(),
            "usage errors print nothing on stdout\n{}",
            out.report()
        );
        out.assert_stderr_has(needles);
    }
}

/// The epoch length decides which epoch each item is in: items 200 ms
/// apart all share epoch 1 with `-s 10m`, and each gets a later epoch than
/// the one before with `-s 0.05`.
#[test]
fn snapshot_interval_sets_epoch_length() {
    let dir = TempDir::new("epochs");
    write_flow(&dir, "paced.py", PACED);
    let epochs = |extra: &[&str], env: Option<(&str, &str)>| -> Vec<u64> {
        let mut cmd = bytewax(["run", "paced.py:make(4, 200)"])
            .args(extra)
            .cwd(dir.path());
        if let Some((k, v)) = env {
            cmd = cmd.env(k, v);
        }
        let out = cmd.run();
        out.assert_success();
        let epochs: Vec<u64> = out
            .stdout_lines()
            .iter()
            .filter(|l| l.starts_with("paced.dbg "))
            .map(|l| {
                let at = l.split('@').nth(1).expect("inspect_debug shows @epoch");
                at.split(':').next().unwrap().parse().expect("epoch number")
            })
            .collect();
        assert_eq!(epochs.len(), 4, "{}", out.report());
        epochs
    };
    let long = epochs(&["-s", "10m"], None);
    assert!(long.iter().all(|&e| e == long[0]), "-s 10m: {long:?}");
    let short = epochs(&["-s", "0.05"], None);
    assert!(
        short.windows(2).all(|w| w[0] < w[1]),
        "-s 0.05: items 200 ms apart must be in increasing epochs: {short:?}"
    );
    let from_env = epochs(&[], Some(("BYTEWAX_SNAPSHOT_INTERVAL", "0.05")));
    assert!(
        from_env.windows(2).all(|w| w[0] < w[1]),
        "BYTEWAX_SNAPSHOT_INTERVAL=0.05: {from_env:?}"
    );
}

#[test]
fn workers_flag_and_env_var_set_worker_count() {
    let dir = TempDir::new("wcount");
    write_flow(&dir, "dyn.py", DYNAMIC);
    let builds = |out: &Output| -> Vec<String> {
        let mut v: Vec<String> = out
            .stdout_lines()
            .into_iter()
            .filter(|l| l.starts_with("build "))
            .collect();
        v.sort();
        v
    };
    let out = bytewax(["run", "dyn.py"])
        .env("BYTEWAX_WORKERS_PER_PROCESS", "3")
        .cwd(dir.path())
        .run();
    out.assert_success();
    assert_eq!(
        builds(&out),
        ["build 0 3", "build 1 3", "build 2 3"],
        "{}",
        out.report()
    );
    // The flag wins over the variable.
    let out = bytewax(["run", "dyn.py", "-w", "2"])
        .env("BYTEWAX_WORKERS_PER_PROCESS", "3")
        .cwd(dir.path())
        .run();
    out.assert_success();
    assert_eq!(builds(&out), ["build 0 2", "build 1 2"], "{}", out.report());
}

/// Workers print from several threads at once: the default inspectors
/// must never run two lines together.
#[test]
fn inspect_lines_from_several_workers_stay_whole() {
    let dir = TempDir::new("inspectlines");
    write_flow(
        &dir,
        "insp.py",
        r#"
flow = Dataflow("insp")
s = op.input("inp", flow, TestingSource([(f"k{i}", i) for i in range(400)]))
s = op.reduce_final("sum", s, lambda a, b: a + b)
s = op.inspect("show", s)
op.inspect_debug("dbg", s)
"#,
    );
    for workers in ["2", "4"] {
        let out = bytewax(["run", "insp.py", "-w", workers])
            .cwd(dir.path())
            .run();
        out.assert_success();
        let got = out.stdout_lines();
        let show = got
            .iter()
            .filter(|l| l.starts_with("insp.show: ('k"))
            .count();
        let dbg = got.iter().filter(|l| l.starts_with("insp.dbg W")).count();
        let whole = |l: &&String| {
            (l.starts_with("insp.show: ('k") || l.starts_with("insp.dbg W"))
                && l.ends_with(')')
                && l.matches("insp.").count() == 1
        };
        let broken: Vec<&String> = got.iter().filter(|l| !whole(l)).collect();
        assert!(
            broken.is_empty() && show == 400 && dbg == 400,
            "-w {workers}: {show} show lines, {dbg} debug lines, broken lines {broken:?}"
        );
    }
}

// ---------------------------------------------------------------------
// Import strings.

#[test]
fn import_string_forms() {
    let dir = app_dir();
    let pkg = dir.mkdir("pkg/sub");
    dir.write("pkg/__init__.py", "");
    dir.write("pkg/sub/__init__.py", "");
    std::fs::copy(dir.join("app.py"), pkg.join("app.py")).unwrap();
    let abs = dir.join("app.py").to_string_lossy().into_owned();
    let abs_in_pkg = pkg.join("app.py").to_string_lossy().into_owned();
    let cases: &[(&str, &[&str])] = &[
        ("app.py", &["1", "2", "3"]),
        ("app.py:flow", &["1", "2", "3"]),
        ("app.py:other", &["o"]),
        ("./app.py:other", &["o"]),
        (&abs, &["1", "2", "3"]),
        ("app", &["1", "2", "3"]),
        ("app:other", &["o"]),
        ("pkg.sub.app", &["1", "2", "3"]),
        ("pkg.sub.app:other", &["o"]),
        ("pkg/sub/app.py:other", &["o"]),
        ("app.py:make(2)", &["x0", "x1"]),
        ("app.py:make(3, \"t\")", &["t0", "t1", "t2"]),
        ("app.py:make(2, tag='k')", &["k0", "k1"]),
        ("app.py:make( 1 , tag = \"sp\" )", &["sp0"]),
        // A bare name that is a function is called without arguments.
        ("app.py:make_default", &["d0", "d1"]),
        ("app.py:make_default()", &["d0", "d1"]),
        ("app.py:make(n=1, tag=None)", &["None0"]),
        ("app.py:make(-1)", &[]),
    ];
    for (import_str, expected) in cases {
        bytewax(["run", import_str])
            .cwd(dir.path())
            .run()
            .assert_success()
            .assert_stdout_lines(expected);
    }
    // From another working directory, by path, including a file inside a
    // package (imported as `pkg.sub.app`).
    let elsewhere = TempDir::new("elsewhere");
    for (import_str, expected) in [
        (format!("{abs}:other"), &["o"][..]),
        (format!("{abs_in_pkg}:make(1, 'p')"), &["p0"][..]),
    ] {
        bytewax(["run", &import_str])
            .cwd(elsewhere.path())
            .run()
            .assert_success()
            .assert_stdout_lines(expected);
    }
}

#[test]
fn import_string_mistakes_are_usage_errors() {
    let dir = app_dir();
    dir.mkdir("pkg");
    dir.write("pkg/__init__.py", "");
    dir.mkdir("plain_dir");
    let cases: &[(&str, &[&str])] = &[
        ("nofile.py", &["nofile.py"]),
        ("missing/dir/app.py:flow", &["missing/dir/app.py"]),
        ("no_such_module_xyz", &["no_such_module_xyz"]),
        ("no_such_module_xyz:flow", &["no_such_module_xyz"]),
        ("pkg.nope:flow", &["pkg.nope"]),
        ("app.py:missing_attr", &["missing_attr", "app"]),
        ("app.py:not_a_flow", &["not_a_flow", "Dataflow", "int"]),
        ("app.py:make", &["make"]),
        ("app.py:make(1, 2, 3)", &["make"]),
        ("app.py:make(1, nope=2)", &["make"]),
        ("app.py:make(x)", &["make(x)", "literal"]),
        ("app.py:not_a_flow(1)", &["not_a_flow"]),
        ("app.py:1+2", &["1+2"]),
        (
            "app.py:returns_none",
            &["returns_none", "NoneType", "Dataflow"],
        ),
        ("app.py:make(", &["make("]),
        (":flow", &[":flow"]),
        ("plain_dir", &["plain_dir"]),
    ];
    for (import_str, culprits) in cases {
        let out = bytewax(["run", import_str]).cwd(dir.path()).run();
        assert_usage_error(&out, culprits);
    }
    // The hint lists the dataflows the module does define.
    let out = bytewax(["run", "app.py:missing_attr"])
        .cwd(dir.path())
        .run();
    out.assert_stderr_has(&["`flow`", "`other`"]);
}

#[test]
fn module_raising_at_import_exits_1_with_traceback() {
    let dir = TempDir::new("raising");
    dir.write(
        "raising.py",
        "x = 1\n\n\ndef helper():\n    raise ValueError(\"boom at import\")\n\n\nhelper()\n",
    );
    dir.write("baddep.py", "import not_a_real_dep_xyz\n");
    dir.write("syntax.py", "def f(:\n    pass\n");
    dir.write("pkgdep/__init__.py", "from .inner import flow  # noqa\n");
    dir.write("pkgdep/inner.py", "import another_missing_dep_xyz\n");

    let out = bytewax(["run", "raising.py"]).cwd(dir.path()).run();
    out.assert_code(1);
    out.assert_stderr_has(&[
        "Traceback",
        "raising.py",
        "in helper",
        "ValueError: boom at import",
    ]);
    assert_eq!(
        count(&out.stderr, "ValueError: boom at import"),
        1,
        "{}",
        out.report()
    );
    assert!(out.stdout.is_empty(), "{}", out.report());

    // A missing dependency of the user's module is the module's failure,
    // not "no such module".
    for (import_str, dep) in [
        ("baddep.py", "not_a_real_dep_xyz"),
        ("baddep", "not_a_real_dep_xyz"),
        ("pkgdep:flow", "another_missing_dep_xyz"),
    ] {
        let out = bytewax(["run", import_str]).cwd(dir.path()).run();
        out.assert_code(1);
        out.assert_stderr_has(&["Traceback", "ModuleNotFoundError", dep]);
    }

    let out = bytewax(["run", "syntax.py"]).cwd(dir.path()).run();
    out.assert_code(1);
    out.assert_stderr_has(&["SyntaxError", "syntax.py"]);

    // Shown as `python typo.py` shows it: the import machinery's frames
    // left out, Python's hint kept.
    dir.write(
        "typo.py",
        "import os

os.pathx
",
    );
    let out = bytewax(["run", "typo.py"]).cwd(dir.path()).run();
    out.assert_code(1);
    out.assert_stderr_has(&[
        "Traceback",
        "typo.py\", line 3, in <module>",
        "AttributeError: module 'os' has no attribute 'pathx'. Did you mean: 'path'?",
        "error: importing the dataflow `typo.py` failed",
    ]);
    assert!(
        !out.stderr.contains("<frozen importlib"),
        "{}",
        out.report()
    );
}

/// `sys.exit(...)` at import time ends the run the way Python (and the
/// reference's `python -m bytewax.run`) would: with that exit code, and a
/// string argument printed as the message, without a traceback.
#[test]
fn module_calling_sys_exit_at_import_exits_with_its_code() {
    let dir = TempDir::new("sys_exit");
    dir.write(
        "exit5.py",
        "import sys\nprint('bye', flush=True)\nsys.exit(5)\n",
    );
    dir.write("exit0.py", "import sys\nsys.exit(0)\n");
    dir.write("exitmsg.py", "import sys\nsys.exit('config missing')\n");
    let out = bytewax(["run", "exit5.py"]).cwd(dir.path()).run();
    out.assert_code(5).assert_stdout_lines(&["bye"]);
    assert!(!out.stderr.contains("Traceback"), "{}", out.report());
    let out = bytewax(["run", "exit0.py"]).cwd(dir.path()).run();
    out.assert_code(0);
    assert!(!out.stderr.contains("Traceback"), "{}", out.report());
    let out = bytewax(["run", "exitmsg.py"]).cwd(dir.path()).run();
    out.assert_code(1).assert_stderr_has(&["config missing"]);
    assert!(!out.stderr.contains("Traceback"), "{}", out.report());
}

#[test]
fn factory_raising_exits_1_with_traceback() {
    let dir = app_dir();
    let out = bytewax(["run", "app.py:broken()"]).cwd(dir.path()).run();
    out.assert_code(1);
    out.assert_stderr_has(&[
        "Traceback",
        "app.py",
        "in broken",
        "RuntimeError: factory boom",
    ]);
    assert_eq!(
        count(&out.stderr, "RuntimeError: factory boom"),
        1,
        "{}",
        out.report()
    );
    assert!(out.stdout.is_empty(), "{}", out.report());
}

// ---------------------------------------------------------------------
// Exceptions in user code while the flow runs.

/// `make(kind)` builds a flow (id `errs`) whose step of the given kind
/// raises on item 3 (or on every call, for sinks and sources).
const ERRS: &str = r#"
from bytewax.inputs import DynamicSource, StatelessSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition


def explode_on_three(x):
    if x == 3:
        raise ValueError(f"mapper exploded on {x}")
    return x


def picky_predicate(x):
    if x == 3:
        raise ZeroDivisionError("predicate exploded")
    return x % 2 == 1


def nosy_inspector(step_id, x):
    if x == 3:
        raise LookupError("inspector exploded")


def keyed_folder(acc, x):
    if x == 3:
        raise KeyError("folder exploded")
    return acc + x


class FailingSinkPartition(StatelessSinkPartition):
    def write_batch(self, items):
        raise IsADirectoryError("sink exploded")


class FailingSink(DynamicSink):
    def build(self, worker_index, worker_count):
        return FailingSinkPartition()


class FailingSourcePartition(StatelessSourcePartition):
    def next_batch(self, sched):
        raise PermissionError("source exploded")


class FailingSource(DynamicSource):
    def build(self, now, worker_index, worker_count):
        return FailingSourcePartition()


@op.operator
def wrapper(step_id, up):
    return op.flat_map_batch("inner", up, lambda xs: [explode_on_three(x) for x in xs])


def make(kind):
    flow = Dataflow("errs")
    s = op.input("inp", flow, TestingSource([1, 2, 3, 4]))
    if kind == "map":
        s = op.map("mapper", s, explode_on_three)
    elif kind == "filter":
        s = op.filter("keep_odd", s, picky_predicate)
    elif kind == "branch":
        b = op.branch("split", s, picky_predicate)
        s = op.merge("rejoin", b.trues, b.falses)
    elif kind == "inspect":
        s = op.inspect("look", s, nosy_inspector)
    elif kind == "composite":
        s = wrapper("wrap", s)
    elif kind == "keyed":
        s = op.key_on("key", s, lambda x: "odd" if x % 2 else "even")
        s = op.fold_final("fold", s, lambda: 0, keyed_folder)
    elif kind == "sink":
        op.output("bad_out", s, FailingSink())
        return flow
    elif kind == "source":
        s = op.input("bad_in", flow, FailingSource())
    op.output("out", s, StdOutSink())
    return flow
"#;

struct ErrCase {
    kind: &'static str,
    /// The exception line, exactly as Python prints it.
    exception: &'static str,
    /// Text of the traceback that shows the user's code.
    user_frame: &'static str,
    /// The step id the note must name (a prefix of the fully qualified id).
    step: &'static str,
    /// Lines stdout may contain (items that got through before the error).
    allowed_stdout: &'static [&'static str],
    /// Extra text the note must contain.
    note_extra: &'static str,
}

const ERR_CASES: &[ErrCase] = &[
    ErrCase {
        kind: "map",
        exception: "ValueError: mapper exploded on 3",
        user_frame: "in explode_on_three",
        step: "'errs.mapper",
        allowed_stdout: &["1", "2", "4"],
        note_extra: "",
    },
    ErrCase {
        kind: "filter",
        exception: "ZeroDivisionError: predicate exploded",
        user_frame: "in picky_predicate",
        step: "'errs.keep_odd",
        allowed_stdout: &["1"],
        note_extra: "",
    },
    ErrCase {
        kind: "branch",
        exception: "ZeroDivisionError: predicate exploded",
        user_frame: "in picky_predicate",
        step: "'errs.split",
        allowed_stdout: &["1", "2", "4"],
        note_extra: "",
    },
    ErrCase {
        kind: "inspect",
        exception: "LookupError: inspector exploded",
        user_frame: "in nosy_inspector",
        step: "'errs.look",
        allowed_stdout: &["1", "2", "4"],
        note_extra: "",
    },
    ErrCase {
        kind: "composite",
        exception: "ValueError: mapper exploded on 3",
        user_frame: "in explode_on_three",
        step: "'errs.wrap.inner",
        allowed_stdout: &["1", "2", "4"],
        note_extra: "",
    },
    ErrCase {
        kind: "keyed",
        exception: "KeyError: 'folder exploded'",
        user_frame: "in keyed_folder",
        step: "'errs.fold",
        allowed_stdout: &["('even', 6)"],
        note_extra: " for key \"odd\"",
    },
    ErrCase {
        kind: "sink",
        exception: "IsADirectoryError: sink exploded",
        user_frame: "in write_batch",
        step: "'errs.bad_out",
        allowed_stdout: &[],
        note_extra: "",
    },
    ErrCase {
        kind: "source",
        exception: "PermissionError: source exploded",
        user_frame: "in next_batch",
        step: "'errs.bad_in",
        allowed_stdout: &["1", "2", "3", "4"],
        note_extra: "",
    },
];

#[test]
fn exception_in_user_code_exits_1_with_one_traceback_and_step_note() {
    let dir = TempDir::new("errs");
    write_flow(&dir, "errs.py", ERRS);
    let mut failures = Vec::new();
    for case in ERR_CASES {
        for workers in ["1", "2"] {
            let out = bytewax([
                "run",
                &format!("errs.py:make({:?})", case.kind),
                "-w",
                workers,
            ])
            .cwd(dir.path())
            .run();
            let mut problems = Vec::new();
            if out.code != Some(1) {
                problems.push(format!("exit code {:?}, expected 1", out.code));
            }
            for marker in common::PANIC_MARKERS {
                if out.stderr.contains(marker) {
                    problems.push(format!("`{marker}` on stderr"));
                }
            }
            let n = count(&out.stderr, case.exception);
            if n != 1 {
                problems.push(format!(
                    "`{}` appears {n} times on stderr, expected once",
                    case.exception
                ));
            }
            if count(&out.stderr, "Traceback (most recent call last)") != 1 {
                problems.push("expected exactly one traceback".into());
            }
            if !out.stderr.contains("errs.py") || !out.stderr.contains(case.user_frame) {
                problems.push(format!(
                    "the traceback should show the user's frame (`errs.py`, `{}`)",
                    case.user_frame
                ));
            }
            let note = out
                .stderr
                .lines()
                .find(|l| l.starts_with("while calling "))
                .map(str::to_string);
            match &note {
                None => problems.push("no `while calling ... in step ...` note".into()),
                Some(note) => {
                    if !note.contains(&format!("in step {}", case.step)) {
                        problems.push(format!("the note should name step {}'", case.step));
                    }
                    if !note.contains(" on worker ") {
                        problems.push("the note should name the worker".into());
                    }
                    if !note.ends_with(case.note_extra) {
                        problems.push(format!("the note should end with {:?}", case.note_extra));
                    }
                }
            }
            // The note comes after the exception line.
            if let (Some(e), Some(n)) = (
                out.stderr.find(case.exception),
                out.stderr.find("while calling "),
            ) {
                if n < e {
                    problems.push("the note should follow the exception line".into());
                }
            }
            for line in out.stdout_lines() {
                if !case.allowed_stdout.contains(&line.as_str()) {
                    problems.push(format!("unexpected stdout line {line:?}"));
                }
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "== {} -w {workers}: {}\n{}",
                    case.kind,
                    problems.join("; "),
                    out.report()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// ---------------------------------------------------------------------
// Ending a run: AbortExecution, Ctrl-C.

/// `make("abort")`: `TestingSource.ABORT()` after two items;
/// `make("error")`: a map raising on item 3. Meanwhile another input (a
/// dynamic source on every worker) never ends by itself and sleeps an hour
/// between polls, so its workers are parked when the run must stop.
const ABORT: &str = r#"
from bytewax.inputs import DynamicSource, StatelessSourcePartition


class NeverEnds(StatelessSourcePartition):
    def next_batch(self, sched):
        return []

    def next_awake(self):
        return datetime.now(timezone.utc) + timedelta(hours=1)


class NeverEndsSource(DynamicSource):
    def build(self, now, worker_index, worker_count):
        return NeverEnds()


def boom(x):
    if x == 3:
        raise ValueError("boom on 3")
    return x


def make(kind):
    flow = Dataflow("abort")
    if kind == "abort":
        s = op.input("inp", flow, TestingSource([1, 2, TestingSource.ABORT(), 3, 4]))
    else:
        s = op.input("inp", flow, TestingSource([1, 2, 3, 4]))
        s = op.map("boom", s, boom)
    op.output("out", s, StdOutSink())
    idle = op.input("idle", flow, NeverEndsSource())
    op.output("idle_out", idle, StdOutSink())
    return flow
"#;

#[test]
fn abort_execution_ends_the_run_with_exit_0_on_every_worker() {
    let dir = TempDir::new("abort");
    write_flow(&dir, "abort.py", ABORT);
    for workers in ["1", "2", "4"] {
        let out = bytewax(["run", "abort.py:make('abort')", "-w", workers])
            .cwd(dir.path())
            .timeout(Duration::from_secs(60))
            .run();
        out.assert_success();
        // Items after the abort are never read.
        out.assert_stdout_lines(&["1", "2"]);
    }
}

#[test]
fn an_error_stops_parked_workers_too() {
    let dir = TempDir::new("error_parked");
    write_flow(&dir, "abort.py", ABORT);
    for workers in ["1", "2", "4"] {
        let out = bytewax(["run", "abort.py:make('error')", "-w", workers])
            .cwd(dir.path())
            .timeout(Duration::from_secs(60))
            .run();
        out.assert_code(1);
        out.assert_stderr_has(&["ValueError: boom on 3", "in step 'abort.boom"]);
    }
}

/// Endless: every worker emits `tick W N` every 50 ms.
const ENDLESS: &str = r#"
from bytewax.inputs import DynamicSource, StatelessSourcePartition


class Tick(StatelessSourcePartition):
    def __init__(self, worker_index):
        self._w = worker_index
        self._n = 0
        self._next = datetime.now(timezone.utc)

    def next_batch(self, sched):
        self._n += 1
        self._next = datetime.now(timezone.utc) + timedelta(milliseconds=50)
        return [f"tick {self._w} {self._n}"]

    def next_awake(self):
        return self._next


class TickSource(DynamicSource):
    def build(self, now, worker_index, worker_count):
        return Tick(worker_index)


flow = Dataflow("endless")
op.output("out", op.input("inp", flow, TickSource()), StdOutSink())
"#;

/// Endless and busy in Python: the source spins for 100 ms per batch and a
/// map sleeps 300 ms per item.
const BUSY: &str = r#"
import time

from bytewax.inputs import DynamicSource, StatelessSourcePartition


class Busy(StatelessSourcePartition):
    def __init__(self, worker_index):
        self._w = worker_index
        self._n = 0

    def next_batch(self, sched):
        self._n += 1
        end = time.monotonic() + 0.1
        while time.monotonic() < end:
            pass
        return [f"tick {self._w} {self._n}"]


class BusySource(DynamicSource):
    def build(self, now, worker_index, worker_count):
        return Busy(worker_index)


def slow(x):
    time.sleep(0.3)
    return x


flow = Dataflow("busy")
s = op.input("inp", flow, BusySource())
op.output("out", op.map("slow", s, slow), StdOutSink())
"#;

/// Every worker prints one line, then its source sleeps an hour.
const PARKED: &str = r#"
from bytewax.inputs import DynamicSource, StatelessSourcePartition


class Once(StatelessSourcePartition):
    def __init__(self, worker_index):
        self._w = worker_index
        self._done = False

    def next_batch(self, sched):
        if self._done:
            return []
        self._done = True
        return [f"tick {self._w} once"]

    def next_awake(self):
        if self._done:
            return datetime.now(timezone.utc) + timedelta(hours=1)
        return None


class OnceSource(DynamicSource):
    def build(self, now, worker_index, worker_count):
        return Once(worker_index)


flow = Dataflow("parked")
op.output("out", op.input("inp", flow, OnceSource()), StdOutSink())
"#;

#[cfg(unix)]
#[test]
fn sigint_stops_an_endless_flow_with_130() {
    let dir = TempDir::new("sigint");
    write_flow(&dir, "endless.py", ENDLESS);
    write_flow(&dir, "busy.py", BUSY);
    write_flow(&dir, "parked.py", PARKED);
    for (file, workers) in [
        ("parked.py", "1"),
        ("parked.py", "3"),
        ("endless.py", "1"),
        ("endless.py", "2"),
        ("busy.py", "1"),
        ("busy.py", "2"),
    ] {
        let mut running = bytewax(["run", file, "-w", workers])
            .cwd(dir.path())
            .timeout(Duration::from_secs(120))
            .spawn();
        // React to progress: the flow is running once it has printed.
        let first = running.wait_for_line(Duration::from_secs(60), |l| l.starts_with("tick "));
        if first.is_none() {
            let out = running.wait_within(Duration::from_secs(1));
            panic!("{file} printed no tick\n{}", out.report());
        }
        running.signal("INT");
        let out = running.wait_within(Duration::from_secs(10));
        out.assert_code(130);
        for line in out.stdout_lines() {
            assert!(
                line.starts_with("tick "),
                "stdout should only have output lines, got {line:?}\n{}",
                out.report()
            );
        }
        assert!(!out.stderr.contains("Traceback"), "{}", out.report());
    }
}

/// Ctrl-C while the user's module is still being imported (a slow
/// module-level statement) ends the run with 130; the flow never starts.
#[cfg(unix)]
#[test]
fn sigint_during_module_import_exits_130() {
    let dir = TempDir::new("sigint_import");
    write_flow(
        &dir,
        "slow_import.py",
        r#"
import time

print("importing", flush=True)
time.sleep(30)

flow = Dataflow("slow_import")
op.output("out", op.input("inp", flow, TestingSource(["ran"])), StdOutSink())
"#,
    );
    let mut running = bytewax(["run", "slow_import.py"])
        .cwd(dir.path())
        .timeout(Duration::from_secs(120))
        .spawn();
    if running
        .wait_for_line(Duration::from_secs(60), |l| l == "importing")
        .is_none()
    {
        let out = running.wait_within(Duration::from_secs(1));
        panic!("the module never started importing\n{}", out.report());
    }
    running.signal("INT");
    let out = running.wait_within(Duration::from_secs(10));
    out.assert_code(130);
    assert!(
        !out.stdout.contains("ran"),
        "the flow must not run after Ctrl-C\n{}",
        out.report()
    );
}

/// Ctrl-C while a user function is blocked (here a sink sleeping 30 s
/// after printing) still ends a one-worker run promptly, as it does under
/// the reference (`python -m bytewax.run`, whose single worker runs on
/// Python's main thread, raises `KeyboardInterrupt` inside the sleep).
#[cfg(unix)]
#[test]
fn sigint_while_user_code_blocks_exits_130_promptly() {
    let dir = TempDir::new("sigint_blocked");
    write_flow(
        &dir,
        "blocked.py",
        r#"
import time

from bytewax.outputs import DynamicSink, StatelessSinkPartition


class SlowPartition(StatelessSinkPartition):
    def write_batch(self, items):
        for item in items:
            print(item, flush=True)
        time.sleep(30)


class SlowSink(DynamicSink):
    def build(self, worker_index, worker_count):
        return SlowPartition()


flow = Dataflow("blocked")
op.output("out", op.input("inp", flow, TestingSource([1, 2, 3])), SlowSink())
"#,
    );
    let mut running = bytewax(["run", "blocked.py", "-w", "1"])
        .cwd(dir.path())
        .timeout(Duration::from_secs(120))
        .spawn();
    if running
        .wait_for_line(Duration::from_secs(60), |l| l == "1")
        .is_none()
    {
        let out = running.wait_within(Duration::from_secs(1));
        panic!("the flow printed nothing\n{}", out.report());
    }
    running.signal("INT");
    let out = running.wait_within(Duration::from_secs(10));
    out.assert_code(130);
}

/// `bytewax python` handles Ctrl-C like `python`: `KeyboardInterrupt` with
/// a traceback, and the process ends by SIGINT (or with 130).
#[cfg(unix)]
#[test]
fn python_subcommand_handles_sigint_like_python() {
    let dir = TempDir::new("py_sigint");
    dir.write(
        "loop.py",
        "import time\nprint('start', flush=True)\nwhile True:\n    time.sleep(0.05)\n",
    );
    let mut running = bytewax(["python", "loop.py"])
        .cwd(dir.path())
        .timeout(Duration::from_secs(120))
        .spawn();
    if running
        .wait_for_line(Duration::from_secs(60), |l| l == "start")
        .is_none()
    {
        let out = running.wait_within(Duration::from_secs(1));
        panic!("the script printed nothing\n{}", out.report());
    }
    running.signal("INT");
    let out = running.wait_within(Duration::from_secs(10));
    assert!(
        out.signal == Some(2) || out.code == Some(130),
        "expected death by SIGINT or exit code 130\n{}",
        out.report()
    );
    out.assert_no_panic();
    out.assert_stderr_has(&["KeyboardInterrupt", "loop.py"]);
}

// ---------------------------------------------------------------------
// Runtime semantics visible from the CLI.

/// `build` of a DynamicSource prints its arguments; each worker's
/// partition emits one item.
const DYNAMIC: &str = r#"
from bytewax.inputs import DynamicSource, StatelessSourcePartition


class OnePartition(StatelessSourcePartition):
    def __init__(self, worker_index, worker_count):
        self._items = [f"item {worker_index}/{worker_count}"]

    def next_batch(self, sched):
        if not self._items:
            raise StopIteration()
        items, self._items = self._items, []
        return items


class PerWorker(DynamicSource):
    def build(self, now, worker_index, worker_count):
        print(f"build {worker_index} {worker_count}", flush=True)
        return OnePartition(worker_index, worker_count)


flow = Dataflow("dyn")
op.output("out", op.input("inp", flow, PerWorker()), StdOutSink())
"#;

#[test]
fn dynamic_source_is_built_once_per_worker() {
    let dir = TempDir::new("dynamic");
    write_flow(&dir, "dyn.py", DYNAMIC);
    for workers in [1u32, 2, 3, 4] {
        let mut expected = Vec::new();
        for i in 0..workers {
            expected.push(format!("build {i} {workers}"));
            expected.push(format!("item {i}/{workers}"));
        }
        let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        bytewax(["run", "dyn.py", "-w", &workers.to_string()])
            .cwd(dir.path())
            .run()
            .assert_success()
            .assert_sorted_stdout(&expected);
    }
}

/// A FixedPartitionedSource with five partitions of three items each;
/// `build_part` prints; every item is shown with the worker that read it.
const FIXED: &str = r#"
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

PARTS = [f"p{i}" for i in range(5)]


class Part(StatefulSourcePartition):
    def __init__(self, name):
        self._items = [f"{name}-{j}" for j in range(3)]

    def next_batch(self, sched):
        if not self._items:
            raise StopIteration()
        return [self._items.pop(0)]

    def snapshot(self):
        return None


class Five(FixedPartitionedSource):
    def list_parts(self):
        return PARTS

    def build_part(self, now, for_part, resume_state):
        print(f"build_part {for_part} resume={resume_state!r}", flush=True)
        return Part(for_part)


def show(step_id, item, epoch, worker):
    print(f"read {item} W{worker}", flush=True)


flow = Dataflow("fixed")
s = op.input("inp", flow, Five())
op.inspect_debug("where", s, show)
"#;

#[test]
fn fixed_partitioned_source_reads_every_partition_once_spread_over_workers() {
    let dir = TempDir::new("fixed");
    write_flow(&dir, "fixed.py", FIXED);
    for workers in [1usize, 2, 3] {
        let out = bytewax(["run", "fixed.py", "-w", &workers.to_string()])
            .cwd(dir.path())
            .run();
        out.assert_success();
        let stdout = out.stdout_lines();
        let mut builds: Vec<&str> = stdout
            .iter()
            .filter(|l| l.starts_with("build_part "))
            .map(String::as_str)
            .collect();
        builds.sort();
        let want: Vec<String> = (0..5)
            .map(|i| format!("build_part p{i} resume=None"))
            .collect();
        assert_eq!(
            builds,
            want,
            "each partition is built once\n{}",
            out.report()
        );

        let reads: Vec<(&str, usize)> = stdout
            .iter()
            .filter_map(|l| l.strip_prefix("read "))
            .map(|rest| {
                let (item, w) = rest.rsplit_once(" W").expect("`read ITEM WN`");
                (item, w.parse().expect("worker index"))
            })
            .collect();
        let mut items: Vec<&str> = reads.iter().map(|(i, _)| *i).collect();
        items.sort();
        let want: Vec<String> = (0..5)
            .flat_map(|i| (0..3).map(move |j| format!("p{i}-{j}")))
            .collect();
        assert_eq!(
            items,
            want,
            "every item read exactly once\n{}",
            out.report()
        );
        // A partition is read by one worker, and every worker gets some.
        let mut owner = std::collections::BTreeMap::new();
        for (item, w) in &reads {
            let part = item.split('-').next().unwrap();
            let prev = owner.insert(part, *w);
            assert!(
                prev.is_none() || prev == Some(*w),
                "partition {part} read by two workers\n{}",
                out.report()
            );
        }
        for w in 0..workers {
            assert!(
                owner.values().any(|&o| o == w),
                "worker {w} reads no partition of five with -w {workers}: {owner:?}\n{}",
                out.report()
            );
        }
    }
}

/// `make(n, ms)`: worker 0 emits `n` items, waiting `ms` between them via
/// `next_awake`; each item records when it was read; `inspect_debug`
/// shows epochs.
const PACED: &str = r#"
from bytewax.inputs import DynamicSource, StatelessSourcePartition


class Paced(StatelessSourcePartition):
    def __init__(self, n, gap):
        self._i = 0
        self._n = n
        self._gap = gap
        self._next = None

    def next_batch(self, sched):
        read_at = datetime.now(timezone.utc)
        if self._i >= self._n:
            raise StopIteration()
        self._i += 1
        self._next = datetime.now(timezone.utc) + self._gap
        return [(self._i, read_at.timestamp())]

    def next_awake(self):
        return self._next


class PacedSource(DynamicSource):
    def __init__(self, n, gap):
        self._n = n
        self._gap = gap

    def build(self, now, worker_index, worker_count):
        return Paced(self._n if worker_index == 0 else 0, self._gap)


def make(n, ms):
    flow = Dataflow("paced")
    s = op.input("inp", flow, PacedSource(n, timedelta(milliseconds=ms)))
    s = op.inspect_debug("dbg", s)
    op.output("out", op.map("fmt", s, lambda x: f"item {x[0]} at {x[1]:.6f}"), StdOutSink())
    return flow
"#;

#[test]
fn next_awake_paces_a_source() {
    let dir = TempDir::new("paced");
    write_flow(&dir, "paced.py", PACED);
    let gap = 100.0_f64;
    for workers in ["1", "2"] {
        let out = bytewax(["run", "paced.py:make(5, 100)", "-w", workers])
            .cwd(dir.path())
            .run();
        out.assert_success();
        let mut stamps: Vec<(u32, f64)> = out
            .stdout_lines()
            .iter()
            .filter_map(|l| l.strip_prefix("item "))
            .map(|rest| {
                let (i, t) = rest.split_once(" at ").unwrap();
                (i.parse().unwrap(), t.parse().unwrap())
            })
            .collect();
        stamps.sort_by_key(|(i, _)| *i);
        assert_eq!(
            stamps.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5],
            "{}",
            out.report()
        );
        for pair in stamps.windows(2) {
            let spacing_ms = (pair[1].1 - pair[0].1) * 1000.0;
            // Never early (1 ms of slack for clock rounding).
            assert!(
                spacing_ms >= gap - 1.0,
                "items {} and {} were read {spacing_ms:.1} ms apart; next_awake asked for {gap} ms\n{}",
                pair[0].0,
                pair[1].0,
                out.report()
            );
        }
        assert!(
            out.elapsed >= Duration::from_millis(400),
            "5 items 100 ms apart cannot take {:?}",
            out.elapsed
        );
    }
}

#[test]
fn stdout_has_only_flow_output_even_with_logs_on() {
    let dir = app_dir();
    for workers in ["1", "4"] {
        let out = bytewax(["run", "app.py", "-w", workers, "--log-level", "trace"])
            .cwd(dir.path())
            .run();
        out.assert_success().assert_stdout_lines(&["1", "2", "3"]);
        assert!(
            !out.stderr.is_empty(),
            "trace logging should say something on stderr"
        );
        let out = bytewax(["run", "app.py", "-w", workers])
            .env("BYTEWAX_LOG_LEVEL", "debug")
            .cwd(dir.path())
            .run();
        out.assert_success().assert_stdout_lines(&["1", "2", "3"]);
        assert!(
            !out.stdout.to_lowercase().contains("awaiting connections"),
            "{}",
            out.report()
        );
    }
    // The default level (WARN) is quiet for a healthy run.
    let out = bytewax(["run", "app.py", "-w", "2"]).cwd(dir.path()).run();
    out.assert_success();
    assert!(out.stderr.is_empty(), "{}", out.report());
}

// ---------------------------------------------------------------------
// `bytewax python`.

#[test]
fn python_dash_c_and_exit_codes() {
    let out = bytewax([
        "python",
        "-c",
        "import sys, bytewax.operators as op; print('hi', sys.argv[1:], op.map.__name__)",
        "a",
        "-w",
    ])
    .run();
    out.assert_success()
        .assert_stdout_lines(&["hi ['a', '-w'] map"]);

    let out = bytewax(["python", "-c", "import sys; sys.exit(3)"]).run();
    out.assert_code(3);
    let out = bytewax(["python", "-c", "raise SystemExit('bye')"]).run();
    out.assert_code(1);
    out.assert_stderr_has(&["bye"]);
    let out = bytewax(["python", "-c", "raise ValueError('nope')"]).run();
    out.assert_code(1);
    out.assert_stderr_has(&["Traceback", "ValueError: nope"]);
    let out = bytewax(["python", "--version"]).run();
    out.assert_success();
    assert!(out.stdout.starts_with("Python 3."), "{}", out.report());
}

/// The package starts from bytecode built into the binary; under `-O`
/// (whose bytecode differs) it is compiled from the embedded sources, and
/// tracebacks point into those sources either way.
#[test]
fn python_optimised_runs_compile_the_embedded_sources() {
    let probe = "import bytewax.operators as o, bytewax.dataflow as d\n\
                 print(o.__loader__._use_code)\n\
                 o.map('m', d.Dataflow('x'), None)";
    let out = bytewax(["python", "-c", probe]).run();
    out.assert_code(1)
        .assert_stdout_lines(&["True"])
        .assert_stderr_has(&[
            "File \"<embedded>/bytewax/dataflow.py\", line",
            "'up' argument must be a `Stream`",
        ]);
    let out = bytewax(["python", "-O", "-c", probe]).run();
    out.assert_code(1)
        .assert_stdout_lines(&["False"])
        .assert_stderr_has(&[
            "File \"<embedded>/bytewax/dataflow.py\", line",
            "'up' argument must be a `Stream`",
        ]);
}

#[test]
fn python_runs_scripts_and_modules() {
    let dir = TempDir::new("pyscript");
    dir.write(
        "script.py",
        "import sys\nimport bytewax\nprint('args', sys.argv[1:])\nsys.exit(int(sys.argv[1]))\n",
    );
    dir.write(
        "mymod.py",
        "import sys\nif __name__ == '__main__':\n    print('main of mymod', sys.argv[1:])\n",
    );
    let out = bytewax(["python", "script.py", "4", "--flag", "x y"])
        .cwd(dir.path())
        .run();
    out.assert_code(4)
        .assert_stdout_lines(&["args ['4', '--flag', 'x y']"]);
    let out = bytewax(["python", "script.py", "0"]).cwd(dir.path()).run();
    out.assert_success();

    let out = bytewax(["python", "-m", "mymod", "-s", "5"])
        .cwd(dir.path())
        .run();
    out.assert_success()
        .assert_stdout_lines(&["main of mymod ['-s', '5']"]);

    // A standard-library module that reads stdin.
    let out = bytewax(["python", "-m", "json.tool", "--compact"])
        .stdin("{\"a\": [1, 2]}\n")
        .run();
    out.assert_success().assert_stdout_lines(&["{\"a\":[1,2]}"]);

    let out = bytewax(["python", "-m", "no_such_module_xyz"]).run();
    out.assert_code(1);
    out.assert_stderr_has(&["no_such_module_xyz"]);
}

/// The 0.18 ways of running a flow from Python work under `bytewax python`.
#[test]
fn python_runs_flows_like_the_reference_modules() {
    let dir = app_dir();
    bytewax(["python", "-m", "bytewax.run", "app.py", "-w", "2"])
        .cwd(dir.path())
        .run()
        .assert_success()
        .assert_sorted_stdout(&["1", "2", "3"]);
    let out = bytewax(["python", "-m", "bytewax.run", "app.py:nope"])
        .cwd(dir.path())
        .run();
    out.assert_code(2);
    out.assert_stderr_has(&["nope"]);
    bytewax([
        "python",
        "-c",
        "import app\nfrom bytewax.testing import run_main, cluster_main\nrun_main(app.flow)\ncluster_main(app.other, [], 0, worker_count_per_proc=2)",
    ])
    .cwd(dir.path())
    .run()
    .assert_success()
    .assert_stdout_lines(&["1", "2", "3", "o"]);
}

#[test]
fn python_reads_a_program_from_stdin_and_runs_a_repl() {
    let out = bytewax(["python"])
        .stdin("x = 6 * 7\nprint('answer', x)\nimport bytewax.testing\nprint(bytewax.testing.TestingSource.__name__)\n")
        .run();
    out.assert_success()
        .assert_stdout_lines(&["answer 42", "TestingSource"]);

    let out = bytewax(["python", "-"])
        .stdin("import sys\nsys.exit(5)\n")
        .run();
    out.assert_code(5);

    // `-i` forces the interactive prompt even though stdin is a pipe.
    let out = bytewax(["python", "-i", "-q"])
        .stdin("1 + 41\nfrom bytewax.dataflow import Dataflow\nDataflow('repl').flow_id\n")
        .run();
    out.assert_success();
    out.assert_stdout_has(&["42", "'repl'"]);
}

// ---------------------------------------------------------------------
// Virtualenvs.

/// Makes a virtualenv (without pip, it is not needed) with the embedded
/// interpreter's own `python`, so its version matches.
fn make_venv(dir: &TempDir, name: &str) -> std::path::PathBuf {
    let python = embedded_python_executable();
    let venv = dir.join(name);
    Cmd::new(&python)
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .timeout(Duration::from_secs(120))
        .run()
        .assert_success();
    venv
}

const VENV_FLOW: &str = r#"
import sys

import bytewax
import venvmod_xyz

flow = Dataflow("venv")
items = [venvmod_xyz.GREETING, f"prefix={sys.prefix}", f"bytewax={bytewax.__file__}"]
op.output("out", op.input("inp", flow, TestingSource(items)), StdOutSink())
"#;

#[test]
fn virtual_env_packages_are_importable() {
    let dir = TempDir::new("venv");
    let venv = make_venv(&dir, "venv");
    let site = venv_site_packages(&venv);
    std::fs::write(
        site.join("venvmod_xyz.py"),
        "GREETING = 'hello from the venv'\n",
    )
    .unwrap();
    write_flow(&dir, "uses_venv.py", VENV_FLOW);
    let venv_str = venv.to_string_lossy().into_owned();

    let out = bytewax(["run", "uses_venv.py"])
        .env("VIRTUAL_ENV", &venv)
        .cwd(dir.path())
        .run();
    out.assert_success();
    let stdout = out.stdout_lines();
    assert_eq!(
        stdout.first().map(String::as_str),
        Some("hello from the venv"),
        "{}",
        out.report()
    );
    assert!(
        stdout.contains(&format!("prefix={venv_str}")),
        "sys.prefix should be the venv\n{}",
        out.report()
    );

    let out = bytewax([
        "python",
        "-c",
        "import venvmod_xyz, sys; print(venvmod_xyz.GREETING); print(sys.prefix)",
    ])
    .env("VIRTUAL_ENV", &venv)
    .run();
    out.assert_success()
        .assert_stdout_lines(&["hello from the venv", &venv_str]);

    // Without the venv the module is not there: the flow's own import
    // failure (exit 1, traceback).
    let out = bytewax(["run", "uses_venv.py"]).cwd(dir.path()).run();
    out.assert_code(1);
    out.assert_stderr_has(&["venvmod_xyz"]);
}

#[test]
fn embedded_bytewax_wins_over_one_installed_in_the_venv() {
    let dir = TempDir::new("venv_shadow");
    let venv = make_venv(&dir, "venv");
    let site = venv_site_packages(&venv);
    std::fs::write(site.join("venvmod_xyz.py"), "GREETING = 'hi'\n").unwrap();
    std::fs::create_dir_all(site.join("bytewax")).unwrap();
    std::fs::write(
        site.join("bytewax/__init__.py"),
        "raise RuntimeError('the pip-installed bytewax was imported')\n",
    )
    .unwrap();
    write_flow(&dir, "uses_venv.py", VENV_FLOW);
    let out = bytewax(["run", "uses_venv.py", "-w", "2"])
        .env("VIRTUAL_ENV", &venv)
        .cwd(dir.path())
        .run();
    out.assert_success();
    assert!(
        !out.stdout.contains(&site.to_string_lossy().into_owned()),
        "bytewax was imported from the venv\n{}",
        out.report()
    );
    let warnings = out
        .stderr_lines()
        .iter()
        .filter(|l| l.contains("WARN") && l.contains(&site.to_string_lossy().into_owned()))
        .count();
    assert_eq!(
        warnings,
        1,
        "warn once that a second bytewax is installed\n{}",
        out.report()
    );
}

#[test]
fn virtual_env_that_is_not_a_venv_is_a_usage_error() {
    let dir = app_dir();
    let not_venv = dir.mkdir("not_a_venv");
    let out = bytewax(["run", "app.py"])
        .env("VIRTUAL_ENV", &not_venv)
        .cwd(dir.path())
        .run();
    assert_usage_error(&out, &["VIRTUAL_ENV", "not_a_venv"]);
    let out = bytewax(["python", "-c", "print(1)"])
        .env("VIRTUAL_ENV", &not_venv)
        .run();
    assert_usage_error(&out, &["VIRTUAL_ENV", "not_a_venv"]);
}

#[test]
fn virtual_env_for_another_python_version_is_a_usage_error() {
    let dir = app_dir();
    let fake = dir.mkdir("old_venv");
    std::fs::create_dir_all(fake.join("bin")).unwrap();
    let python = embedded_python_executable();
    let _ = std::os::unix::fs::symlink(&python, fake.join("bin/python"));
    std::fs::write(
        fake.join("pyvenv.cfg"),
        format!(
            "home = {}\ninclude-system-site-packages = false\nversion = 3.2.1\n",
            python.parent().unwrap_or(Path::new("/")).display()
        ),
    )
    .unwrap();
    let out = bytewax(["run", "app.py"])
        .env("VIRTUAL_ENV", &fake)
        .cwd(dir.path())
        .run();
    assert_usage_error(&out, &["3.2.1", "old_venv"]);
    let out = bytewax(["python", "-c", "print(1)"])
        .env("VIRTUAL_ENV", &fake)
        .run();
    assert_usage_error(&out, &["3.2.1"]);
}

/// Lines of a flow's stdout never include timely's connection chatter.
#[test]
fn no_timely_chatter_on_stdout() {
    let dir = app_dir();
    for workers in ["1", "2", "4"] {
        let out = bytewax(["run", "app.py", "-w", workers])
            .cwd(dir.path())
            .run();
        out.assert_success();
        assert_eq!(lines(&out.stdout), ["1", "2", "3"], "{}", out.report());
    }
}

/// The binary finds its libpython and standard library by itself.
#[test]
fn runs_without_library_or_python_paths_from_the_environment() {
    let dir = app_dir();
    let out = bytewax(["run", "app.py"])
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("PYTHONHOME")
        .cwd(dir.path())
        .run();
    out.assert_success().assert_stdout_lines(&["1", "2", "3"]);
    let out = bytewax(["python", "-c", "import json, sqlite3, bytewax; print('ok')"])
        .env_remove("LD_LIBRARY_PATH")
        .cwd("/")
        .run();
    out.assert_success().assert_stdout_lines(&["ok"]);
}

#[test]
fn prelude_is_valid_python() {
    // Guards the helpers: a typo in PRELUDE would make every flow fail for
    // the wrong reason.
    let out = bytewax(["python", "-c", PRELUDE]).run();
    out.assert_success();
}

// ---------------------------------------------------------------------
// Reports on stdout: a reader that goes away, a disk that is full.

/// A pipe whose read end is already closed: every write to the other end
/// fails with `EPIPE`, whenever the child gets to it.
fn closed_pipe() -> std::process::Stdio {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: `pipe` fills both descriptors; the read end is closed at
    // once and the write end is owned by the returned `Stdio`.
    unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0, "pipe failed");
        libc::close(fds[0]);
        std::process::Stdio::from_raw_fd(fds[1])
    }
}

#[test]
fn reports_to_a_closed_pipe_or_a_full_disk_end_without_a_panic() {
    let dir = TempDir::new("stdout_errors");
    write_flow(
        &dir,
        "flow.py",
        "flow = Dataflow(\"g\")\nop.output(\"out\", op.input(\"inp\", flow, TestingSource([1])), StdOutSink())\n",
    );
    bytewax(["init-db", "state", "1"])
        .cwd(dir.path())
        .run()
        .assert_success();
    let commands: &[&[&str]] = &[
        &["graph", "flow.py"],
        &["graph", "flow.py", "--format", "dot"],
        &["recovery", "inspect", "state"],
        &["completions", "bash"],
        &["init-db", "new-state", "1"],
    ];
    let mut failures = Vec::new();
    for args in commands {
        for (sink, want_code) in [("closed pipe", 0), ("/dev/full", 1)] {
            let _ = std::fs::remove_dir_all(dir.join("new-state"));
            let stdout = if sink == "closed pipe" {
                closed_pipe()
            } else {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .expect("/dev/full")
                    .into()
            };
            let out = std::process::Command::new(common::BIN)
                .args(*args)
                .current_dir(dir.path())
                .stdout(stdout)
                .output()
                .expect("run bytewax");
            let stderr = String::from_utf8_lossy(&out.stderr);
            let mut problems = Vec::new();
            if out.status.code() != Some(want_code) {
                problems.push(format!("exit {:?}, want {want_code}", out.status.code()));
            }
            if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
                problems.push("a Rust panic".to_string());
            }
            if want_code == 1 && !stderr.contains("error: cannot write to stdout") {
                problems.push("no `cannot write to stdout` error".to_string());
            }
            if want_code == 0 && !stderr.is_empty() {
                problems.push("printed on stderr".to_string());
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "`bytewax {}` to {sink}: {}\n{stderr}",
                    args.join(" "),
                    problems.join("; ")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn an_input_with_no_partitions_anywhere_is_warned_about() {
    let dir = TempDir::new("no_partitions");
    write_flow(
        &dir,
        "flow.py",
        "from bytewax.connectors.files import FileSource\n\
         flow = Dataflow(\"np\")\n\
         op.output(\"out\", op.input(\"inp\", flow, FileSource(\"mistyped.txt\")), StdOutSink())\n",
    );
    for workers in ["1", "2"] {
        let out = bytewax(["run", "flow.py", "-w", workers])
            .cwd(dir.path())
            .run();
        // As in 0.18 the run succeeds with no output, but not in silence.
        out.assert_success();
        assert!(out.stdout.is_empty(), "{}", out.report());
        out.assert_stderr_has(&["WARN", "input step 'np.inp' has no partitions"]);
        assert_eq!(
            count(&out.stderr, "has no partitions"),
            1,
            "said once, not per worker\n{}",
            out.report()
        );
    }
}

#[test]
fn the_flow_module_sees_sys_argv_as_under_python_m_bytewax_run() {
    // 0.18 flows that read their own arguments find the import string at
    // `sys.argv[1]`, as `python -m bytewax.run app.py:flow ...` gives it.
    let dir = TempDir::new("sys_argv");
    write_flow(
        &dir,
        "app.py",
        "import sys\n\
         print('argv', sys.argv[1:])\n\
         flow = Dataflow(\"a\")\n\
         op.output(\"out\", op.input(\"inp\", flow, TestingSource([1])), StdOutSink())\n",
    );
    let out = bytewax(["run", "app.py:flow", "-w", "1", "-s", "5"])
        .cwd(dir.path())
        .run();
    out.assert_success();
    out.assert_stdout_lines(&["argv ['app.py:flow', '-w', '1', '-s', '5']", "1"]);
    let out = bytewax(["python", "-m", "bytewax.run", "app.py:flow", "-w", "1"])
        .cwd(dir.path())
        .run();
    out.assert_success();
    out.assert_stdout_lines(&["argv ['app.py:flow', '-w', '1']", "1"]);
}
