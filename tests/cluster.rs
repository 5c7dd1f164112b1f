//! Multi-process clusters, end to end: `-p N` local clusters, processes
//! started by the test with `-i`/`-a` (flags, environment, hostfile, pod
//! name), connection timeouts, lost and failing processes, signals to the
//! `-p` parent, recovery across cluster shapes, and `test_cluster`.
//!
//! Ports are loopback ports found free by binding `127.0.0.1:0`. Every run
//! has a hard time limit; tests react to output, never to the clock.

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{
    bytewax, count, flows_dir, lines, multiset_diff, repo_root, tools_venv, write_flow, Cmd,
    Output, Running, TempDir, PANIC_MARKERS,
};

// ---------------------------------------------------------------------
// Helpers.

/// `n` distinct free loopback ports (all bound at once, then released).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// `127.0.0.1:p0;127.0.0.1:p1;...` for `n` free ports.
fn addresses(n: usize) -> String {
    free_ports(n)
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(";")
}

/// Pids of processes whose command line contains `pattern` (`pgrep -f`).
fn pids_matching(pattern: &str) -> Vec<String> {
    let out = Cmd::new("pgrep")
        .args(["-f", pattern])
        .timeout(Duration::from_secs(10))
        .run();
    lines(&out.stdout)
}

/// A name no other test (or earlier run) uses, for `pgrep -f`.
fn unique_name(label: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{label}_{}_{nanos}", std::process::id())
}

/// Fails if any of `outs` printed Rust panic text.
#[track_caller]
fn assert_no_panics(outs: &[&Output]) {
    for out in outs {
        out.assert_no_panic();
    }
}

/// A flow with one endless source partition per worker: worker `W` emits
/// `wW 1`, `wW 2`, ... every 20 ms. Item `wW N` raises `ValueError` in
/// step `explode` when `W` and `N` match `RAISE_WORKER`/`RAISE_AT`
/// (environment; off by default).
const ENDLESS: &str = r#"
import os
import time

from bytewax.inputs import DynamicSource, StatelessSourcePartition

RAISE = (os.environ.get("RAISE_WORKER"), os.environ.get("RAISE_AT"))


class _Part(StatelessSourcePartition):
    def __init__(self, worker):
        self.worker = worker
        self.n = 0

    def next_batch(self, sched):
        time.sleep(0.02)
        self.n += 1
        return [f"w{self.worker} {self.n}"]


class Endless(DynamicSource):
    def build(self, now, worker_index, worker_count):
        return _Part(worker_index)


def explode(item):
    worker, n = item.split()
    if (worker[1:], n) == RAISE:
        raise ValueError(f"boom at {item}")
    return item


flow = Dataflow("endless")
s = op.input("inp", flow, Endless())
s = op.map("explode", s, explode)
op.output("out", s, StdOutSink())
"#;

/// A finite keyed flow: 200 numbers counted by `k0`..`k9` (20 each).
const COUNTS: &str = r#"
flow = Dataflow("counts")
s = op.input("inp", flow, TestingSource(range(200), batch_size=7))
counts = op.count_final("count", s, lambda x: f"k{x % 10}")
op.output("out", counts, StdOutSink())
"#;

fn counts_expected() -> Vec<String> {
    (0..10).map(|k| format!("('k{k}', 20)")).collect()
}

/// Waits for both processes and returns their outputs (process 0 first).
fn wait_both(a: Running, b: Running) -> (Output, Output) {
    let a = a.wait();
    let b = b.wait();
    (a, b)
}

// ---------------------------------------------------------------------
// Same output on any cluster shape.

/// The cluster shapes every flow must give the same output on.
const SHAPES: &[&[&str]] = &[
    &["-p", "2", "-w", "1"],
    &["-p", "2", "-w", "2"],
    &["-w", "1"],
];

/// Runs `import_str` (from `cwd`) in every shape; one message per failure.
fn shape_failures(cwd: &Path, name: &str, import_str: &str, want: &[String]) -> Vec<String> {
    let mut failures = Vec::new();
    for shape in SHAPES {
        let out = bytewax(["run", import_str])
            .args(*shape)
            .cwd(cwd)
            .timeout(Duration::from_secs(120))
            .run();
        let shape = shape.join(" ");
        if out.code != Some(0) {
            failures.push(format!(
                "== {name} {shape}: exit code {:?}\n{}",
                out.code,
                out.report()
            ));
            continue;
        }
        if let Some(marker) = PANIC_MARKERS.iter().find(|m| out.stderr.contains(*m)) {
            failures.push(format!(
                "== {name} {shape}: `{marker}` on stderr\n{}",
                out.report()
            ));
            continue;
        }
        if let Some(diff) = multiset_diff(&out.stdout_lines(), want) {
            failures.push(format!(
                "== {name} {shape}:\n{diff}--- stderr ---\n{}",
                out.stderr
            ));
        }
    }
    failures
}

/// What `examples/wordcount.py` prints: words of `[a-z']+` in the
/// lower-cased text, counted.
fn wordcount_expected() -> Vec<String> {
    let text = std::fs::read_to_string(repo_root().join("examples/data/wordcount.txt")).unwrap();
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
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
            if w.contains('\'') {
                format!("(\"{w}\", {n})")
            } else {
                format!("('{w}', {n})")
            }
        })
        .collect()
}

#[test]
fn examples_give_the_same_output_on_any_cluster_shape() {
    let strs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let examples: Vec<(&str, Vec<String>)> = vec![
        (
            "cluster",
            strs(&["('cart', 3)", "('checkout', 2)", "('home', 4)"]),
        ),
        (
            "join",
            strs(&[
                "('1', ('Ada', 'ada@example.com'))",
                "('2', ('Grace', 'grace@example.com'))",
            ]),
        ),
        (
            "windowing",
            strs(&[
                "alice 10:00-10:05 3 clicks",
                "alice 10:05-10:10 1 clicks",
                "bob 10:00-10:05 1 clicks",
                "bob 10:10-10:15 2 clicks",
            ]),
        ),
        ("wordcount", wordcount_expected()),
    ];
    // Every example except recoverable.py is covered.
    let mut on_disk: Vec<String> = std::fs::read_dir(repo_root().join("examples"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".py") && n != "recoverable.py")
        .map(|n| n.trim_end_matches(".py").to_string())
        .collect();
    on_disk.sort();
    let covered: Vec<String> = examples.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(on_disk, covered, "an example is not covered by this test");

    let mut failures = Vec::new();
    for (name, want) in &examples {
        let path = repo_root().join("examples").join(format!("{name}.py"));
        failures.extend(shape_failures(
            &repo_root(),
            name,
            path.to_str().unwrap(),
            want,
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn keyed_fixtures_give_the_same_output_on_any_cluster_shape() {
    let mut names: Vec<String> = std::fs::read_dir(flows_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("kd_") && n.ends_with(".py"))
        .map(|n| n.trim_end_matches(".py").to_string())
        .collect();
    names.sort();
    assert!(
        names.len() >= 10,
        "expected the kd_* fixtures, found {names:?}"
    );
    let mut failures = Vec::new();
    for name in &names {
        let expected = flows_dir().join("expected");
        let ours = expected.join(format!("{name}.ours.out"));
        let path = if ours.is_file() {
            ours
        } else {
            expected.join(format!("{name}.out"))
        };
        let want = lines(
            &std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display())),
        );
        failures.extend(shape_failures(
            &flows_dir(),
            name,
            &format!("{name}.py:flow"),
            &want,
        ));
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------
// Processes started by hand.

/// Both processes exit 0, their outputs together are the expected counts,
/// and each printed some of them (the keys are spread over processes).
#[track_caller]
fn assert_counts_split(p0: &Output, p1: &Output) {
    for out in [p0, p1] {
        out.assert_success();
    }
    let mut all = p0.stdout_lines();
    all.extend(p1.stdout_lines());
    if let Some(diff) = multiset_diff(&all, &counts_expected()) {
        panic!(
            "the two processes together printed the wrong lines:\n{diff}\n{}\n{}",
            p0.report(),
            p1.report()
        );
    }
    assert!(
        !p0.stdout.is_empty() && !p1.stdout.is_empty(),
        "both processes should own some keys\n{}\n{}",
        p0.report(),
        p1.report()
    );
}

#[test]
fn process_id_and_addresses_from_flags_and_environment() {
    let tmp = TempDir::new("ia");
    write_flow(&tmp, "counts.py", COUNTS);

    // Flags.
    let addrs = addresses(2);
    let p0 = bytewax(["run", "counts.py", "-i", "0", "-a", &addrs])
        .cwd(tmp.path())
        .spawn();
    let p1 = bytewax(["run", "counts.py", "-i", "1", "-a", &addrs])
        .cwd(tmp.path())
        .spawn();
    let (o0, o1) = wait_both(p0, p1);
    assert_counts_split(&o0, &o1);

    // Environment variables (process 1 first this time, two workers each).
    let addrs = addresses(2);
    let p1 = bytewax(["run", "counts.py", "-w", "2"])
        .env("BYTEWAX_PROCESS_ID", "1")
        .env("BYTEWAX_ADDRESSES", &addrs)
        .cwd(tmp.path())
        .spawn();
    let p0 = bytewax(["run", "counts.py"])
        .env("BYTEWAX_PROCESS_ID", "0")
        .env("BYTEWAX_ADDRESSES", &addrs)
        .env("BYTEWAX_WORKERS_PER_PROCESS", "2")
        .cwd(tmp.path())
        .spawn();
    let (o1, o0) = wait_both(p1, p0);
    assert_counts_split(&o0, &o1);
}

#[test]
fn hostfile_and_pod_name() {
    let tmp = TempDir::new("hostfile");
    write_flow(&tmp, "counts.py", COUNTS);
    let ports = free_ports(2);
    let hostfile = tmp.write(
        "hosts.txt",
        format!("127.0.0.1:{}\n\n  127.0.0.1:{}  \n", ports[0], ports[1]),
    );
    let p0 = bytewax(["run", "counts.py", "-i", "0"])
        .env("BYTEWAX_HOSTFILE_PATH", &hostfile)
        .cwd(tmp.path())
        .spawn();
    let p1 = bytewax(["run", "counts.py", "-i", "1"])
        .env("BYTEWAX_HOSTFILE_PATH", &hostfile)
        .cwd(tmp.path())
        .spawn();
    let (o0, o1) = wait_both(p0, p1);
    assert_counts_split(&o0, &o1);

    // In a stateful set, pod `NAME-N` is process N.
    let ports = free_ports(2);
    let hostfile = tmp.write(
        "hosts2.txt",
        format!("127.0.0.1:{}\n127.0.0.1:{}\n", ports[0], ports[1]),
    );
    let pod = |n: u32| {
        bytewax(["run", "counts.py"])
            .env("BYTEWAX_HOSTFILE_PATH", &hostfile)
            .env("BYTEWAX_POD_NAME", format!("my-flow-{n}"))
            .env("BYTEWAX_STATEFULSET_NAME", "my-flow")
            .cwd(tmp.path())
            .spawn()
    };
    let p1 = pod(1);
    let p0 = pod(0);
    let (o1, o0) = wait_both(p1, p0);
    assert_counts_split(&o0, &o1);

    // A pod name that does not fit the set is a usage error naming both.
    let out = bytewax(["run", "counts.py"])
        .env("BYTEWAX_HOSTFILE_PATH", &hostfile)
        .env("BYTEWAX_POD_NAME", "other-thing")
        .env("BYTEWAX_STATEFULSET_NAME", "my-flow")
        .cwd(tmp.path())
        .run();
    out.assert_code(2);
    out.assert_stderr_has(&["error:", "BYTEWAX_POD_NAME", "other-thing"]);
    assert!(out.stdout.is_empty(), "{}", out.report());

    // A hostfile that cannot be read is a usage error naming it.
    let out = bytewax(["run", "counts.py", "-i", "0"])
        .env("BYTEWAX_HOSTFILE_PATH", tmp.join("nope.txt"))
        .cwd(tmp.path())
        .run();
    out.assert_code(2);
    out.assert_stderr_has(&["error:", "nope.txt"]);
}

#[test]
fn cluster_flag_mistakes_are_usage_errors() {
    let tmp = TempDir::new("clusterflags");
    write_flow(&tmp, "counts.py", COUNTS);
    let two = addresses(2);
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["-i", "0"],
            vec!["-a/--addresses", "BYTEWAX_HOSTFILE_PATH"],
        ),
        (vec!["-i", "1"], vec!["-a/--addresses"]),
        (vec!["-i", "2", "-a", &two], vec!["2", "out of range"]),
        (vec!["-a", &two], vec!["-i/--process-id"]),
        (
            vec!["-p", "2", "-i", "0", "-a", &two],
            vec!["-p/--processes"],
        ),
        (vec!["-p", "0"], vec!["0"]),
        (vec!["-i", "x", "-a", &two], vec!["x"]),
    ];
    for (args, needles) in cases {
        let out = bytewax(["run", "counts.py"])
            .args(&args)
            .cwd(tmp.path())
            .timeout(Duration::from_secs(30))
            .run();
        assert_eq!(
            out.code,
            Some(2),
            "`{}` should be a usage error\n{}",
            args.join(" "),
            out.report()
        );
        out.assert_no_panic();
        assert!(out.stdout.is_empty(), "{}", out.report());
        out.assert_stderr_has(&needles);
    }
    // `-i` without addresses, from the environment.
    let out = bytewax(["run", "counts.py"])
        .env("BYTEWAX_PROCESS_ID", "0")
        .cwd(tmp.path())
        .run();
    out.assert_code(2);
    out.assert_stderr_has(&["-a/--addresses"]);
}

#[test]
fn peer_that_never_comes_up_times_out_naming_it() {
    let tmp = TempDir::new("timeout");
    write_flow(&tmp, "counts.py", COUNTS);
    // Process 1 waits for process 0 (which it dials), and process 0 for
    // process 1 (which dials it); plain seconds and humantime.
    for (me, missing, timeout, secs) in [(1, 0, "3", 3.0), (0, 1, "2500ms", 2.5)] {
        let ports = free_ports(2);
        let addrs = format!("127.0.0.1:{};127.0.0.1:{}", ports[0], ports[1]);
        let out = bytewax(["run", "counts.py", "-i", &me.to_string(), "-a", &addrs])
            .env("BYTEWAX_CONNECT_TIMEOUT", timeout)
            .cwd(tmp.path())
            .timeout(Duration::from_secs(40))
            .run();
        assert!(
            out.code.is_some() && out.code != Some(0),
            "a lonely process {me} should fail\n{}",
            out.report()
        );
        out.assert_no_panic();
        let peer = format!("process {missing}");
        let addr = format!("127.0.0.1:{}", ports[missing]);
        out.assert_stderr_has(&[&peer, &addr]);
        // Said halfway through the wait, not only when giving up.
        out.assert_stderr_has(&[
            &format!("still waiting for {peer} at {addr}"),
            "giving up in",
        ]);
        assert!(out.stdout.is_empty(), "nothing on stdout\n{}", out.report());
        let took = out.elapsed.as_secs_f64();
        assert!(
            took >= secs - 0.5 && took <= secs + 15.0,
            "BYTEWAX_CONNECT_TIMEOUT={timeout} but it gave up after {took:.1}s\n{}",
            out.report()
        );
    }
}

/// Starts the endless flow as processes 0 and 1 (one worker each).
fn start_endless_pair(tmp: &TempDir, env: &[(&str, &str)]) -> (Running, Running) {
    let addrs = addresses(2);
    let start = |i: &str| {
        let mut cmd = bytewax(["run", "endless.py", "-i", i, "-a", &addrs])
            .cwd(tmp.path())
            .timeout(Duration::from_secs(90));
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        cmd.spawn()
    };
    (start("0"), start("1"))
}

#[test]
fn killing_a_process_stops_the_other_naming_it() {
    let tmp = TempDir::new("killone");
    write_flow(&tmp, "endless.py", ENDLESS);
    for victim in [1usize, 0] {
        let (mut p0, mut p1) = start_endless_pair(&tmp, &[]);
        // Both are running the flow: each printed its own worker's items.
        assert!(
            p0.wait_for_line(Duration::from_secs(60), |l| l.starts_with("w0 "))
                .is_some(),
            "process 0 printed nothing\n{:?}",
            p0.output_so_far()
        );
        assert!(
            p1.wait_for_line(Duration::from_secs(60), |l| l.starts_with("w1 "))
                .is_some(),
            "process 1 printed nothing\n{:?}",
            p1.output_so_far()
        );
        let (killed, survivor) = if victim == 1 { (p1, p0) } else { (p0, p1) };
        killed.signal("KILL");
        let killed = killed.wait_within(Duration::from_secs(10));
        assert_eq!(killed.signal, Some(9), "{}", killed.report());
        let out = survivor.wait_within(Duration::from_secs(10));
        assert!(
            out.code.is_some() && out.code != Some(0),
            "the survivor should exit non-zero by itself\n{}",
            out.report()
        );
        out.assert_no_panic();
        out.assert_stderr_has(&[&format!("lost contact with process {victim}")]);
        assert!(
            !out.stderr.contains("Traceback"),
            "a lost peer is not a Python error\n{}",
            out.report()
        );
    }
}

#[test]
fn killing_a_child_of_a_local_cluster_stops_everything() {
    let tmp = TempDir::new("killchild");
    let name = unique_name("killchild");
    write_flow(&tmp, &format!("{name}.py"), ENDLESS);
    let mut parent = bytewax(["run", &format!("{name}.py"), "-p", "2"])
        .cwd(tmp.path())
        .timeout(Duration::from_secs(90))
        .spawn();
    let mut seen = (false, false);
    let ready = parent.wait_for_line(Duration::from_secs(60), |l| {
        seen.0 |= l.starts_with("w0 ");
        seen.1 |= l.starts_with("w1 ");
        seen.0 && seen.1
    });
    assert!(
        ready.is_some(),
        "the cluster printed nothing\n{:?}",
        parent.output_so_far()
    );
    let child = pids_matching(&format!("{name}.py -w 1 -i 1 "));
    assert_eq!(child.len(), 1, "expected one process 1, found {child:?}");
    let status = std::process::Command::new("kill")
        .args(["-KILL", &child[0]])
        .status()
        .unwrap();
    assert!(status.success());
    let out = parent.wait_within(Duration::from_secs(10));
    assert!(
        out.code.is_some() && out.code != Some(0),
        "the parent should fail when a child is killed\n{}",
        out.report()
    );
    out.assert_no_panic();
    out.assert_stderr_has(&["lost contact with process 1"]);
    let left = pids_matching(&name);
    assert!(left.is_empty(), "processes left behind: {left:?}");
}

#[test]
fn exception_in_one_process_is_reported_once() {
    let tmp = TempDir::new("raise");
    write_flow(&tmp, "endless.py", ENDLESS);
    let env = [("RAISE_WORKER", "1"), ("RAISE_AT", "5")];
    let (p0, p1) = start_endless_pair(&tmp, &env);
    let (o0, o1) = wait_both(p0, p1);
    assert_no_panics(&[&o0, &o1]);
    let both = format!("{}{}", o0.stderr, o1.stderr);
    let report = format!("{}\n{}", o0.report(), o1.report());
    assert_eq!(o1.code, Some(1), "the failing process exits 1\n{report}");
    assert!(
        o0.code.is_some() && o0.code != Some(0),
        "the other process exits non-zero\n{report}"
    );
    assert_eq!(
        count(&both, "Traceback (most recent call last)"),
        1,
        "one traceback across both processes\n{report}"
    );
    assert_eq!(count(&both, "ValueError: boom at w1 5"), 1, "{report}");
    assert!(
        o1.stderr.contains("explode"),
        "the note names the step\n{report}"
    );
    let other: Vec<String> = o0
        .stderr_lines()
        .into_iter()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(other.len(), 1, "the other process says one line\n{report}");
    assert!(
        other[0].contains("process 1"),
        "it names the failed process\n{report}"
    );

    // The same under a `-p 2` parent: one traceback, exit 1.
    let out = bytewax(["run", "endless.py", "-p", "2"])
        .envs_from(&env)
        .cwd(tmp.path())
        .run();
    out.assert_code(1);
    assert_eq!(
        count(&out.stderr, "Traceback (most recent call last)"),
        1,
        "{}",
        out.report()
    );
    assert_eq!(
        count(&out.stderr, "ValueError: boom at w1 5"),
        1,
        "{}",
        out.report()
    );
}

/// `Cmd::env` for several pairs.
trait Envs {
    fn envs_from(self, pairs: &[(&str, &str)]) -> Self;
}

impl Envs for Cmd {
    fn envs_from(mut self, pairs: &[(&str, &str)]) -> Cmd {
        for (k, v) in pairs {
            self = self.env(k, v);
        }
        self
    }
}

#[test]
fn sigint_and_sigterm_stop_a_local_cluster() {
    let tmp = TempDir::new("signals");
    // SIGINT three times: how the children wind down is racy, so one
    // round could miss a bad ending.
    for (round, (signal, code)) in [("INT", 130), ("TERM", 143), ("INT", 130), ("INT", 130)]
        .into_iter()
        .enumerate()
    {
        let name = unique_name(&format!("sig{signal}{round}"));
        write_flow(&tmp, &format!("{name}.py"), ENDLESS);
        let mut parent = bytewax(["run", &format!("{name}.py"), "-p", "2", "-w", "2"])
            .cwd(tmp.path())
            .timeout(Duration::from_secs(90))
            .spawn();
        let mut seen = [false; 4];
        let ready = parent.wait_for_line(Duration::from_secs(60), |l| {
            for (w, s) in seen.iter_mut().enumerate() {
                *s |= l.starts_with(&format!("w{w} "));
            }
            seen.iter().all(|s| *s)
        });
        assert!(
            ready.is_some(),
            "not every worker printed\n{:?}",
            parent.output_so_far()
        );
        assert_eq!(pids_matching(&name).len(), 3, "a parent and two children");
        let sent = Instant::now();
        parent.signal(signal);
        let out = parent.wait_within(Duration::from_secs(15));
        out.assert_code(code);
        assert!(
            sent.elapsed() < Duration::from_secs(15),
            "SIG{signal} took {:?}",
            sent.elapsed()
        );
        let left = pids_matching(&name);
        assert!(
            left.is_empty(),
            "SIG{signal}: processes left behind: {left:?}\n{}",
            out.report()
        );
        assert!(
            !out.stderr.contains("Traceback") && !out.stderr.contains("Exception ignored"),
            "SIG{signal} (round {round}): a stop by signal prints no Python traceback\n{}",
            out.report()
        );
    }
}

// ---------------------------------------------------------------------
// Recovery with several processes.

#[test]
fn recovery_across_process_counts() {
    let tmp = TempDir::new("clusterrec");
    let shapes: [&[&str]; 4] = [
        &["-p", "2"],
        &["-p", "1", "-w", "3"],
        &["-w", "1"],
        &["-p", "2", "-w", "2"],
    ];
    let keys: Vec<String> = (0..10).map(|k| format!("k{k}")).collect();
    let segments: Vec<Vec<(String, i64)>> = (0..3)
        .map(|seg| {
            (0..30)
                .map(|j| (keys[(j * 3 + seg) % 10].clone(), (seg * 100 + j + 1) as i64))
                .collect()
        })
        .collect();
    let segs: Vec<String> = segments
        .iter()
        .map(|s| {
            let items: Vec<String> = s.iter().map(|(k, v)| format!("('{k}', {v})")).collect();
            format!("[{}]", items.join(", "))
        })
        .collect();
    write_flow(
        &tmp,
        "sums.py",
        &format!(
            r#"
INP = []
for seg in [{}]:
    INP.extend(seg)
    INP.append(TestingSource.EOF())


def add(total, x):
    total += x
    return total, total


flow = Dataflow("sums")
s = op.input("inp", flow, TestingSource(INP, batch_size=4))
s = op.stateful_map("sum", s, lambda: 0, add)
op.output("out", s, StdOutSink())
"#,
            segs.join(", ")
        ),
    );
    let mut totals: BTreeMap<String, i64> = BTreeMap::new();
    let mut expected: Vec<Vec<String>> = segments
        .iter()
        .map(|seg| {
            seg.iter()
                .map(|(k, v)| {
                    let t = totals.entry(k.clone()).or_default();
                    *t += v;
                    format!("('{k}', {t})")
                })
                .collect()
        })
        .collect();
    expected.push(Vec::new());

    let dir = tmp.join("state");
    bytewax(["init-db".as_ref(), dir.as_os_str(), "3".as_ref()])
        .run()
        .assert_success();
    for (run, shape) in shapes.iter().enumerate() {
        let out = bytewax(["run", "sums.py", "-s", "0", "-b", "0"])
            .arg("-r")
            .arg(&dir)
            .args(*shape)
            .cwd(tmp.path())
            .timeout(Duration::from_secs(120))
            .run();
        out.assert_success();
        if let Some(diff) = multiset_diff(&out.stdout_lines(), &expected[run]) {
            panic!(
                "run {} ({}) did not carry the state over:\n{diff}\n{}",
                run + 1,
                shape.join(" "),
                out.report()
            );
        }
    }
    let report = bytewax(["recovery".as_ref(), "inspect".as_ref(), dir.as_os_str()]).run();
    report.assert_success();
    let workers: Vec<String> = report
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with('#'))
        .map(|l| {
            l.split("  ")
                .find(|p| p.ends_with("worker(s)"))
                .unwrap_or("?")
                .to_string()
        })
        .collect();
    assert_eq!(
        workers,
        ["2 worker(s)", "3 worker(s)", "1 worker(s)", "4 worker(s)"],
        "{}",
        report.stdout
    );
}

// ---------------------------------------------------------------------
// test_cluster.

const TEST_CLUSTER_SCRIPT: &str = r#"
import os
import sys
from pathlib import Path

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.testing import TestingSource, test_cluster

print(f"module body ran in {os.getpid()}", flush=True)
OUT = Path(sys.argv[1])


class _FilePart(StatelessSinkPartition):
    def __init__(self, path, worker_count):
        self._path = path
        self._worker_count = worker_count

    def write_batch(self, items):
        with open(self._path, "a") as f:
            for item in items:
                f.write(f"{self._worker_count} {item}\n")


class PerWorkerFiles(DynamicSink):
    def __init__(self, dir):
        self._dir = dir

    def build(self, worker_index, worker_count):
        return _FilePart(self._dir / f"w{worker_index}.txt", worker_count)


def counts(name, sink):
    flow = Dataflow(name)
    s = op.input("inp", flow, TestingSource(range(200), batch_size=7))
    c = op.count_final("count", s, lambda x: f"k{x % 10}")
    op.output("out", c, sink)
    return flow


test_cluster(counts("to_stdout", StdOutSink()), processes=2, workers_per_process=2)
print("after the stdout cluster", flush=True)

test_cluster(counts("to_files", PerWorkerFiles(OUT)), processes=3, workers_per_process=1)
print("files", sorted(p.name for p in OUT.iterdir()), flush=True)


def explode(x):
    if x == 150:
        raise ValueError("boom in a test cluster")
    return x


bad = Dataflow("bad")
s = op.input("inp", bad, TestingSource(range(200)))
s = op.redistribute("spread", s)
op.output("out", op.map("explode", s, explode), StdOutSink())
try:
    test_cluster(bad, processes=2)
except Exception as e:
    print("RAISED", type(e).__name__, "|", e, flush=True)
else:
    print("NO ERROR", flush=True)
print("done", flush=True)
"#;

#[test]
fn test_cluster_from_a_script() {
    let tmp = TempDir::new("testcluster");
    tmp.write("tc.py", TEST_CLUSTER_SCRIPT);
    let out_dir = tmp.mkdir("out");
    let out = bytewax(["python".as_ref(), "tc.py".as_ref(), out_dir.as_os_str()])
        .cwd(tmp.path())
        .timeout(Duration::from_secs(180))
        .run();
    out.assert_success();
    let got = out.stdout_lines();
    let report = out.report();
    assert_eq!(
        got.iter()
            .filter(|l| l.starts_with("module body ran"))
            .count(),
        1,
        "the script ran more than once\n{report}"
    );
    let counted: Vec<String> = got
        .iter()
        .filter(|l| l.starts_with("('k"))
        .cloned()
        .collect();
    if let Some(diff) = multiset_diff(&counted, &counts_expected()) {
        panic!("test_cluster to stdout:\n{diff}\n{report}");
    }
    assert_eq!(
        count(&out.stdout, "after the stdout cluster"),
        1,
        "{report}"
    );

    // Files: one per worker that got a key, every line says 3 workers.
    let mut file_lines = Vec::new();
    for entry in std::fs::read_dir(&out_dir).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        file_lines.extend(lines(&text));
    }
    let want: Vec<String> = counts_expected().iter().map(|l| format!("3 {l}")).collect();
    if let Some(diff) = multiset_diff(&file_lines, &want) {
        panic!("test_cluster to files:\n{diff}\n{report}");
    }
    assert!(got.iter().any(|l| l.starts_with("files ['w")), "{report}");
    assert!(
        std::fs::read_dir(&out_dir).unwrap().count() >= 2,
        "keys should be spread over several processes\n{report}"
    );

    // A failing child: the caller gets an exception, the child's
    // traceback is printed once.
    let raised = got
        .iter()
        .find(|l| l.starts_with("RAISED") || l.starts_with("NO ERROR"))
        .cloned()
        .unwrap_or_default();
    assert!(
        raised.starts_with("RAISED RuntimeError |") && raised.contains("process"),
        "test_cluster should raise when a process fails: {raised}\n{report}"
    );
    assert_eq!(
        count(&out.stderr, "ValueError: boom in a test cluster"),
        1,
        "{report}"
    );
    assert_eq!(got.last().map(String::as_str), Some("done"), "{report}");
}

const PYTEST_FILE: &str = r#"
import os
from pathlib import Path

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.testing import TestingSource, test_cluster

HERE = Path(__file__).parent


def _record(what):
    with open(HERE / "counter.txt", "a") as f:
        f.write(what + "\n")


_record("imported")


class _FilePart(StatelessSinkPartition):
    def __init__(self, path):
        self._path = path

    def write_batch(self, items):
        with open(self._path, "a") as f:
            for item in items:
                f.write(f"{item}\n")


class PerWorkerFiles(DynamicSink):
    def __init__(self, dir):
        self._dir = dir

    def build(self, worker_index, worker_count):
        return _FilePart(self._dir / f"w{worker_index}.txt")


def test_counts_in_a_cluster(tmp_path):
    _record("test_counts_in_a_cluster")
    flow = Dataflow("pytest_cluster")
    s = op.input("inp", flow, TestingSource(range(60)))
    c = op.count_final("count", s, lambda x: f"k{x % 6}")
    op.output("out", c, PerWorkerFiles(tmp_path))
    test_cluster(flow, processes=2, workers_per_process=2)
    got = sorted(line for p in tmp_path.iterdir() for line in p.read_text().splitlines())
    assert got == sorted(f"('k{k}', 10)" for k in range(6))


def test_second():
    _record("test_second")
"#;

#[test]
fn test_cluster_under_pytest_runs_the_suite_once() {
    let venv = tools_venv();
    let tmp = TempDir::new("pytestcluster");
    tmp.write("test_tc.py", PYTEST_FILE);
    let out = bytewax([
        "python",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "test_tc.py",
    ])
    .env("VIRTUAL_ENV", &venv)
    .cwd(tmp.path())
    .timeout(Duration::from_secs(180))
    .run();
    out.assert_success();
    assert_eq!(count(&out.stdout, "2 passed"), 1, "{}", out.report());
    let counter = std::fs::read_to_string(tmp.join("counter.txt")).unwrap();
    assert_eq!(
        lines(&counter),
        ["imported", "test_counts_in_a_cluster", "test_second"],
        "the test module was imported or its tests run again (in a child?)\n{}",
        out.report()
    );
}
