//! Recovery, end to end: `bytewax init-db`, `bytewax run -r`, `bytewax
//! recovery inspect`, the recovery errors (from Python and from the
//! command line), crashes (SIGKILL at seeded random points, triggered by
//! observed output) and resumes, garbage collection of old snapshots, and
//! the snapshot serdes.
//!
//! Crash tests pick their kill points from a seeded generator; the seed is
//! printed on stderr, and `BYTEWAX_TEST_SEED=N` replays a run.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{bytewax, count, lines, multiset_diff, tools_venv, write_flow, Cmd, Output, TempDir};

// ---------------------------------------------------------------------
// Helpers.

/// `bytewax init-db DIR COUNT`, which must succeed.
fn init_db(dir: &Path, parts: u32) {
    bytewax([
        "init-db".as_ref(),
        dir.as_os_str(),
        parts.to_string().as_ref(),
    ])
    .run()
    .assert_success();
}

/// `bytewax recovery inspect DIR`, which must succeed; its stdout.
fn inspect(dir: &Path) -> String {
    let out = bytewax(["recovery".as_ref(), "inspect".as_ref(), dir.as_os_str()]).run();
    out.assert_success();
    out.stdout
}

/// `bytewax run FLOW -r DIR ARGS...` (ARGS give `-s`, `-b`, `-w`, ...).
fn run_rec(cwd: &Path, flow: &str, dir: &Path, args: &[&str]) -> Cmd {
    bytewax(["run", flow])
        .arg("-r")
        .arg(dir)
        .args(args)
        .cwd(cwd)
}

/// Every file in `dir` (recursively), by relative path, with its bytes.
fn dir_contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(root, &path, out);
            } else {
                let bytes = std::fs::read(&path)
                    .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
                out.insert(rel, bytes);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Fails unless `dir` holds exactly the files of `before`, byte for byte.
#[track_caller]
fn assert_dir_unchanged(before: &BTreeMap<String, Vec<u8>>, dir: &Path, what: &str) {
    let after = dir_contents(dir);
    let names_before: Vec<&String> = before.keys().collect();
    let names_after: Vec<&String> = after.keys().collect();
    assert_eq!(
        names_before,
        names_after,
        "{what}: the set of files in {} changed",
        dir.display()
    );
    for (name, bytes) in before {
        assert!(
            after[name] == *bytes,
            "{what}: `{name}` in {} changed ({} bytes before, {} after)",
            dir.display(),
            bytes.len(),
            after[name].len()
        );
    }
}

/// Python's `repr` of `(key, n)` for a plain ASCII key.
fn tup(key: &str, n: i64) -> String {
    format!("('{key}', {n})")
}

/// Python literal of a list of `(str, int)` tuples.
fn py_pairs(items: &[(String, i64)]) -> String {
    let body: Vec<String> = items.iter().map(|(k, v)| tup(k, *v)).collect();
    format!("[{}]", body.join(", "))
}

/// A flow (module-level `flow`) keeping a running sum per key over
/// `segments`, each segment followed by `TestingSource.EOF()`, so that run
/// number `r` (with recovery) reads segment `r`. Prints `(key, sum)`.
fn running_sum_flow(name: &str, segments: &[Vec<(String, i64)>]) -> String {
    let segs: Vec<String> = segments.iter().map(|s| py_pairs(s)).collect();
    format!(
        r#"
SEGMENTS = [{segs}]
INP = []
for seg in SEGMENTS:
    INP.extend(seg)
    INP.append(TestingSource.EOF())


def add(total, x):
    total += x
    return total, total


flow = Dataflow("{name}")
s = op.input("inp", flow, TestingSource(INP, batch_size=3))
s = op.stateful_map("sum", s, lambda: 0, add)
op.output("out", s, StdOutSink())
"#,
        segs = segs.join(",\n    ")
    )
}

/// What `running_sum_flow` prints in each run, in input order.
fn running_sum_expected(segments: &[Vec<(String, i64)>]) -> Vec<Vec<String>> {
    let mut totals: BTreeMap<String, i64> = BTreeMap::new();
    segments
        .iter()
        .map(|seg| {
            seg.iter()
                .map(|(k, v)| {
                    let t = totals.entry(k.clone()).or_default();
                    *t += v;
                    tup(k, *t)
                })
                .collect()
        })
        .collect()
}

/// The `(rows, live keys)` of the first step whose id starts with
/// `prefix` in an inspect report.
fn step_rows(report: &str, prefix: &str) -> Option<(u64, u64)> {
    for line in report.lines() {
        let t = line.trim();
        if !t.starts_with(prefix) || !t.ends_with(" keys") {
            continue;
        }
        let rest = t.split_whitespace().collect::<Vec<_>>();
        // [step, N, "rows,", K, "keys"]
        if rest.len() == 5 && rest[2] == "rows," {
            return Some((rest[1].parse().ok()?, rest[3].parse().ok()?));
        }
    }
    None
}

/// The `Next run:` line of an inspect report (empty if there is none).
fn next_run_line(report: &str) -> &str {
    report
        .lines()
        .find(|l| l.starts_with("Next run:"))
        .unwrap_or_default()
}

/// The epoch the next run resumes at, per an inspect report.
fn next_resume_epoch(report: &str) -> Option<u64> {
    let line = next_run_line(report);
    let after = line.split("resumes at epoch ").nth(1)?;
    after.split_whitespace().next()?.parse().ok()
}

/// A small deterministic generator (xorshift64*) for kill points.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// The seed for a crash test: `BYTEWAX_TEST_SEED` or `default`, printed so
/// a failure can be replayed.
fn seed(test: &str, default: u64) -> u64 {
    let seed = std::env::var("BYTEWAX_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    eprintln!("{test}: seed {seed} (replay with BYTEWAX_TEST_SEED={seed})");
    seed
}

const JSONPICKLE_WARNING: &str = "`jsonpickle` package is not installed";

// ---------------------------------------------------------------------
// init-db.

#[test]
fn init_db_creates_missing_directories_and_partitions() {
    let tmp = TempDir::new("initdb");
    let dir = tmp.join("a/b/state");
    let out = bytewax(["init-db".as_ref(), dir.as_os_str(), "3".as_ref()]).run();
    out.assert_success();
    assert!(
        out.stdout.contains("Created 3 recovery partitions"),
        "init-db should say what it did\n{}",
        out.report()
    );
    let files = dir_contents(&dir);
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["part-0.sqlite3", "part-1.sqlite3", "part-2.sqlite3"],
        "init-db 3 should leave exactly three partition files (no temporaries)"
    );
    for (name, bytes) in &files {
        assert!(
            bytes.starts_with(b"SQLite format 3\0"),
            "{name} is not an SQLite database"
        );
    }
    let report = inspect(&dir);
    for needle in [
        "Partitions: 3 file(s)",
        "partition 0 of 3",
        "partition 1 of 3",
        "partition 2 of 3",
        "none yet",
        "Next run: execution #0 resumes at epoch 1 over 3 partition(s)",
    ] {
        assert!(
            report.contains(needle),
            "inspect of a fresh directory should contain {needle:?}:\n{report}"
        );
    }
    // Inspect only reads.
    assert_eq!(dir_contents(&dir), files, "inspect changed the partitions");
}

#[test]
fn init_db_refuses_to_overwrite_existing_partitions() {
    let tmp = TempDir::new("initdb-again");
    let dir = tmp.join("state");
    init_db(&dir, 2);
    let before = dir_contents(&dir);
    for count in ["2", "5", "1"] {
        let out = bytewax(["init-db".as_ref(), dir.as_os_str(), count.as_ref()]).run();
        out.assert_code(2);
        assert!(out.stdout.is_empty(), "{}", out.report());
        out.assert_stderr_has(&[
            "error:",
            "already holds recovery partitions",
            "part-0.sqlite3",
            "part-1.sqlite3",
        ]);
        assert!(!out.stderr.contains("Traceback"), "{}", out.report());
        assert_dir_unchanged(
            &before,
            &dir,
            &format!("init-db {count} over existing partitions"),
        );
    }
    // A directory that exists but holds no partitions is fine.
    let other = tmp.mkdir("empty");
    tmp.write("empty/notes.txt", "keep me\n");
    init_db(&other, 1);
    let names: Vec<String> = dir_contents(&other).into_keys().collect();
    assert_eq!(names, ["notes.txt", "part-0.sqlite3"]);
}

#[test]
fn init_db_killed_part_way_leaves_nothing_a_rerun_refuses() {
    let tmp = TempDir::new("initdb-killed");
    let dir = tmp.join("state");
    let run = bytewax(["init-db".as_ref(), dir.as_os_str(), "5000".as_ref()])
        .timeout(Duration::from_secs(120))
        .spawn();
    // Kill it once it has made some partitions, well before it is done
    // (5,000 take several seconds).
    let made = |dir: &Path| {
        std::fs::read_dir(dir)
            .map(|entries| entries.flatten().count())
            .unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while made(&dir) < 20 && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert!(made(&dir) >= 20, "init-db made no partitions");
    run.signal("KILL");
    let out = run.wait();
    assert_ne!(out.code, Some(0), "init-db was killed\n{}", out.report());
    let names: Vec<String> = dir_contents(&dir).into_keys().collect();
    assert!(
        names.iter().all(|n| n.starts_with(".part-")),
        "only temporary files may be left after a kill: {names:?}"
    );
    // What is left is neither refused nor kept.
    init_db(&dir, 3);
    let names: Vec<String> = dir_contents(&dir).into_keys().collect();
    assert_eq!(
        names,
        ["part-0.sqlite3", "part-1.sqlite3", "part-2.sqlite3"]
    );
}

#[test]
fn init_db_rejects_zero_and_bad_counts() {
    let tmp = TempDir::new("initdb-zero");
    let dir = tmp.join("state");
    let out = bytewax(["init-db".as_ref(), dir.as_os_str(), "0".as_ref()]).run();
    out.assert_code(2);
    out.assert_stderr_has(&["error:", "at least 1"]);
    assert!(
        !dir.exists(),
        "a refused init-db must not create the directory"
    );
    for bad in ["-1", "two", "1.5"] {
        let out = bytewax(["init-db".as_ref(), dir.as_os_str(), bad.as_ref()]).run();
        out.assert_code(2);
        assert!(!dir.exists(), "init-db {bad} created the directory");
    }
    let file = tmp.write("plain.txt", "x");
    let out = bytewax(["init-db".as_ref(), file.as_os_str(), "2".as_ref()]).run();
    out.assert_code(2);
    out.assert_stderr_has(&["error:", "not a directory"]);
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}

#[test]
fn init_db_from_python() {
    let tmp = TempDir::new("initdb-py");
    tmp.write(
        "init.py",
        r#"
import sys
from pathlib import Path

from bytewax.recovery import init_db_dir

base = Path(sys.argv[1])
init_db_dir(base / "made" / "deep", 2)
print("made", sorted(p.name for p in (base / "made" / "deep").iterdir()))
for args in [(base / "made" / "deep", 2), (base / "zero", 0), (base / "file.txt", 1)]:
    try:
        init_db_dir(*args)
    except Exception as e:
        print("raised", type(e).__name__, "|", e)
    else:
        print("no error for", args)
print("zero exists", (base / "zero").exists())
"#,
    );
    tmp.write("file.txt", "x");
    let out = bytewax([
        "python".as_ref(),
        "init.py".as_ref(),
        tmp.path().as_os_str(),
    ])
    .cwd(tmp.path())
    .run();
    out.assert_success();
    let got = out.stdout_lines();
    assert_eq!(
        got[0],
        "made ['part-0.sqlite3', 'part-1.sqlite3']",
        "{}",
        out.report()
    );
    assert!(
        got[1].starts_with("raised FileExistsError |") && got[1].contains("refusing to overwrite"),
        "{}",
        out.report()
    );
    assert!(
        got[2].starts_with("raised ValueError |") && got[2].contains("at least 1"),
        "{}",
        out.report()
    );
    assert!(
        got[3].starts_with("raised NotADirectoryError |"),
        "{}",
        out.report()
    );
    assert_eq!(got[4], "zero exists False", "{}", out.report());

    // `python -m bytewax.recovery DIR COUNT`, as in the reference.
    let dir = tmp.join("by-module");
    let out = bytewax([
        "python".as_ref(),
        "-m".as_ref(),
        "bytewax.recovery".as_ref(),
        dir.as_os_str(),
        "3".as_ref(),
    ])
    .run();
    out.assert_success();
    assert_eq!(dir_contents(&dir).len(), 3, "{}", out.report());
}

// ---------------------------------------------------------------------
// The -r flag.

const EOF_FLOW: &str = r#"
def add(total, x):
    total += x
    return total, total


INP = [("a", 1), ("b", 2), ("c", 3), TestingSource.EOF(), ("a", 5), ("b", 1), TestingSource.EOF(), ("c", 10)]
flow = Dataflow("eof")
s = op.input("inp", flow, TestingSource(INP))
s = op.stateful_map("sum", s, lambda: 0, add)
op.output("out", s, StdOutSink())
"#;

/// A usage error: exit 2, one `error:` line naming the culprits, nothing
/// on stdout (the flow did not run).
#[track_caller]
fn assert_usage(out: &Output, needles: &[&str]) {
    out.assert_code(2);
    assert!(
        out.stdout.is_empty(),
        "the flow must not run\n{}",
        out.report()
    );
    assert!(out.stderr.starts_with("error:"), "{}", out.report());
    assert!(!out.stderr.contains("Traceback"), "{}", out.report());
    out.assert_stderr_has(needles);
}

#[test]
fn recovery_flag_needs_both_intervals_and_an_existing_directory() {
    let tmp = TempDir::new("rflag");
    write_flow(&tmp, "eof.py", EOF_FLOW);
    let dir = tmp.join("state");
    init_db(&dir, 1);
    let before = dir_contents(&dir);
    let d = dir.to_str().unwrap();
    let both = ["-s/--snapshot-interval", "-b/--backup-interval"];
    for args in [
        vec!["run", "eof.py", "-r", d],
        vec!["run", "eof.py", "-r", d, "-s", "1"],
        vec!["run", "eof.py", "-r", d, "-b", "1"],
        vec!["run", "eof.py", "-r", d, "-s", "0", "-w", "2"],
    ] {
        let out = bytewax(&args).cwd(tmp.path()).run();
        assert_usage(&out, &both);
    }
    // The same through the environment.
    let out = bytewax(["run", "eof.py"])
        .env("BYTEWAX_RECOVERY_DIRECTORY", &dir)
        .env("BYTEWAX_SNAPSHOT_INTERVAL", "1")
        .cwd(tmp.path())
        .run();
    assert_usage(&out, &both);
    assert_dir_unchanged(&before, &dir, "refused runs");

    // A directory that does not exist (or is a file) is a usage error
    // that says how to make one.
    let missing = tmp.join("nope");
    let out = run_rec(tmp.path(), "eof.py", &missing, &["-s", "0", "-b", "0"]).run();
    assert_usage(&out, &["nope", "init-db"]);
    assert!(
        !missing.exists(),
        "a refused run must not create the directory"
    );
    let file = tmp.write("file.sqlite3", "x");
    let out = run_rec(tmp.path(), "eof.py", &file, &["-s", "0", "-b", "0"]).run();
    assert_usage(&out, &["file.sqlite3"]);

    // Every recovery flag from the environment works.
    let out = bytewax(["run", "eof.py"])
        .env("BYTEWAX_RECOVERY_DIRECTORY", &dir)
        .env("BYTEWAX_SNAPSHOT_INTERVAL", "0")
        .env("BYTEWAX_RECOVERY_BACKUP_INTERVAL", "0")
        .cwd(tmp.path())
        .run();
    out.assert_success();
    out.assert_stdout_lines(&["('a', 1)", "('b', 2)", "('c', 3)"]);
    let out = run_rec(tmp.path(), "eof.py", &dir, &["-s", "0", "-b", "0"]).run();
    out.assert_success();
    out.assert_stdout_lines(&["('a', 6)", "('b', 3)"]);

    // `python -m bytewax.testing` asks for neither interval, as in 0.18:
    // 10 s epochs and a backup interval of 0 unless given.
    let out = bytewax([
        "python",
        "-m",
        "bytewax.testing",
        "eof.py",
        "-w",
        "1",
        "-p",
        "1",
    ])
    .args(["-r", d])
    .cwd(tmp.path())
    .run();
    out.assert_success();
    out.assert_stdout_lines(&["('c', 13)"]);
}

// ---------------------------------------------------------------------
// Resuming.

#[test]
fn resume_continues_after_eof_sentinels() {
    let tmp = TempDir::new("eof");
    write_flow(&tmp, "eof.py", EOF_FLOW);
    let runs: [&[&str]; 4] = [
        &["('a', 1)", "('b', 2)", "('c', 3)"],
        &["('a', 6)", "('b', 3)"],
        &["('c', 13)"],
        &[],
    ];
    // Short epochs, and one epoch longer than the run: a run that ends
    // records its last epoch either way.
    for (label, s, b) in [
        ("s0", "0", "0"),
        ("s1h", "1h", "10m"),
        ("frac", "0.05", "0.5"),
    ] {
        let dir = tmp.join(format!("state-{label}"));
        init_db(&dir, 2);
        for (i, want) in runs.iter().enumerate() {
            let out = run_rec(tmp.path(), "eof.py", &dir, &["-s", s, "-b", b])
                .timeout(Duration::from_secs(60))
                .run();
            out.assert_success();
            assert_eq!(
                out.stdout_lines(),
                want.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                "-s {s} -b {b}: run {} printed the wrong lines\n{}",
                i + 1,
                out.report()
            );
        }
    }
    // Without -r nothing is remembered.
    let out = bytewax(["run", "eof.py"]).cwd(tmp.path()).run();
    out.assert_success();
    out.assert_stdout_lines(runs[0]);
}

/// `ABORT=1` puts a `TestingSource.ABORT()` after the second item.
const ABORT_FLOW: &str = r#"
import os

items = [1, 2, 3, 4]
if os.environ.get("ABORT"):
    items.insert(2, TestingSource.ABORT())
flow = Dataflow("abort_resume")
op.output("out", op.input("inp", flow, TestingSource(items, batch_size=3)), StdOutSink())
"#;

#[test]
fn resume_after_an_abort_loses_nothing_whether_the_abort_stays_or_goes() {
    let tmp = TempDir::new("abortresume");
    write_flow(&tmp, "abort.py", ABORT_FLOW);
    // (whether the resumed run's list still holds the ABORT)
    for kept in [false, true] {
        let dir = tmp.join(format!("state-{kept}"));
        init_db(&dir, 1);
        let first = run_rec(tmp.path(), "abort.py", &dir, &["-s", "0", "-b", "0"])
            .env("ABORT", "1")
            .run();
        first.assert_success();
        first.assert_stdout_lines(&["1", "2"]);
        let mut second = run_rec(tmp.path(), "abort.py", &dir, &["-s", "0", "-b", "0"]);
        if kept {
            second = second.env("ABORT", "1");
        }
        let second = second.run();
        second.assert_success();
        // The ABORT that stopped the first run never counts in the
        // source's position, and a new process does not fire it again
        // where the run resumes.
        assert_eq!(
            second.stdout_lines(),
            ["3", "4"],
            "ABORT kept: {kept}\n{}",
            second.report()
        );
    }
}

#[test]
fn rescale_1_2_1_4_workers_carries_keyed_state() {
    let tmp = TempDir::new("rescale");
    let keys: Vec<String> = (0..12).map(|k| format!("k{k:02}")).collect();
    let workers = [1u32, 2, 1, 4];
    let segments: Vec<Vec<(String, i64)>> = (0..workers.len())
        .map(|seg| {
            (0..36)
                .map(|j| {
                    let key = keys[(j * 5 + seg) % keys.len()].clone();
                    (key, (seg as i64) * 1000 + j as i64 + 1)
                })
                .collect()
        })
        .collect();
    write_flow(&tmp, "rescale.py", &running_sum_flow("rescale", &segments));
    let expected = running_sum_expected(&segments);
    let dir = tmp.join("state");
    init_db(&dir, 3);
    for (run, w) in workers.iter().enumerate() {
        let out = run_rec(
            tmp.path(),
            "rescale.py",
            &dir,
            &["-s", "0", "-b", "0", "-w", &w.to_string()],
        )
        .run();
        out.assert_success();
        if let Some(diff) = multiset_diff(&out.stdout_lines(), &expected[run]) {
            panic!(
                "run {} with -w {w} did not continue every key's running sum:\n{diff}\n{}",
                run + 1,
                out.report()
            );
        }
        if *w == 1 {
            assert_eq!(out.stdout_lines(), expected[run], "-w 1 keeps input order");
        }
    }
    // One more run at -w 2: everything was read.
    let out = run_rec(
        tmp.path(),
        "rescale.py",
        &dir,
        &["-s", "0", "-b", "0", "-w", "2"],
    )
    .run();
    out.assert_success();
    assert!(
        out.stdout.is_empty(),
        "nothing is left to read\n{}",
        out.report()
    );

    let report = inspect(&dir);
    for (ex, w) in workers.iter().chain([&2]).enumerate() {
        let needle = format!("#{ex} ");
        let line = report
            .lines()
            .find(|l| l.trim_start().starts_with(&needle))
            .unwrap_or_else(|| panic!("inspect lists no execution #{ex}:\n{report}"));
        assert!(
            line.contains(&format!(" {w} worker(s)")),
            "execution #{ex} ran with -w {w}:\n{report}"
        );
    }
    let (_, live) = step_rows(&report, "rescale.sum")
        .unwrap_or_else(|| panic!("inspect shows no snapshots of rescale.sum:\n{report}"));
    assert_eq!(live, 12, "every key has state:\n{report}");
}

/// With tens of thousands of keys per worker (past the size from which
/// `stateful_map` finds a batch's entries ahead of the user's calls), the
/// snapshots hold every key exactly, discarded ones included: the next
/// run, on another worker count, continues each key's count and starts
/// discarded keys afresh.
#[test]
fn many_keys_with_discards_resume_exactly() {
    let tmp = TempDir::new("manykeys");
    write_flow(
        &tmp,
        "many.py",
        r#"
KEYS = 40_000
INP = [(f"k{x}", "add") for x in range(KEYS)]
INP += [(f"k{x}", "drop") for x in range(0, KEYS, 10)]
INP.append(TestingSource.EOF())
INP += [(f"k{x}", "add") for x in range(KEYS)]
INP.append(TestingSource.EOF())


def step(count, action):
    if action == "drop":
        return None, "dropped"
    return count + 1, f"count {count + 1}"


flow = Dataflow("many")
s = op.input("inp", flow, TestingSource(INP, batch_size=1000))
s = op.stateful_map("step", s, lambda: 0, step)
s = op.count_final("kinds", s, lambda kv: kv[1])
op.output("out", s, StdOutSink())
"#,
    );
    let dir = tmp.join("state");
    init_db(&dir, 2);
    let runs: [(&str, &[&str]); 2] = [
        ("2", &["('count 1', 40000)", "('dropped', 4000)"]),
        ("1", &["('count 1', 4000)", "('count 2', 36000)"]),
    ];
    for (run, (w, want)) in runs.iter().enumerate() {
        let out = run_rec(
            tmp.path(),
            "many.py",
            &dir,
            &["-s", "0", "-b", "0", "-w", w],
        )
        .timeout(Duration::from_secs(120))
        .run();
        out.assert_success();
        out.assert_sorted_stdout(want);
        if run == 0 {
            let report = inspect(&dir);
            let (_, live) = step_rows(&report, "many.step")
                .unwrap_or_else(|| panic!("inspect shows no snapshots of many.step:\n{report}"));
            assert_eq!(live, 36_000, "discarded keys hold no state:\n{report}");
        }
    }
}

// ---------------------------------------------------------------------
// Recovery errors, from Python and from the command line.

/// Runs a small flow with `run_main` and a `RecoveryConfig` on `argv[1]`,
/// printing the exception it raises: `RAISED module.Class`, the base
/// classes, the message, and whether the class is the one exported by
/// `bytewax.recovery`.
const EXPECT_ERROR_PY: &str = r#"
import sys
from datetime import timedelta

import bytewax.operators as op
import bytewax.recovery as rec
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main

out = []
flow = Dataflow("errs")
s = op.input("inp", flow, TestingSource([("a", 1), ("a", 2)]))
s = op.stateful_map("sum", s, lambda: 0, lambda t, x: (t + x, t + x))
op.output("out", s, TestingSink(out))
cfg = rec.RecoveryConfig(sys.argv[1], backup_interval=timedelta(0))
try:
    run_main(flow, epoch_interval=timedelta(0), recovery_config=cfg)
except Exception as e:
    t = type(e)
    print("RAISED", f"{t.__module__}.{t.__qualname__}")
    print("BASES", " ".join(c.__name__ for c in t.__mro__))
    print("EXPORTED", getattr(rec, t.__name__, None) is t)
    print("MSG", str(e).replace("\n", " "))
else:
    print("NO ERROR")
print("OUT", out)
"#;

/// What `EXPECT_ERROR_PY` reported, by line tag.
fn python_error(tmp: &TempDir, dir: &Path) -> (BTreeMap<String, String>, Output) {
    let script = tmp.join("expect_error.py");
    if !script.exists() {
        tmp.write("expect_error.py", EXPECT_ERROR_PY);
    }
    let out = bytewax(["python".as_ref(), script.as_os_str(), dir.as_os_str()]).run();
    out.assert_success();
    let mut tags = BTreeMap::new();
    for line in out.stdout_lines() {
        let (tag, rest) = line.split_once(' ').unwrap_or((&line, ""));
        tags.insert(tag.to_string(), rest.to_string());
    }
    (tags, out)
}

/// Asserts a recovery start error from Python: the class (qualified),
/// its base classes, the message hints, nothing ran, and the directory
/// is byte-identical afterwards.
#[track_caller]
fn assert_python_error(tmp: &TempDir, dir: &Path, class: &str, bases: &[&str], hints: &[&str]) {
    let before = dir_contents(dir);
    let (tags, out) = python_error(tmp, dir);
    let report = out.report();
    assert_eq!(
        tags.get("RAISED").map(String::as_str),
        Some(class),
        "run_main should raise {class}\n{report}"
    );
    let got_bases = tags.get("BASES").cloned().unwrap_or_default();
    for base in bases {
        assert!(
            got_bases.split(' ').any(|b| b == *base),
            "{class} should be a subclass of {base} (MRO: {got_bases})\n{report}"
        );
    }
    if class.starts_with("bytewax.recovery.") {
        assert_eq!(
            tags.get("EXPORTED").map(String::as_str),
            Some("True"),
            "the raised class should be the one `bytewax.recovery` exports\n{report}"
        );
    }
    let msg = tags.get("MSG").cloned().unwrap_or_default();
    for hint in hints {
        assert!(
            msg.contains(hint),
            "the message should contain {hint:?}: {msg}\n{report}"
        );
    }
    assert_eq!(
        tags.get("OUT").map(String::as_str),
        Some("[]"),
        "nothing may run\n{report}"
    );
    assert!(!out.stderr.contains("panicked"), "{report}");
    assert_dir_unchanged(&before, dir, &format!("failed start ({class}) from Python"));
}

/// Asserts a recovery start error from `bytewax run`: exit 1, the
/// exception's class and hints on stderr, nothing on stdout, the directory
/// byte-identical afterwards.
#[track_caller]
fn assert_cli_error(tmp: &TempDir, dir: &Path, needles: &[&str]) {
    let before = dir_contents(dir);
    let out = run_rec(
        tmp.path(),
        "eof.py",
        dir,
        &["-s", "0", "-b", "0", "-w", "2"],
    )
    .run();
    out.assert_code(1);
    assert!(out.stdout.is_empty(), "nothing may run\n{}", out.report());
    out.assert_stderr_has(needles);
    assert_dir_unchanged(&before, dir, "failed start from the command line");
}

/// A directory after two runs of `eof.py` (so its partitions hold
/// snapshots and were left in WAL mode).
fn used_dir(tmp: &TempDir, name: &str, parts: u32) -> PathBuf {
    if !tmp.join("eof.py").exists() {
        write_flow(tmp, "eof.py", EOF_FLOW);
    }
    let dir = tmp.join(name);
    init_db(&dir, parts);
    for _ in 0..2 {
        run_rec(tmp.path(), "eof.py", &dir, &["-s", "0", "-b", "0"])
            .run()
            .assert_success();
    }
    dir
}

#[test]
fn no_partitions_error() {
    let tmp = TempDir::new("nopart");
    write_flow(&tmp, "eof.py", EOF_FLOW);
    let empty = tmp.mkdir("empty");
    assert_python_error(
        &tmp,
        &empty,
        "bytewax.recovery.NoPartitionsError",
        &["FileNotFoundError", "OSError"],
        &["init-db"],
    );
    assert_cli_error(&tmp, &empty, &["NoPartitionsError", "init-db"]);
    // Other files are not partitions; still none.
    tmp.write("empty/readme.txt", "hello");
    tmp.write("empty/part-0.sqlite3.bak", "old");
    assert_python_error(
        &tmp,
        &empty,
        "bytewax.recovery.NoPartitionsError",
        &["FileNotFoundError"],
        &["init-db"],
    );
}

#[test]
fn missing_partitions_error() {
    let tmp = TempDir::new("missing");
    // Fresh partitions, and partitions that have been used.
    let fresh = tmp.join("fresh");
    init_db(&fresh, 3);
    std::fs::remove_file(fresh.join("part-1.sqlite3")).unwrap();
    let used = used_dir(&tmp, "used", 3);
    std::fs::remove_file(used.join("part-0.sqlite3")).unwrap();
    std::fs::remove_file(used.join("part-2.sqlite3")).unwrap();
    for (dir, which) in [(&fresh, "1 of 3"), (&used, "0, 2 of 3")] {
        assert_python_error(
            &tmp,
            dir,
            "bytewax.recovery.MissingPartitionsError",
            &["FileNotFoundError", "OSError"],
            &[which, "missing"],
        );
        assert_cli_error(&tmp, dir, &["MissingPartitionsError", which]);
    }
}

#[test]
fn inconsistent_partitions_error() {
    let tmp = TempDir::new("inconsistent");
    let dir = used_dir(&tmp, "used", 2);
    let other = tmp.join("other");
    init_db(&other, 3);
    // Partition 1 of another init-db run (3 partitions) replaces ours.
    std::fs::copy(other.join("part-1.sqlite3"), dir.join("part-1.sqlite3")).unwrap();
    assert_python_error(
        &tmp,
        &dir,
        "bytewax.recovery.InconsistentPartitionsError",
        &["ValueError"],
        &["2 vs 3"],
    );
    assert_cli_error(&tmp, &dir, &["InconsistentPartitionsError", "2 vs 3"]);
}

/// Backups taken at different times disagree once old snapshots were
/// collected; backups taken together resume fine.
#[test]
fn partitions_restored_from_different_backups() {
    let tmp = TempDir::new("backups");
    let segments: Vec<Vec<(String, i64)>> = (0..3)
        .map(|seg| {
            (0..40)
                .map(|j| (format!("k{}", j % 4), seg * 100 + j + 1))
                .collect()
        })
        .collect();
    write_flow(&tmp, "eof.py", &running_sum_flow("backups", &segments));
    let expected = running_sum_expected(&segments);
    let dir = tmp.join("state");
    init_db(&dir, 2);
    let run = |n: usize| {
        let out = run_rec(tmp.path(), "eof.py", &dir, &["-s", "0", "-b", "0"]).run();
        out.assert_success();
        assert_eq!(
            out.stdout_lines(),
            expected[n],
            "run {}\n{}",
            n + 1,
            out.report()
        );
    };
    run(0);
    let backup = dir_contents(&dir);
    run(1);
    let report = inspect(&dir);

    // Partition 1 restored from the older backup: partition 0 has dropped
    // the versions a resume from there would need.
    std::fs::write(dir.join("part-1.sqlite3"), &backup["part-1.sqlite3"]).unwrap();
    assert_python_error(
        &tmp,
        &dir,
        "bytewax.recovery.InconsistentPartitionsError",
        &["ValueError"],
        &["0", "older than epoch"],
    );
    let before = dir_contents(&dir);
    let out = run_rec(tmp.path(), "eof.py", &dir, &["-s", "0", "-b", "0"]).run();
    out.assert_code(1);
    out.assert_stderr_has(&["InconsistentPartitionsError"]);
    assert!(out.stdout.is_empty(), "{}", out.report());
    assert_dir_unchanged(&before, &dir, "inconsistent backups");

    // Every partition from the same backup: run 2 is replayed.
    for (name, bytes) in &backup {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    run(1);
    run(2);
    assert!(
        report.contains("#1 "),
        "inspect after two runs lists execution #1:\n{report}"
    );
}

#[test]
fn files_that_are_not_partitions_give_clear_errors() {
    let tmp = TempDir::new("notpart");
    write_flow(&tmp, "eof.py", EOF_FLOW);

    // A text file named like a partition.
    let text = tmp.join("text");
    init_db(&text, 2);
    tmp.write("text/x.sqlite3", "this is not a database\n");
    // An SQLite database that init-db did not make.
    let foreign = tmp.join("foreign");
    init_db(&foreign, 1);
    let made = bytewax([
        "python".as_ref(),
        "-c".as_ref(),
        "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.execute('CREATE TABLE t (x)')\nc.execute('INSERT INTO t VALUES (1)')\nc.commit()\nc.close()".as_ref(),
        foreign.join("random.sqlite3").as_os_str(),
    ])
    .run();
    made.assert_success();

    for (dir, file, why) in [
        (&text, "x.sqlite3", "not a recovery partition"),
        (
            &foreign,
            "random.sqlite3",
            "not created by `bytewax init-db`",
        ),
    ] {
        let before = dir_contents(dir);
        let (tags, out) = python_error(&tmp, dir);
        let msg = tags.get("MSG").cloned().unwrap_or_default();
        assert!(
            tags.contains_key("RAISED") && msg.contains(file) && msg.contains(why),
            "run_main should raise an error naming {file} ({why})\n{}",
            out.report()
        );
        assert_eq!(
            tags.get("OUT").map(String::as_str),
            Some("[]"),
            "{}",
            out.report()
        );
        assert_dir_unchanged(&before, dir, "failed start from Python");
        assert_cli_error(&tmp, dir, &[file, why]);

        let report = inspect(dir);
        assert!(
            report.contains(&format!("{file}: unusable")) && report.contains(why),
            "inspect should flag {file}:\n{report}"
        );
        assert_dir_unchanged(&before, dir, "inspect");
    }
}

#[test]
fn truncated_and_corrupted_partitions_give_clear_errors() {
    let tmp = TempDir::new("corrupt");
    let truncated = used_dir(&tmp, "truncated", 3);
    let corrupted = used_dir(&tmp, "corrupted", 3);
    let empty_file = used_dir(&tmp, "emptyfile", 3);

    let p = truncated.join("part-0.sqlite3");
    let len = std::fs::metadata(&p).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);

    let p = corrupted.join("part-1.sqlite3");
    let mut bytes = std::fs::read(&p).unwrap();
    for i in (100..bytes.len()).step_by(7) {
        bytes[i] = bytes[i].wrapping_mul(31).wrapping_add(7);
    }
    std::fs::write(&p, bytes).unwrap();

    std::fs::write(empty_file.join("part-2.sqlite3"), b"").unwrap();

    for (dir, file) in [
        (&truncated, "part-0.sqlite3"),
        (&corrupted, "part-1.sqlite3"),
        (&empty_file, "part-2.sqlite3"),
    ] {
        let before = dir_contents(dir);
        let (tags, out) = python_error(&tmp, dir);
        let msg = tags.get("MSG").cloned().unwrap_or_default();
        assert!(
            tags.contains_key("RAISED") && msg.contains(file),
            "run_main should raise an error naming the damaged {file}\n{}",
            out.report()
        );
        assert_eq!(
            tags.get("OUT").map(String::as_str),
            Some("[]"),
            "{}",
            out.report()
        );
        assert_dir_unchanged(&before, dir, "failed start from Python");
        assert_cli_error(&tmp, dir, &[file]);
        let report = inspect(dir);
        assert!(
            report.contains(&format!("{file}: unusable")),
            "inspect should flag the damaged {file}:\n{report}"
        );
        assert_dir_unchanged(&before, dir, "inspect");
    }
}

/// `recovery inspect` says what a restart will do; with a file the run
/// refuses, it must not promise a resume.
#[test]
fn inspect_does_not_promise_a_resume_that_will_fail() {
    let tmp = TempDir::new("inspect-promise");
    let dir = used_dir(&tmp, "state", 2);
    tmp.write("state/x.sqlite3", "not a database");
    let out = run_rec(tmp.path(), "eof.py", &dir, &["-s", "0", "-b", "0"]).run();
    assert_eq!(
        out.code,
        Some(1),
        "the run refuses x.sqlite3\n{}",
        out.report()
    );
    let report = inspect(&dir);
    let next = next_run_line(&report);
    assert!(
        next.contains("cannot"),
        "a run fails on `x.sqlite3`, but inspect says {next:?}:\n{report}"
    );

    // A copy of a partition next to it (two files claim partition 0).
    let dir = used_dir(&tmp, "copied", 2);
    std::fs::copy(dir.join("part-0.sqlite3"), dir.join("copy.sqlite3")).unwrap();
    let out = run_rec(tmp.path(), "eof.py", &dir, &["-s", "0", "-b", "0"]).run();
    assert_eq!(
        out.code,
        Some(1),
        "the run refuses the copy\n{}",
        out.report()
    );
    out.assert_stderr_has(&["both recovery partition 0"]);
    let report = inspect(&dir);
    let next = next_run_line(&report);
    assert!(
        next.contains("cannot start")
            && next.contains("copy.sqlite3")
            && next.contains("part-0.sqlite3")
            && next.contains("both recovery partition 0"),
        "a run fails on the copy, but inspect says {next:?}:\n{report}"
    );
}

#[test]
fn inspect_reports_partitions_executions_and_snapshots() {
    let tmp = TempDir::new("inspect");
    let segments: Vec<Vec<(String, i64)>> = (0..2)
        .map(|seg| {
            (0..20)
                .map(|j| (format!("k{}", j % 5), seg * 10 + j))
                .collect()
        })
        .collect();
    write_flow(&tmp, "flow.py", &running_sum_flow("insp", &segments));
    let dir = tmp.join("state");
    init_db(&dir, 2);
    for w in ["2", "1"] {
        run_rec(
            tmp.path(),
            "flow.py",
            &dir,
            &["-s", "1h", "-b", "1h", "-w", w],
        )
        .run()
        .assert_success();
    }
    let report = inspect(&dir);
    for needle in [
        &format!("Recovery directory: {}", dir.display()) as &str,
        "Partitions: 2 file(s)",
        "partition 0 of 2  part-0.sqlite3",
        "partition 1 of 2  part-1.sqlite3",
        "Executions:",
        "resumed at epoch 1",
        "Snapshots by step (rows, live keys):",
        "Next run: execution #2 resumes at epoch",
    ] {
        assert!(
            report.contains(needle),
            "inspect should contain {needle:?}:\n{report}"
        );
    }
    let ex: Vec<&str> = report
        .lines()
        .filter(|l| l.trim_start().starts_with('#'))
        .collect();
    assert_eq!(ex.len(), 2, "two executions:\n{report}");
    assert!(
        ex[0].contains("#0 ") && ex[0].contains(" 2 worker(s)"),
        "{report}"
    );
    assert!(
        ex[1].contains("#1 ") && ex[1].contains(" 1 worker(s)"),
        "{report}"
    );
    let (rows, keys) = step_rows(&report, "insp.sum").unwrap_or_else(|| panic!("{report}"));
    assert_eq!(keys, 5, "five keys have state:\n{report}");
    assert!(rows >= 5, "{report}");
    let (_, keys) = step_rows(&report, "insp.inp").unwrap_or_else(|| panic!("{report}"));
    assert_eq!(keys, 1, "the source's one partition:\n{report}");
    // The resume epoch is past every execution's start.
    let resume = next_resume_epoch(&report).unwrap_or_else(|| panic!("{report}"));
    assert!(resume >= 3, "{report}");

    let out = bytewax(["recovery", "inspect", "/definitely/not/here"]).run();
    out.assert_code(2);
    out.assert_stderr_has(&["error:", "/definitely/not/here"]);
}

// ---------------------------------------------------------------------
// Crashes.

/// A recoverable flow: `N` transactions over 7 accounts, paced, a running
/// total per account, `acct-K=TOTAL` lines to the sink chosen by `SINK`.
/// Each total is also printed (flushed) to stdout by the `progress` step
/// when `PROGRESS` is on, so tests can watch it advance.
const CRASH_FLOW: &str = r#"
import os
import time

from bytewax.connectors.files import DirSink, FileSink

N = @N@
PAUSE = 0.002
TX = [(f"acct-{i % 7}", i % 5 + 1) for i in range(N)]


def pace(tx):
    time.sleep(PAUSE)
    return tx


def add(total, amount):
    total += amount
    return total, total


def progress(kv):
    print(kv[1], flush=True)
    return kv


flow = Dataflow("crash")
txs = op.input("inp", flow, TestingSource(TX, batch_size=4))
txs = op.map("pace", txs, pace)
totals = op.stateful_map("total", txs, lambda: 0, add)
lines = op.map("fmt", totals, lambda kv: (kv[0], f"{kv[0]}={kv[1]}"))
SINK = os.environ["SINK"]
if SINK == "file":
    op.output("out", op.map("progress", lines, progress), FileSink(os.environ["OUT"]))
elif SINK == "dir":
    op.output("out", op.map("progress", lines, progress), DirSink(os.environ["OUT"], 3))
else:
    op.output("out", op.map("plain", lines, lambda kv: kv[1]), StdOutSink())
"#;

const CRASH_N: usize = 400;

/// The `acct-K=TOTAL` lines of an uninterrupted run, in input order.
fn crash_expected() -> Vec<String> {
    let mut totals = [0i64; 7];
    (0..CRASH_N)
        .map(|i| {
            let k = i % 7;
            totals[k] += (i % 5 + 1) as i64;
            format!("acct-{k}={}", totals[k])
        })
        .collect()
}

fn crash_dir() -> TempDir {
    let tmp = TempDir::new("crash");
    write_flow(
        &tmp,
        "crash.py",
        &CRASH_FLOW.replace("@N@", &CRASH_N.to_string()),
    );
    tmp
}

/// Runs `cmd()` repeatedly: `kills` times it is killed with SIGKILL once
/// it has printed a seeded-random number of stdout lines; then it runs to
/// completion. Returns every run's output (killed ones included) in order.
fn crash_and_resume(mut cmd: impl FnMut() -> Cmd, kills: usize, rng: &mut Rng) -> Vec<Output> {
    let mut outs = Vec::new();
    for k in 0..kills {
        let trigger = rng.range(20, (CRASH_N / 5) as u64) as usize;
        let mut run = cmd().timeout(Duration::from_secs(120)).spawn();
        let mut seen = 0;
        let hit = run.wait_for_line(Duration::from_secs(90), |_| {
            seen += 1;
            seen >= trigger
        });
        if hit.is_none() {
            // It finished (or stopped printing) before the trigger.
            let out = run.wait();
            eprintln!("kill {k}: the run ended after {seen} lines, before line {trigger}");
            out.assert_success();
            outs.push(out);
            return outs;
        }
        run.signal("KILL");
        let out = run.wait_within(Duration::from_secs(20));
        eprintln!(
            "kill {k}: SIGKILL after line {trigger} (exit {:?}, signal {:?})",
            out.code, out.signal
        );
        outs.push(out);
    }
    let out = cmd().timeout(Duration::from_secs(120)).run();
    out.assert_success();
    outs.push(out);
    outs
}

/// The last run resumed part way (it did not start over): it printed
/// fewer than `CRASH_N` lines.
#[track_caller]
fn assert_resumed(outs: &[Output]) {
    let last = outs.last().unwrap();
    let printed = last.stdout_lines().len();
    assert!(
        printed < CRASH_N,
        "the last of {} runs printed {printed} lines: it started over instead of resuming\n{}",
        outs.len(),
        last.report()
    );
}

#[test]
fn crash_with_file_sink_is_exactly_once() {
    let tmp = crash_dir();
    let want = crash_expected();
    let mut want_text = want.join("\n");
    want_text.push('\n');

    // Uninterrupted.
    let calm_dir = tmp.join("calm-state");
    init_db(&calm_dir, 2);
    let calm_out = tmp.join("calm.txt");
    run_rec(
        tmp.path(),
        "crash.py",
        &calm_dir,
        &["-s", "0.02", "-b", "0"],
    )
    .env("SINK", "file")
    .env("OUT", &calm_out)
    .run()
    .assert_success();
    let calm = std::fs::read_to_string(&calm_out).unwrap();
    assert_eq!(calm, want_text, "an uninterrupted run wrote the wrong file");

    // Killed four times at random points.
    let dir = tmp.join("state");
    init_db(&dir, 2);
    let out_file = tmp.join("totals.txt");
    let mut rng = Rng::new(seed("crash_with_file_sink_is_exactly_once", 0x5eed_f11e));
    let outs = crash_and_resume(
        || {
            run_rec(tmp.path(), "crash.py", &dir, &["-s", "0.02", "-b", "0"])
                .env("SINK", "file")
                .env("OUT", &out_file)
        },
        4,
        &mut rng,
    );
    assert_resumed(&outs);
    let got = std::fs::read_to_string(&out_file).unwrap();
    if got != calm {
        let got_lines = lines(&got);
        let diff = multiset_diff(&got_lines, &want)
            .unwrap_or_else(|| "(same lines, different order)".into());
        panic!(
            "after {} runs the output file differs from an uninterrupted run's:\n{diff}\nlast run:\n{}",
            outs.len(),
            outs.last().unwrap().report()
        );
    }
    // Once everything is read, another run adds nothing.
    let out = run_rec(tmp.path(), "crash.py", &dir, &["-s", "0.02", "-b", "0"])
        .env("SINK", "file")
        .env("OUT", &out_file)
        .run();
    out.assert_success();
    assert!(out.stdout.is_empty(), "{}", out.report());
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), calm);
}

/// The lines of every file in `dir`, by file name.
fn dir_sink_files(dir: &Path) -> BTreeMap<String, Vec<String>> {
    dir_contents(dir)
        .into_iter()
        .map(|(name, bytes)| (name, lines(&String::from_utf8_lossy(&bytes))))
        .collect()
}

/// Checks `DirSink` output: each account's lines all in one file, in
/// order, each exactly once, nothing else.
fn check_dir_sink(files: &BTreeMap<String, Vec<String>>, want: &[String]) -> Result<(), String> {
    let mut per_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in want {
        let key = line.split('=').next().unwrap().to_string();
        per_key.entry(key).or_default().push(line.clone());
    }
    let mut problems = Vec::new();
    let mut seen_keys = BTreeSet::new();
    for (name, got) in files {
        let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in got {
            let key = line.split('=').next().unwrap().to_string();
            by_key.entry(key).or_default().push(line.clone());
        }
        for (key, seq) in by_key {
            if !seen_keys.insert(key.clone()) {
                problems.push(format!("{key} appears in more than one file"));
            }
            let expected = per_key.get(&key).cloned().unwrap_or_default();
            if seq != expected {
                problems.push(format!(
                    "{name}: {key} has {} lines, expected {}; first difference at {:?}",
                    seq.len(),
                    expected.len(),
                    seq.iter().zip(&expected).position(|(a, b)| a != b)
                ));
            }
        }
    }
    for key in per_key.keys() {
        if !seen_keys.contains(key) {
            problems.push(format!("{key} is missing from every file"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[test]
fn crash_with_dir_sink_and_two_workers_is_exactly_once() {
    let tmp = crash_dir();
    let want = crash_expected();

    let calm_dir = tmp.join("calm-state");
    init_db(&calm_dir, 3);
    let calm_out = tmp.mkdir("calm-out");
    run_rec(
        tmp.path(),
        "crash.py",
        &calm_dir,
        &["-s", "0.02", "-b", "0", "-w", "2"],
    )
    .env("SINK", "dir")
    .env("OUT", &calm_out)
    .run()
    .assert_success();
    let calm = dir_sink_files(&calm_out);
    if let Err(e) = check_dir_sink(&calm, &want) {
        panic!("an uninterrupted -w 2 run wrote wrong files:\n{e}");
    }

    let dir = tmp.join("state");
    init_db(&dir, 3);
    let out_dir = tmp.mkdir("out");
    let mut rng = Rng::new(seed(
        "crash_with_dir_sink_and_two_workers_is_exactly_once",
        0xd125,
    ));
    let outs = crash_and_resume(
        || {
            run_rec(
                tmp.path(),
                "crash.py",
                &dir,
                &["-s", "0.02", "-b", "0", "-w", "2"],
            )
            .env("SINK", "dir")
            .env("OUT", &out_dir)
        },
        4,
        &mut rng,
    );
    assert_resumed(&outs);
    let got = dir_sink_files(&out_dir);
    if let Err(e) = check_dir_sink(&got, &want) {
        panic!(
            "after {} runs (4 killed) the DirSink files are not exactly-once:\n{e}\nlast run:\n{}",
            outs.len(),
            outs.last().unwrap().report()
        );
    }
    // Each file holds the same multiset as in the uninterrupted run.
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        calm.keys().collect::<Vec<_>>(),
        "the same files"
    );
    for (name, l) in &got {
        assert!(
            multiset_diff(l, &calm[name]).is_none(),
            "{name} differs from the uninterrupted run"
        );
    }
}

#[test]
fn crash_with_stdout_sink_is_at_least_once() {
    let tmp = crash_dir();
    let want = crash_expected();
    let index: BTreeMap<&str, usize> = want
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();

    let calm_dir = tmp.join("calm-state");
    init_db(&calm_dir, 2);
    let calm = run_rec(
        tmp.path(),
        "crash.py",
        &calm_dir,
        &["-s", "0.02", "-b", "0"],
    )
    .env("SINK", "stdout")
    .run();
    calm.assert_success();
    assert_eq!(
        calm.stdout_lines(),
        want,
        "an uninterrupted run printed the wrong lines"
    );

    let dir = tmp.join("state");
    init_db(&dir, 2);
    let mut rng = Rng::new(seed("crash_with_stdout_sink_is_at_least_once", 0x57d0));
    let outs = crash_and_resume(
        || run_rec(tmp.path(), "crash.py", &dir, &["-s", "0.02", "-b", "0"]).env("SINK", "stdout"),
        4,
        &mut rng,
    );
    // Each run prints a contiguous stretch of the expected lines, starting
    // no later than where the previous run stopped (nothing lost) and no
    // earlier than where the previous run started (duplicates only of lines
    // after a resume point); the last one reaches the end.
    let mut prev_start = 0usize;
    let mut prev_end = 0usize;
    let mut all = Vec::new();
    for (r, out) in outs.iter().enumerate() {
        let got = out.stdout_lines();
        all.extend(got.iter().cloned());
        let Some(first) = got.first() else {
            assert_eq!(
                prev_end,
                want.len(),
                "run {r} printed nothing but input remained\n{}",
                out.report()
            );
            continue;
        };
        let start = *index.get(first.as_str()).unwrap_or_else(|| {
            panic!(
                "run {r} printed an unexpected line {first:?}\n{}",
                out.report()
            )
        });
        let stretch = &want[start..(start + got.len()).min(want.len())];
        assert_eq!(
            got,
            stretch,
            "run {r} did not print a contiguous stretch of the expected output\n{}",
            out.report()
        );
        assert!(
            start <= prev_end,
            "run {r} starts at line {start} but the previous run stopped at {prev_end}: lines lost\n{}",
            out.report()
        );
        assert!(
            start >= prev_start,
            "run {r} replays from line {start}, before the previous run's resume point {prev_start}\n{}",
            out.report()
        );
        prev_start = start;
        prev_end = start + got.len();
    }
    assert_eq!(prev_end, want.len(), "the last run did not reach the end");
    assert_resumed(&outs);
    // Every expected line is there; duplicates were checked above.
    let set: BTreeSet<&String> = all.iter().collect();
    for line in &want {
        assert!(set.contains(line), "{line:?} was never printed");
    }
}

/// `count_final` and `reduce_final` pre-reduce values per key and epoch
/// before routing them; a run killed part way and resumed (with a
/// different worker count) must still count every item exactly once.
const COUNT_CRASH_FLOW: &str = r#"
import time

N = @N@
ITEMS = [f"k{i % 11}" for i in range(N)]


def pace(item):
    time.sleep(0.002)
    print("seen", item, flush=True)
    return item


flow = Dataflow("count_crash")
words = op.map("pace", op.input("inp", flow, TestingSource(ITEMS, batch_size=3)), pace)
counts = op.count_final("count", words, lambda w: w)
op.output("out_count", op.map("fmt_count", counts, lambda kv: f"count {kv[0]} {kv[1]}"), StdOutSink())
lens = op.reduce_final("concat", op.key_on("key", words, lambda w: w), lambda a, b: a + "," + b)
op.output("out_len", op.map("fmt_len", lens, lambda kv: f"items {kv[0]} {len(kv[1].split(','))}"), StdOutSink())
"#;

#[test]
fn crash_with_count_final_counts_every_item_once() {
    let tmp = TempDir::new("countcrash");
    write_flow(
        &tmp,
        "count.py",
        &COUNT_CRASH_FLOW.replace("@N@", &CRASH_N.to_string()),
    );
    let mut want: Vec<String> = (0..11)
        .flat_map(|k| {
            let n = (0..CRASH_N).filter(|i| i % 11 == k).count();
            [format!("count k{k} {n}"), format!("items k{k} {n}")]
        })
        .collect();
    want.sort();

    let dir = tmp.join("state");
    init_db(&dir, 2);
    let mut rng = Rng::new(seed(
        "crash_with_count_final_counts_every_item_once",
        0xc047,
    ));
    let mut runs = 0;
    let outs = crash_and_resume(
        || {
            runs += 1;
            let workers = if runs % 2 == 0 { "1" } else { "2" };
            run_rec(
                tmp.path(),
                "count.py",
                &dir,
                &["-s", "0.02", "-b", "0", "-w", workers],
            )
        },
        3,
        &mut rng,
    );
    assert_resumed(&outs);
    for (r, out) in outs[..outs.len() - 1].iter().enumerate() {
        assert!(
            !out.stdout.contains("count k"),
            "killed run {r} emitted counts before the end of input\n{}",
            out.report()
        );
    }
    let last = outs.last().unwrap();
    let mut got: Vec<String> = last
        .stdout_lines()
        .into_iter()
        .filter(|l| !l.starts_with("seen "))
        .collect();
    got.sort();
    assert_eq!(got, want, "final counts after resuming\n{}", last.report());
}

/// A stateful step that finds more items waiting than it handles in one
/// activation keeps their epochs open until it has handled them. Made
/// deterministic: one worker, an epoch per activation (`-s 0`), six merged
/// sources (so items wait at `fold_final` for several activations while
/// later epochs arrive), and a source that aborts the first run part way
/// (as a crash would). A snapshot taken before an epoch's items are all
/// handled would lose them on resume.
const BACKLOG_ABORT_FLOW: &str = r#"
N = 72_000


def items(i):
    xs = list(range(i, N, 6))
    if i == 0:
        xs.insert(len(xs) // 3, TestingSource.ABORT())
    return xs


flow = Dataflow("backlog_abort")
parts = [op.input(f"in{i}", flow, TestingSource(items(i), batch_size=600)) for i in range(6)]
keyed = op.key_on("key", op.merge("all", *parts), lambda x: f"k{x % 7}")
sums = op.fold_final("sum", keyed, lambda: (0, 0), lambda acc, x: (acc[0] + 1, acc[1] + x))
op.output("out", op.map("fmt", sums, lambda kv: f"sum {kv[0]} {kv[1][0]} {kv[1][1]}"), StdOutSink())
"#;

#[test]
fn snapshots_wait_for_items_a_step_has_not_handled_yet() {
    let tmp = TempDir::new("backlogabort");
    write_flow(&tmp, "backlog.py", BACKLOG_ABORT_FLOW);
    let dir = tmp.join("state");
    init_db(&dir, 1);
    let run = || {
        run_rec(tmp.path(), "backlog.py", &dir, &["-s", "0", "-b", "0"])
            .timeout(Duration::from_secs(60))
            .run()
    };
    let first = run();
    first.assert_success();
    assert_eq!(
        first.stdout_lines(),
        Vec::<String>::new(),
        "{}",
        first.report()
    );
    let second = run();
    second.assert_success();
    let n = 72_000u64;
    let mut want: Vec<String> = (0..7)
        .map(|k| {
            let items = (0..n).filter(|i| i % 7 == k);
            format!("sum k{k} {} {}", items.clone().count(), items.sum::<u64>())
        })
        .collect();
    want.sort();
    let mut got = second.stdout_lines();
    got.sort();
    assert_eq!(got, want, "sums after resuming\n{}", second.report());
}

// ---------------------------------------------------------------------
// Garbage collection.

#[test]
fn backup_interval_zero_collects_old_snapshots() {
    let tmp = TempDir::new("gc");
    let segments: Vec<Vec<(String, i64)>> = (0..3)
        .map(|seg| {
            (0..60)
                .map(|j| (format!("k{}", j % 3), seg * 100 + j))
                .collect()
        })
        .collect();
    let body = running_sum_flow("gc", &segments).replace(
        "s = op.stateful_map(",
        "import time\n\n\ndef pace(x):\n    time.sleep(0.003)\n    return x\n\n\ns = op.map(\"pace\", s, pace)\ns = op.stateful_map(",
    );
    let body = body.replace("batch_size=3", "batch_size=1");
    write_flow(&tmp, "gcflow.py", &body);
    let expected = running_sum_expected(&segments);

    let collected = tmp.join("collected");
    init_db(&collected, 2);
    let kept = tmp.join("kept");
    init_db(&kept, 2);
    let mut last_epoch = 0;
    for (run, want) in expected.iter().enumerate() {
        let out = run_rec(tmp.path(), "gcflow.py", &collected, &["-s", "0", "-b", "0"]).run();
        out.assert_success();
        assert_eq!(&out.stdout_lines(), want, "run {}", run + 1);
        let report = inspect(&collected);
        let epoch = next_resume_epoch(&report).unwrap_or_else(|| panic!("{report}"));
        assert!(
            epoch >= last_epoch + 20,
            "-s 0 should give many epochs per run (resume epoch went from {last_epoch} to {epoch}):\n{report}"
        );
        last_epoch = epoch;
        let (rows, keys) = step_rows(&report, "gc.sum").unwrap_or_else(|| panic!("{report}"));
        assert_eq!(keys, 3, "{report}");
        assert!(
            rows <= 2 * keys,
            "with -b 0 old versions are collected, but gc.sum holds {rows} rows for {keys} keys after run {} ({epoch} epochs):\n{report}",
            run + 1
        );
        let (rows, _) = step_rows(&report, "gc.inp").unwrap_or_else(|| panic!("{report}"));
        assert!(rows <= 2, "the source keeps {rows} versions:\n{report}");
    }
    // Without collection (a long backup interval) the versions pile up.
    let out = run_rec(tmp.path(), "gcflow.py", &kept, &["-s", "0", "-b", "1h"]).run();
    out.assert_success();
    let report = inspect(&kept);
    let (rows, _) = step_rows(&report, "gc.sum").unwrap_or_else(|| panic!("{report}"));
    assert!(
        rows >= 20,
        "with -b 1h old versions are kept, but gc.sum holds only {rows} rows:\n{report}"
    );
}

// ---------------------------------------------------------------------
// Snapshot serdes.

/// A flow that can also run itself with `run_main` and `JsonPickleSerde`
/// (`python jp.py DIR`), printing `RAISED ...` if that fails.
const JP_FLOW: &str = r#"
import sys

from bytewax.recovery import RecoveryConfig
from bytewax.serde import JsonPickleSerde
from bytewax.testing import run_main


def add(total, x):
    total += x
    return total, total


INP = [("a", 1), ("b", 2), TestingSource.EOF(), ("a", 10), TestingSource.EOF(), ("b", 5), TestingSource.EOF(), ("a", 100)]
flow = Dataflow("jp")
s = op.input("inp", flow, TestingSource(INP))
s = op.stateful_map("sum", s, lambda: 0, add)
op.output("out", s, StdOutSink())

if __name__ == "__main__":
    cfg = RecoveryConfig(sys.argv[1], backup_interval=timedelta(0), snapshot_serde=JsonPickleSerde)
    try:
        run_main(flow, epoch_interval=timedelta(0), recovery_config=cfg)
    except Exception as e:
        notes = " ".join(getattr(e, "__notes__", []))
        print("RAISED", type(e).__name__, "|", str(e).replace("\n", " "), "|", notes, flush=True)
        sys.exit(3)
"#;

/// The serde names recorded in the partitions of `dir`, and one stored
/// state of step `step` (any key).
fn stored_serdes(dir: &Path, step: &str) -> (BTreeSet<String>, String) {
    let out = bytewax([
        "python".as_ref(),
        "-c".as_ref(),
        r#"
import glob, sqlite3, sys
names, state = set(), ""
for p in sorted(glob.glob(sys.argv[1] + "/*.sqlite3")):
    c = sqlite3.connect(p)
    names |= {n for (n,) in c.execute("SELECT name FROM serdes")}
    for (s,) in c.execute("SELECT state FROM snapshots WHERE step_id LIKE ? AND state IS NOT NULL", (sys.argv[2] + "%",)):
        state = s
    c.close()
for n in sorted(names):
    print("SERDE", n)
print("STATE", state)
"#
        .as_ref(),
        dir.as_os_str(),
        step.as_ref(),
    ])
    .run();
    out.assert_success();
    let mut names = BTreeSet::new();
    let mut state = String::new();
    for line in out.stdout_lines() {
        if let Some(n) = line.strip_prefix("SERDE ") {
            names.insert(n.to_string());
        } else if let Some(s) = line.strip_prefix("STATE ") {
            state = s.to_string();
        }
    }
    (names, state)
}

#[test]
fn jsonpickle_serde_in_a_venv_then_without_jsonpickle() {
    let venv = tools_venv();
    let tmp = TempDir::new("jsonpickle");
    write_flow(&tmp, "jp.py", JP_FLOW);
    let dir = tmp.join("state");
    init_db(&dir, 2);

    // run_main with JsonPickleSerde, jsonpickle installed.
    let out = bytewax(["python".as_ref(), "jp.py".as_ref(), dir.as_os_str()])
        .env("VIRTUAL_ENV", &venv)
        .cwd(tmp.path())
        .run();
    out.assert_success();
    out.assert_stdout_lines(&["('a', 1)", "('b', 2)"]);
    assert!(
        !out.stderr.contains(JSONPICKLE_WARNING),
        "jsonpickle is installed; no fallback warning\n{}",
        out.report()
    );
    let (names, state) = stored_serdes(&dir, "jp.sum");
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["bytewax.serde.JsonPickleSerde"],
        "snapshots should record JsonPickleSerde"
    );
    let parsed = bytewax([
        "python",
        "-c",
        "import json, sys; json.loads(sys.argv[1]); print('json')",
        &state,
    ])
    .run();
    parsed.assert_success();
    assert_eq!(
        parsed.stdout.trim(),
        "json",
        "a JsonPickleSerde state is JSON: {state:?}"
    );

    // Without jsonpickle the same directory cannot be read, and says why.
    let before = dir_contents(&dir);
    let out = bytewax(["python".as_ref(), "jp.py".as_ref(), dir.as_os_str()])
        .cwd(tmp.path())
        .run();
    assert_eq!(out.code, Some(3), "run_main should raise\n{}", out.report());
    let raised = out
        .stdout_lines()
        .into_iter()
        .find(|l| l.starts_with("RAISED"))
        .unwrap_or_default();
    assert!(
        raised.contains("jsonpickle") && raised.contains("pip install jsonpickle"),
        "the error should name the missing package: {raised}\n{}",
        out.report()
    );
    assert!(
        !out.stdout_lines().iter().any(|l| l.starts_with("('")),
        "nothing may run\n{}",
        out.report()
    );
    assert_dir_unchanged(&before, &dir, "failed start without jsonpickle (run_main)");
    let out = run_rec(tmp.path(), "jp.py", &dir, &["-s", "0", "-b", "0"]).run();
    out.assert_code(1);
    assert!(out.stdout.is_empty(), "{}", out.report());
    out.assert_stderr_has(&["jsonpickle", "pip install jsonpickle"]);
    assert_eq!(
        count(
            &out.stderr,
            "these snapshots were written with `JsonPickleSerde`"
        ),
        1,
        "the reason is given once\n{}",
        out.report()
    );
    assert_dir_unchanged(&before, &dir, "failed start without jsonpickle (CLI)");

    // With jsonpickle again, the state is intact; the CLI's default serde
    // is JsonPickleSerde too.
    let out = run_rec(tmp.path(), "jp.py", &dir, &["-s", "0", "-b", "0"])
        .env("VIRTUAL_ENV", &venv)
        .run();
    out.assert_success();
    out.assert_stdout_lines(&["('a', 11)"]);
}

#[test]
fn builtin_serde_fallback_warns_once_and_is_recorded() {
    let tmp = TempDir::new("fallback");
    write_flow(&tmp, "jp.py", JP_FLOW);
    let dir = tmp.join("state");
    init_db(&dir, 3);

    // Three workers, one warning.
    let out = run_rec(
        tmp.path(),
        "jp.py",
        &dir,
        &["-s", "0", "-b", "0", "-w", "3"],
    )
    .run();
    out.assert_success();
    out.assert_sorted_stdout(&["('a', 1)", "('b', 2)"]);
    assert_eq!(
        count(&out.stderr, JSONPICKLE_WARNING),
        1,
        "the fallback is announced exactly once\n{}",
        out.report()
    );
    let line = out
        .stderr_lines()
        .into_iter()
        .find(|l| l.contains(JSONPICKLE_WARNING))
        .unwrap();
    assert!(line.contains("WARN"), "at WARN level: {line}");
    assert!(!out.stdout.contains("jsonpickle"), "logs stay off stdout");
    let (names, _) = stored_serdes(&dir, "jp.sum");
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["bytewax.serde._BuiltinSerde"],
        "snapshots should record the built-in serde"
    );

    // Two run_main calls in one interpreter: still once.
    let other = tmp.join("other");
    init_db(&other, 1);
    let other2 = tmp.join("other2");
    init_db(&other2, 1);
    tmp.write(
        "twice.py",
        r#"
import sys
from datetime import timedelta

import jp
from bytewax.recovery import RecoveryConfig
from bytewax.testing import run_main

for d in sys.argv[1:]:
    run_main(jp.flow, epoch_interval=timedelta(0), recovery_config=RecoveryConfig(d))
"#,
    );
    let out = bytewax([
        "python".as_ref(),
        "twice.py".as_ref(),
        other.as_os_str(),
        other2.as_os_str(),
    ])
    .cwd(tmp.path())
    .run();
    out.assert_success();
    out.assert_stdout_lines(&["('a', 1)", "('b', 2)", "('a', 1)", "('b', 2)"]);
    assert_eq!(
        count(&out.stderr, JSONPICKLE_WARNING),
        1,
        "{}",
        out.report()
    );

    // No recovery, no warning.
    let out = bytewax(["run", "jp.py"]).cwd(tmp.path()).run();
    out.assert_success();
    assert_eq!(
        count(&out.stderr, JSONPICKLE_WARNING),
        0,
        "{}",
        out.report()
    );

    // A later run with jsonpickle reads the built-in snapshots (each
    // records its serde) and writes JsonPickleSerde ones; without
    // jsonpickle again, those cannot be read.
    let venv = tools_venv();
    let out = run_rec(
        tmp.path(),
        "jp.py",
        &dir,
        &["-s", "0", "-b", "0", "-w", "2"],
    )
    .env("VIRTUAL_ENV", &venv)
    .run();
    out.assert_success();
    out.assert_stdout_lines(&["('a', 11)"]);
    assert_eq!(
        count(&out.stderr, JSONPICKLE_WARNING),
        0,
        "{}",
        out.report()
    );
    let (names, _) = stored_serdes(&dir, "jp.sum");
    assert!(names.contains("bytewax.serde.JsonPickleSerde"), "{names:?}");
    let before = dir_contents(&dir);
    let out = run_rec(tmp.path(), "jp.py", &dir, &["-s", "0", "-b", "0"]).run();
    out.assert_code(1);
    out.assert_stderr_has(&["jsonpickle"]);
    assert_dir_unchanged(&before, &dir, "failed start without jsonpickle");
}
