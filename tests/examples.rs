//! Every flow in `examples/` runs the way its header comment says (from the
//! repository root) and prints what the comment promises; a new file in
//! `examples/` without a test here fails `every_example_is_covered`.
//!
//! Each test also checks that the header still shows the command the test
//! runs and the output it checks, so the comments and the tests cannot
//! drift apart.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{bytewax, lines, multiset_diff, repo_root, Output, TempDir, PANIC_MARKERS};

/// The files in `examples/` that the tests below run. Add a file here only
/// together with a test for it.
const COVERED: &[&str] = &[
    "cluster.py",
    "join.py",
    "recoverable.py",
    "windowing.py",
    "wordcount.py",
];

/// Folders in `examples/` that hold the examples' input data.
const DATA_DIRS: &[&str] = &["data"];

fn examples_dir() -> PathBuf {
    repo_root().join("examples")
}

/// The example's module docstring (its header comment).
fn header(name: &str) -> String {
    let path = examples_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let body = text
        .trim_start()
        .strip_prefix("\"\"\"")
        .unwrap_or_else(|| panic!("{name} does not start with a docstring"));
    let end = body
        .find("\"\"\"")
        .unwrap_or_else(|| panic!("{name}: unterminated docstring"));
    body[..end].to_string()
}

/// Fails unless the header of `name` contains every one of `needles`.
#[track_caller]
fn assert_header_says(name: &str, needles: &[&str]) {
    let text = header(name);
    for needle in needles {
        assert!(
            text.contains(needle),
            "the header comment of examples/{name} should contain {needle:?} (the test runs/checks exactly that); it is:\n{text}"
        );
    }
}

/// `bytewax <args>` from the repository root.
fn run_example(args: &[&str]) -> Output {
    bytewax(args).cwd(repo_root()).run()
}

/// `None` if `out` exited 0 without panic text and printed `expected` (as
/// a multiset); otherwise what went wrong.
fn sorted_mismatch(out: &Output, expected: &[String]) -> Option<String> {
    if out.code != Some(0) || PANIC_MARKERS.iter().any(|m| out.stderr.contains(m)) {
        return Some(format!("run failed\n{}", out.report()));
    }
    multiset_diff(&lines(&out.stdout), expected).map(|d| format!("{d}{}", out.report()))
}

/// Runs each argument list from the repository root and checks its output;
/// reports every failing variant at once.
#[track_caller]
fn check_runs(variants: &[&[&str]], expected: &[String]) {
    let mut failures = Vec::new();
    for args in variants {
        let out = run_example(args);
        if let Some(problem) = sorted_mismatch(&out, expected) {
            failures.push(format!("`bytewax {}`: {problem}", args.join(" ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn owned(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------

#[test]
fn every_example_is_covered() {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(examples_dir()).expect("examples/ exists") {
        let entry = entry.expect("readable entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "__pycache__" {
            continue;
        }
        if entry.path().is_dir() {
            dirs.push(name);
        } else {
            files.push(name);
        }
    }
    files.sort();
    dirs.sort();
    let uncovered: Vec<&String> = files
        .iter()
        .filter(|f| !COVERED.contains(&f.as_str()))
        .collect();
    let missing: Vec<&&str> = COVERED
        .iter()
        .filter(|c| !files.iter().any(|f| f == *c))
        .collect();
    let unknown_dirs: Vec<&String> = dirs
        .iter()
        .filter(|d| !DATA_DIRS.contains(&d.as_str()))
        .collect();
    assert!(
        uncovered.is_empty() && missing.is_empty() && unknown_dirs.is_empty(),
        "examples/ and tests/examples.rs disagree:\n  files without a test: {uncovered:?}\n  tested files that no longer exist: {missing:?}\n  unknown folders: {unknown_dirs:?}\n(add a test for each new example and list it in COVERED)"
    );
}

// ---------------------------------------------------------------------
// wordcount.py

/// What `examples/wordcount.py` computes, worked out here from its data
/// file: words are runs of `a-z` and `'` in the lower-cased text.
fn expected_word_counts() -> Vec<String> {
    let path = examples_dir().join("data").join("wordcount.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut word = String::new();
    for c in text.to_lowercase().chars().chain(std::iter::once(' ')) {
        if c.is_ascii_lowercase() || c == '\'' {
            word.push(c);
        } else if !word.is_empty() {
            *counts.entry(std::mem::take(&mut word)).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|(w, n)| {
            // Python's repr of a str: single quotes unless it has one.
            let repr = if w.contains('\'') {
                format!("\"{w}\"")
            } else {
                format!("'{w}'")
            };
            format!("({repr}, {n})")
        })
        .collect()
}

#[test]
fn wordcount_example() {
    assert_header_says(
        "wordcount.py",
        &[
            "bytewax run examples/wordcount.py",
            "`('flow', 3)`",
            "`('rivers', 3)`",
            "`-w 4`",
        ],
    );
    let expected = expected_word_counts();
    // The examples the header gives are among them.
    for promised in ["('flow', 3)", "('rivers', 3)"] {
        assert!(
            expected.iter().any(|l| l == promised),
            "the data file no longer gives {promised}: {expected:?}"
        );
    }
    check_runs(
        &[
            &["run", "examples/wordcount.py"],
            &["run", "examples/wordcount.py", "-w", "2"],
            &["run", "examples/wordcount.py", "-w", "4"],
        ],
        &expected,
    );
}

// ---------------------------------------------------------------------
// windowing.py

#[test]
fn windowing_example() {
    // alice: 10:00:10, 10:02, 10:04:59 in [10:00, 10:05); 10:07 in
    // [10:05, 10:10), and it moves alice's watermark to 10:06 (1 minute of
    // wait), closing [10:00, 10:05); so the click at 10:01 that comes last
    // is late and dropped. bob: 10:01 in [10:00, 10:05); 10:11 and 10:13
    // in [10:10, 10:15).
    let expected = [
        "alice 10:00-10:05 3 clicks",
        "alice 10:05-10:10 1 clicks",
        "bob 10:00-10:05 1 clicks",
        "bob 10:10-10:15 2 clicks",
    ];
    let mut needles = vec!["bytewax run examples/windowing.py"];
    needles.extend(expected);
    assert_header_says("windowing.py", &needles);
    check_runs(
        &[
            &["run", "examples/windowing.py"],
            &["run", "examples/windowing.py", "-w", "2"],
        ],
        &owned(&expected),
    );
}

// ---------------------------------------------------------------------
// join.py

#[test]
fn join_example() {
    let expected = [
        "('1', ('Ada', 'ada@example.com'))",
        "('2', ('Grace', 'grace@example.com'))",
    ];
    let mut needles = vec!["bytewax run examples/join.py"];
    needles.extend(expected);
    assert_header_says("join.py", &needles);
    // User 3 has no email: nothing else is printed.
    check_runs(
        &[
            &["run", "examples/join.py"],
            &["run", "examples/join.py", "-w", "2"],
        ],
        &owned(&expected),
    );
}

// ---------------------------------------------------------------------
// cluster.py

const CLUSTER_EXPECTED: &[&str] = &["('cart', 3)", "('checkout', 2)", "('home', 4)"];

/// The page counts of `examples/data/logs/*.csv`, worked out here, so the
/// header's promise is checked against the data too.
fn page_counts_from_data() -> Vec<String> {
    let dir = examples_dir().join("data").join("logs");
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("examples/data/logs exists") {
        let path = entry.expect("readable entry").path();
        if path.extension().is_none_or(|e| e != "csv") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable csv");
        for line in text.lines().filter(|l| *l != "user,page" && !l.is_empty()) {
            let page = line.split(',').nth(1).expect("user,page rows");
            *counts.entry(page.to_string()).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|(p, n)| format!("('{p}', {n})"))
        .collect()
}

#[test]
fn cluster_example_with_processes_and_workers() {
    let mut needles = vec!["bytewax run examples/cluster.py -p 2"];
    needles.extend(CLUSTER_EXPECTED);
    assert_header_says("cluster.py", &needles);
    assert_eq!(
        page_counts_from_data(),
        owned(CLUSTER_EXPECTED),
        "examples/data/logs no longer gives what the header of cluster.py promises"
    );
    check_runs(
        &[
            &["run", "examples/cluster.py", "-p", "2"],
            &["run", "examples/cluster.py", "-p", "2", "-w", "2"],
            &["run", "examples/cluster.py"],
            &["run", "examples/cluster.py", "-w", "2"],
        ],
        &owned(CLUSTER_EXPECTED),
    );
}

/// Two ports that were free a moment ago.
fn free_ports() -> (u16, u16) {
    let a = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let b = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

#[test]
fn cluster_example_started_process_by_process() {
    assert_header_says(
        "cluster.py",
        &[
            "bytewax run examples/cluster.py -i 0 -a \"127.0.0.1:2101;127.0.0.1:2102\"",
            "bytewax run examples/cluster.py -i 1 -a \"127.0.0.1:2101;127.0.0.1:2102\"",
        ],
    );
    // The header's ports, replaced by free ones so parallel tests cannot
    // collide.
    let (p0, p1) = free_ports();
    let addresses = format!("127.0.0.1:{p0};127.0.0.1:{p1}");
    let spawn = |i: &str| {
        bytewax(["run", "examples/cluster.py", "-i", i, "-a", &addresses])
            .cwd(repo_root())
            .timeout(Duration::from_secs(120))
            .spawn()
    };
    let first = spawn("0");
    let second = spawn("1");
    let out0 = first.wait();
    let out1 = second.wait();
    for out in [&out0, &out1] {
        out.assert_success();
    }
    let mut all = lines(&out0.stdout);
    all.extend(lines(&out1.stdout));
    if let Some(diff) = multiset_diff(&all, &owned(CLUSTER_EXPECTED)) {
        panic!(
            "the two processes together should print the header's lines:\n{diff}\nprocess 0:\n{}\nprocess 1:\n{}",
            out0.report(),
            out1.report()
        );
    }
}

// ---------------------------------------------------------------------
// recoverable.py

const TRANSACTIONS: usize = 2000;

/// A seed for the kill point: `BYTEWAX_TEST_SEED` if set, else the clock.
/// Printed, so a failure can be replayed.
fn seed() -> u64 {
    let seed = std::env::var("BYTEWAX_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        });
    eprintln!("recoverable: BYTEWAX_TEST_SEED={seed}");
    seed
}

/// A number in `lo..hi` from `seed` (splitmix64).
fn pick(seed: u64, lo: usize, hi: usize) -> usize {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    lo + (z % (hi - lo) as u64) as usize
}

fn line_count(path: &Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

fn init_db(dir: &TempDir, name: &str) -> PathBuf {
    let state = dir.join(name);
    let out = bytewax([OsStr::new("init-db"), state.as_os_str(), OsStr::new("2")])
        .cwd(repo_root())
        .run();
    out.assert_success();
    state
}

/// The header's run command with this state folder, output file and pause.
fn recoverable_cmd(state: &Path, out_file: &Path, pause: &str) -> common::Cmd {
    bytewax([
        OsStr::new("run"),
        OsStr::new("examples/recoverable.py"),
        OsStr::new("-r"),
        state.as_os_str(),
        OsStr::new("-s"),
        OsStr::new("1"),
        OsStr::new("-b"),
        OsStr::new("0"),
    ])
    .cwd(repo_root())
    .env("OUT", out_file)
    .env("PAUSE", pause)
    .timeout(Duration::from_secs(180))
}

#[test]
fn recoverable_example_resumes_after_sigkill_to_the_same_file() {
    assert_header_says(
        "recoverable.py",
        &[
            "bytewax init-db /tmp/recoverable-state 2",
            "OUT=/tmp/totals.txt bytewax run examples/recoverable.py -r /tmp/recoverable-state -s 1 -b 0",
            "kill -9",
            "running it again adds nothing",
        ],
    );
    let dir = TempDir::new("recoverable");

    // An uninterrupted run at full speed gives the file to compare with.
    let full_state = init_db(&dir, "state-full");
    let full_file = dir.join("full.txt");
    let out = recoverable_cmd(&full_state, &full_file, "0").run();
    out.assert_success();
    assert!(out.stdout.is_empty(), "it prints nothing\n{}", out.report());
    let full = std::fs::read_to_string(&full_file).expect("the uninterrupted run wrote its file");
    assert_eq!(
        lines(&full).len(),
        TRANSACTIONS,
        "one line per transaction:\n{}",
        out.report()
    );
    // Every line is `account=running total` (worked out here).
    let mut totals = [0u64; 5];
    let want: Vec<String> = (0..TRANSACTIONS)
        .map(|i| {
            totals[i % 5] += (i % 7 + 1) as u64;
            format!("acct-{}={}", i % 5, totals[i % 5])
        })
        .collect();
    assert_eq!(lines(&full), want, "the uninterrupted run's file");

    // Killed part way with SIGKILL, once its file has a seeded number of
    // lines; the pause makes a run take seconds.
    let state = init_db(&dir, "state");
    let file = dir.join("totals.txt");
    let kill_at = pick(seed(), 50, 1500);
    let running = recoverable_cmd(&state, &file, "0.002").spawn();
    let deadline = Instant::now() + Duration::from_secs(120);
    while line_count(&file) < kill_at {
        if Instant::now() >= deadline {
            let (stdout, stderr) = running.output_so_far();
            panic!(
                "the output file never reached {kill_at} lines (has {}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
                line_count(&file)
            );
        }
        // Polling the file's progress (bounded by the deadline).
        std::thread::sleep(Duration::from_millis(5));
    }
    running.signal("KILL");
    let killed = running.wait_within(Duration::from_secs(30));
    assert_eq!(
        killed.signal,
        Some(9),
        "the run should have been killed part way (kill at {kill_at} lines)\n{}",
        killed.report()
    );
    let at_kill = line_count(&file);
    eprintln!("recoverable: asked to kill at {kill_at} lines; the file had {at_kill}");
    assert!(
        at_kill < TRANSACTIONS,
        "killed at {at_kill} lines: not part way"
    );

    // Resumed with the same command: the file ends up as if never stopped.
    let resumed = recoverable_cmd(&state, &file, "0.002").run();
    resumed.assert_success();
    let after = std::fs::read_to_string(&file).expect("the file exists");
    if after != full {
        let got = lines(&after);
        let first_diff = got
            .iter()
            .zip(want.iter())
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        panic!(
            "after SIGKILL at {at_kill} lines and a resume, the file differs from an uninterrupted run's: {} lines instead of {TRANSACTIONS}, first difference at line {} ({:?} instead of {:?})\n{}",
            got.len(),
            first_diff + 1,
            got.get(first_diff),
            want.get(first_diff),
            resumed.report()
        );
    }

    // Once all input is read, running it again adds nothing.
    let again = recoverable_cmd(&state, &file, "0.002").run();
    again.assert_success();
    let after_again = std::fs::read_to_string(&file).expect("the file exists");
    assert!(
        after_again == full,
        "a further run changed the file ({} lines)\n{}",
        lines(&after_again).len(),
        again.report()
    );
}
