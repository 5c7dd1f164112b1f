//! Keyed state (issue 3): key checks, `unary` and its `UnaryLogic`
//! contract, timers, EOF, and every stateful composite against outputs
//! worked out by hand. Every flow runs with `-w 1`, `-w 2` and `-w 4` and
//! must give the same multiset of lines.

mod common;

use std::time::Duration;

use common::{assert_flow_output_for_workers, bytewax, count, write_flow, TempDir};

const WORKERS: &[u32] = &[1, 2, 4];

/// Writes `body` (after the common imports) as `flow.py` in a fresh folder
/// and checks `flow.py:attr` prints `expected` for -w 1, 2 and 4.
#[track_caller]
fn check(label: &str, body: &str, attr: &str, expected: &[&str]) {
    let dir = TempDir::new(label);
    write_flow(&dir, "flow.py", body);
    assert_flow_output_for_workers(dir.path(), &format!("flow.py:{attr}"), WORKERS, expected);
}

/// The keyed input most tests share, from one partition (so the order of
/// each key's values is the source order).
const EVENTS: &str = r#"
EVENTS = [("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5), ("a", 6)]


def fmt(label):
    return lambda kv: f"{label} {kv[0]} {kv[1]!r}"
"#;

// ---------------------------------------------------------------------
// Keys must be `(str, value)` 2-tuples.

const BAD_KEYS: &str = r#"
from bytewax.operators import UnaryLogic


class Widget:
    pass


class PassThrough(UnaryLogic):
    def on_item(self, now, value):
        return [value], UnaryLogic.RETAIN

    def on_notify(self, sched):
        return [], UnaryLogic.RETAIN

    def on_eof(self):
        return [], UnaryLogic.DISCARD

    def notify_at(self):
        return None

    def snapshot(self):
        return None


def make(which, op_name):
    items = {
        "widget": [("a", 1), Widget()],
        "int_key": [("a", 1), (7, 1)],
        "float_key": [(2.5, "x")],
        "bytes_key": [(b"raw", 1)],
        "none": [None],
        "triple": [("a", 1, 2)],
        "single": [("a",)],
    }[which]
    flow = Dataflow("badkeys")
    s = op.input("inp", flow, TestingSource(items))
    if op_name == "stateful_map":
        s = op.stateful_map("running_total", s, lambda: 0, lambda st, v: (st + 1, st + 1))
    elif op_name == "reduce_final":
        s = op.reduce_final("running_total", s, lambda a, b: a)
    elif op_name == "unary":
        s = op.unary("running_total", s, lambda now, st: PassThrough())
    elif op_name == "collect":
        s = op.collect("running_total", s, timeout=timedelta(seconds=30), max_size=5)
    elif op_name == "join":
        other = op.input("other", flow, TestingSource([("a", 0)]))
        s = op.join("running_total", s, other)
    op.output("out", s, StdOutSink())
    return flow
"#;

#[test]
fn bad_keys_stop_the_run_naming_step_and_type() {
    let dir = TempDir::new("badkeys");
    write_flow(&dir, "flow.py", BAD_KEYS);
    let cases: &[(&str, &str)] = &[
        ("widget", "Widget"),
        ("int_key", "int"),
        ("float_key", "float"),
        ("bytes_key", "bytes"),
        ("none", "NoneType"),
        // Wrong-length tuples: the message must say a pair was expected.
        ("triple", "2"),
        ("single", "2"),
    ];
    let mut failures = Vec::new();
    for op_name in ["stateful_map", "reduce_final", "unary", "collect", "join"] {
        for (which, type_name) in cases {
            for workers in ["1", "2"] {
                let out = bytewax([
                    "run",
                    &format!("flow.py:make({which:?}, {op_name:?})"),
                    "-w",
                    workers,
                ])
                .cwd(dir.path())
                .run();
                let mut problems = Vec::new();
                if out.code != Some(1) {
                    problems.push(format!("exit code {:?}, expected 1", out.code));
                }
                if !out.stderr.contains("badkeys.running_total") {
                    problems.push("stderr should name the step `badkeys.running_total`".into());
                }
                let shows_type = (*type_name == "2"
                    && (out.stderr.contains("2-tuple") || out.stderr.contains("expected 2")))
                    || out.stderr.contains(&format!("`{type_name}`"))
                    || out.stderr.contains(&format!("'{type_name}'"))
                    || out
                        .stderr
                        .contains(&format!("<class '__main__.{type_name}'>"))
                    || out.stderr.contains(&format!("<class 'flow.{type_name}'>"));
                if !shows_type {
                    problems.push(format!(
                        "stderr should show the offending type `{type_name}`"
                    ));
                }
                if common::PANIC_MARKERS.iter().any(|m| out.stderr.contains(m)) {
                    problems.push("panic text on stderr".into());
                }
                if out.stdout.contains("Widget") || out.stdout.contains("raw") {
                    problems.push("the bad item reached the output".into());
                }
                if !problems.is_empty() {
                    failures.push(format!(
                        "== {op_name} with {which} -w {workers}: {}\n{}",
                        problems.join("; "),
                        out.report()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A key Python can hold but UTF-8 can not encode (a lone surrogate): the
/// exchange leaves such a batch as it is and the step reports the key, on
/// one worker, several, or across processes.
#[test]
fn keys_that_are_not_valid_text_stop_the_run_naming_the_step() {
    let dir = TempDir::new("surrogate");
    write_flow(
        &dir,
        "flow.py",
        r#"
from bytewax.operators.window import EventClockConfig, TumblingWindow, count_window

ALIGN = datetime(2024, 1, 1, tzinfo=timezone.utc)


def make(op_name):
    flow = Dataflow("odd")
    s = op.input("inp", flow, TestingSource(["a", "b", "\ud800x", "c"] * 50))
    if op_name == "stateful_map":
        s = op.key_on("key", s, lambda x: x)
        s = op.stateful_map("running", s, lambda: 0, lambda st, v: (st + 1, st + 1))
    else:
        clock = EventClockConfig(lambda x: ALIGN, timedelta(seconds=0))
        windower = TumblingWindow(length=timedelta(minutes=1), align_to=ALIGN)
        s = count_window("running", s, clock, windower, lambda x: x)
    op.output("out", s, StdOutSink())
    return flow
"#,
    );
    let mut failures = Vec::new();
    for op_name in ["stateful_map", "count_window"] {
        for shape in [&["-w", "1"][..], &["-w", "2"], &["-p", "2"]] {
            let out = bytewax(["run", &format!("flow.py:make({op_name:?})")])
                .args(shape)
                .cwd(dir.path())
                .timeout(Duration::from_secs(60))
                .run();
            let mut problems = Vec::new();
            if out.code != Some(1) {
                problems.push(format!("exit code {:?}, expected 1", out.code));
            }
            for want in ["UnicodeEncodeError", "reading a key", "odd.running"] {
                if !out.stderr.contains(want) {
                    problems.push(format!("stderr should contain `{want}`"));
                }
            }
            if common::PANIC_MARKERS.iter().any(|m| out.stderr.contains(m)) {
                problems.push("panic text on stderr".into());
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "== {op_name} {}: {}\n{}",
                    shape.join(" "),
                    problems.join("; "),
                    out.report()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A step with many keys counts each exactly; 50,000 keys pass the table
/// size from which `stateful_map` finds a batch's entries before it calls
/// the user (16,384 keys) on one worker and two.
#[test]
fn many_keys_count_exactly() {
    check(
        "manykeys",
        r#"
KEYS = 50_000


def count(n, _v):
    return n + 1, n + 1


flow = Dataflow("many")
s = op.input("inp", flow, TestingSource(range(2 * KEYS), batch_size=500))
s = op.key_on("key", s, lambda x: f"user-{x % KEYS}")
s = op.stateful_map("count", s, lambda: 0, count)
s = op.filter("second", s, lambda kv: kv[1] == 2)
s = op.count_final("total", s, lambda kv: "seen twice")
op.output("out", s, StdOutSink())
"#,
        "flow",
        &["('seen twice', 50000)"],
    );
}

/// A stateful step that finds more items waiting than it handles in one
/// activation (here six merged sources hand it 6 × 700 items per worker
/// step) handles the rest in later activations: in order per source, with
/// end-of-input logic (here also what closes the windows) run only once
/// every item is in, and nothing lost at EOF, the moment the backlog is
/// largest.
#[test]
fn backlogs_are_handled_in_order_and_complete_before_eof() {
    check(
        "backlog",
        r#"
from datetime import datetime, timedelta, timezone

import bytewax.operators.window as win

N = 21_000
KEYS = 5


def in_order(last, x):
    # Each source is one partition, so a key's items from one source
    # come in source order.
    last = dict(last)
    src = x % 6
    ok = x > last.get(src, -1)
    last[src] = x
    return last, ok


flow = Dataflow("backlog")
parts = [
    op.input(f"in{i}", flow, TestingSource(range(i, N, 6), batch_size=700))
    for i in range(6)
]
s = op.merge("all", *parts)
keyed = op.key_on("key", s, lambda x: f"k{x % KEYS}")

oks = op.stateful_map("order", keyed, lambda: {}, in_order)
bad = op.filter("bad", oks, lambda kv: not kv[1])
op.output("bad_out", bad, StdOutSink())

sums = op.fold_final("sum", keyed, lambda: 0, lambda acc, x: acc + x)
op.output("sum_out", op.map("fmt_sum", sums, lambda kv: f"sum {kv[0]} {kv[1]}"), StdOutSink())

t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
clock = win.EventClockConfig(
    lambda x: t0 + timedelta(seconds=x), wait_for_system_duration=timedelta(days=1)
)
windows = win.TumblingWindow(length=timedelta(seconds=N // 3), align_to=t0)
counts = win.count_window("win", s, clock, windows, lambda x: "all")
op.output(
    "win_out",
    op.map(
        "fmt_win",
        counts,
        lambda kv: f"window {int((kv[1][0].open_time - t0).total_seconds()) // (N // 3)} {kv[1][1]}",
    ),
    StdOutSink(),
)
"#,
        "flow",
        &[
            "sum k0 44089500",
            "sum k1 44093700",
            "sum k2 44097900",
            "sum k3 44102100",
            "sum k4 44106300",
            "window 0 7000",
            "window 1 7000",
            "window 2 7000",
        ],
    );
}

/// Past 16,384 keys on a worker, `stateful_map` and `fold_final` find all
/// of a batch's entries first (making entries for new keys) and then call
/// the user's functions; a state discarded mid-batch must still be gone
/// for the key's next item in the same batch, and a key re-made after a
/// discard must be kept. 80,000 keys put every worker past that size at
/// -w 1, 2 and 4.
#[test]
fn large_tables_discard_and_rebuild_within_a_batch() {
    check(
        "largediscard",
        r#"
KEYS = 80_000


def items():
    for x in range(2 * KEYS):
        yield (f"k{x}" if x < KEYS else f"k{x - KEYS}", "add")
    # The last batch: one key discarded twice and re-made in between.
    for action in ["add", "drop", "add", "add", "drop", "add"]:
        yield ("k7", action)


def step(count, action):
    if action == "drop":
        return None, ("dropped", count)
    return count + 1, ("count", count + 1)


flow = Dataflow("large")
s = op.input("inp", flow, TestingSource(items(), batch_size=1000))
emitted = op.stateful_map("step", s, lambda: 0, step)
kinds = op.count_final("kinds", emitted, lambda kv: f"{kv[1][0]} {kv[1][1]}")
op.output("kinds_out", kinds, StdOutSink())
adds = op.fold_final("adds", s, lambda: 0, lambda n, a: n + (a == "add"))
totals = op.count_final("totals", adds, lambda kv: f"total {kv[1]}")
op.output("totals_out", totals, StdOutSink())
"#,
        "flow",
        &[
            "('count 1', 80002)",
            "('count 2', 80001)",
            "('count 3', 1)",
            "('dropped 3', 1)",
            "('dropped 2', 1)",
            "('total 2', 79999)",
            "('total 6', 1)",
        ],
    );
}

/// With a large table, a malformed item is still reported (step id and
/// type, exit 1) after the items before it in its batch were handled.
#[test]
fn large_tables_report_a_malformed_item() {
    let dir = TempDir::new("largebad");
    write_flow(
        &dir,
        "flow.py",
        r#"
from bytewax.testing import TestingSink

KEYS = 20_000


def items():
    for x in range(KEYS):
        yield (f"k{x}", 1)
    yield ("k1", 1)
    yield (17, 1)


def seen(n, v):
    n += v
    if n == 2:
        print("k1 seen twice", flush=True)
    return n, n


flow = Dataflow("largebad")
s = op.input("inp", flow, TestingSource(items(), batch_size=1000))
s = op.stateful_map("sum", s, lambda: 0, seen)
op.output("out", s, TestingSink([]))
"#,
    );
    for workers in ["1", "2"] {
        let out = bytewax(["run", "flow.py:flow", "-w", workers])
            .cwd(dir.path())
            .timeout(Duration::from_secs(60))
            .run();
        out.assert_code(1).assert_no_panic();
        out.assert_stderr_has(&["largebad.sum", "`int`", "keys must be `str`"]);
        if workers == "1" {
            out.assert_stdout_lines(&["k1 seen twice"]);
        }
    }
}

/// A stateful step that emits a long batch at once (a worker catching up
/// on a backlog) leaves the tuples that can not hold a reference cycle out
/// of the cyclic collector's care, and only those: an item whose value is
/// a dict, or a tuple subclass, stays tracked, so cycles through it are
/// still collected.
#[test]
fn long_outputs_untrack_only_tuples_that_can_not_hold_cycles() {
    let dir = TempDir::new("untrack");
    write_flow(
        &dir,
        "flow.py",
        r#"
import gc
from collections import namedtuple

Point = namedtuple("Point", "x y")
N = 9000


def value_of(x):
    kind = x % 3
    if kind == 0:
        return x
    if kind == 1:
        cyclic = {"x": x}
        cyclic["self"] = cyclic
        return cyclic
    return Point(x, x)


def kind_of(kv):
    value = kv[1]
    tracked = "tracked" if gc.is_tracked(kv) else "untracked"
    return f"{tracked} {type(value).__name__}"


flow = Dataflow("untrack")
# One batch: the step's output for it is one list of N items.
s = op.input("inp", flow, TestingSource(range(N), batch_size=N))
s = op.key_on("key", s, lambda x: str(x % 7))
s = op.stateful_map("emit", s, lambda: None, lambda st, x: (st, value_of(x)))
s = op.count_final("kinds", s, kind_of)
op.output("out", s, StdOutSink())
"#,
    );
    let out = bytewax(["run", "flow.py:flow", "-w", "1"])
        .cwd(dir.path())
        .timeout(Duration::from_secs(60))
        .run();
    out.assert_success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    let count_of = |kind: &str| -> u64 {
        lines
            .iter()
            .find_map(|l| {
                l.strip_prefix(&format!("('{kind}', "))
                    .and_then(|rest| rest.strip_suffix(')'))
            })
            .map_or(0, |n| n.parse().expect("a count"))
    };
    assert_eq!(count_of("tracked dict"), 3000, "{}", out.report());
    assert_eq!(count_of("tracked Point"), 3000, "{}", out.report());
    assert_eq!(count_of("untracked dict"), 0, "{}", out.report());
    assert_eq!(count_of("untracked Point"), 0, "{}", out.report());
    let (tracked, untracked) = (count_of("tracked int"), count_of("untracked int"));
    assert_eq!(tracked + untracked, 3000, "{}", out.report());
    assert!(
        untracked > 2000,
        "most int-valued items of a long output should be untracked\n{}",
        out.report()
    );
}

// ---------------------------------------------------------------------
// Composites, against hand-worked outputs.

#[test]
fn stateful_map_running_sum_and_discard() {
    let body = format!(
        "{EVENTS}{}",
        r#"
def running_sum(total, x):
    total += x
    return total, total


def pairs(state, x):
    # Emit a pair every two values, then forget the key (state None).
    state = state + [x]
    if len(state) == 2:
        return None, tuple(state)
    return state, None


flow = Dataflow("sm")
s = op.input("inp", flow, TestingSource(EVENTS))
sums = op.stateful_map("sum", s, lambda: 0, running_sum)
op.output("out_sum", op.map("fmt_sum", sums, fmt("sum")), StdOutSink())
pr = op.stateful_map("pairs", s, list, pairs)
op.output("out_pairs", op.map("fmt_pairs", pr, fmt("pairs")), StdOutSink())
"#
    );
    check(
        "stateful_map",
        &body,
        "flow",
        &[
            "sum a 1",
            "sum a 4",
            "sum a 10",
            "sum b 2",
            "sum b 7",
            "sum c 4",
            "pairs a None",
            "pairs a (1, 3)",
            "pairs a None",
            "pairs b None",
            "pairs b (2, 5)",
            "pairs c None",
        ],
    );
}

#[test]
fn stateful_map_wrong_return_shape_is_a_clear_error() {
    let dir = TempDir::new("sm_shape");
    write_flow(
        &dir,
        "flow.py",
        r#"
flow = Dataflow("smshape")
s = op.input("inp", flow, TestingSource([("a", 1)]))
s = op.stateful_map("not_pair", s, lambda: 0, lambda st, v: st + v)
op.output("out", s, StdOutSink())
"#,
    );
    for workers in ["1", "2"] {
        let out = bytewax(["run", "flow.py", "-w", workers])
            .cwd(dir.path())
            .run();
        out.assert_code(1);
        out.assert_stderr_has(&["smshape.not_pair", "2-tuple", "int"]);
    }
}

#[test]
fn fold_final_list_set_and_none() {
    let body = format!(
        "{EVENTS}{}",
        r#"
flow = Dataflow("fold")
s = op.input("inp", flow, TestingSource(EVENTS))
lists = op.fold_final("to_list", s, list, lambda acc, x: acc + [x])
op.output("out_list", op.map("fmt_list", lists, fmt("list")), StdOutSink())
sets = op.fold_final("to_set", s, set, lambda acc, x: acc | {x % 3})
sets = op.map_value("sorted", sets, sorted)
op.output("out_set", op.map("fmt_set", sets, fmt("set")), StdOutSink())
nones = op.fold_final("to_none", s, lambda: None, lambda acc, x: None)
op.output("out_none", op.map("fmt_none", nones, fmt("none")), StdOutSink())
"#
    );
    check(
        "fold_final",
        &body,
        "flow",
        &[
            "list a [1, 3, 6]",
            "list b [2, 5]",
            "list c [4]",
            // a: 1,0,0 -> {0, 1}; b: 2,2 -> {2}; c: 1 -> {1}
            "set a [0, 1]",
            "set b [2]",
            "set c [1]",
            "none a None",
            "none b None",
            "none c None",
        ],
    );
}

#[test]
fn reduce_final_keeps_arrival_order() {
    let body = format!(
        "{EVENTS}{}",
        r#"
flow = Dataflow("reduce")
s = op.input("inp", flow, TestingSource(EVENTS, batch_size=2))
strs = op.map_value("to_str", s, str)
cat = op.reduce_final("concat", strs, lambda a, b: a + b)
op.output("out_cat", op.map("fmt_cat", cat, fmt("cat")), StdOutSink())
total = op.reduce_final("sum", s, lambda a, b: a + b)
op.output("out_sum", op.map("fmt_sum", total, fmt("sum")), StdOutSink())
"#
    );
    check(
        "reduce_final",
        &body,
        "flow",
        &[
            "cat a '136'",
            "cat b '25'",
            "cat c '4'",
            "sum a 10",
            "sum b 7",
            "sum c 4",
        ],
    );
}

#[test]
fn count_final_by_key_function() {
    let body = r#"
flow = Dataflow("count")
words = op.input("inp", flow, TestingSource("the cat The hat the Cat é É".split()))
counts = op.count_final("count", words, lambda w: w.lower())
op.output("out", op.map("fmt", counts, lambda kv: f"count {kv[0]} {kv[1]}"), StdOutSink())
exact = op.count_final("exact", words, lambda w: w)
op.output("out_exact", op.map("fmt_exact", exact, lambda kv: f"exact {kv[0]} {kv[1]}"), StdOutSink())
"#;
    check(
        "count_final",
        body,
        "flow",
        &[
            "count the 3",
            "count cat 2",
            "count hat 1",
            "count é 2",
            "exact the 2",
            "exact The 1",
            "exact cat 1",
            "exact Cat 1",
            "exact hat 1",
            "exact é 1",
            "exact É 1",
        ],
    );
}

#[test]
fn max_final_and_min_final_with_and_without_by() {
    let body = format!(
        "{EVENTS}{}",
        r#"
SCORES = [("k", ("x", 3)), ("k", ("y", 3)), ("k", ("z", 1)), ("k", ("w", 1)), ("j", ("solo", 0))]

flow = Dataflow("maxmin")
s = op.input("inp", flow, TestingSource(EVENTS))
op.output("out_max", op.map("fmt_max", op.max_final("max", s), fmt("max")), StdOutSink())
op.output("out_min", op.map("fmt_min", op.min_final("min", s), fmt("min")), StdOutSink())
sc = op.input("scores", flow, TestingSource(SCORES))
by_score = lambda v: v[1]  # noqa: E731
hi = op.max_final("max_by", sc, by=by_score)
lo = op.min_final("min_by", sc, by=by_score)
op.output("out_hi", op.map("fmt_hi", hi, fmt("max_by")), StdOutSink())
op.output("out_lo", op.map("fmt_lo", lo, fmt("min_by")), StdOutSink())
"#
    );
    check(
        "max_min_final",
        &body,
        "flow",
        &[
            "max a 6",
            "max b 5",
            "max c 4",
            "min a 1",
            "min b 2",
            "min c 4",
            // Ties keep the first value seen.
            "max_by k ('x', 3)",
            "max_by j ('solo', 0)",
            "min_by k ('z', 1)",
            "min_by j ('solo', 0)",
        ],
    );
}

#[test]
fn collect_by_size_and_at_eof() {
    let body = format!(
        "{EVENTS}{}",
        r#"
flow = Dataflow("collect")
s = op.input("inp", flow, TestingSource(EVENTS))
two = op.collect("two", s, timeout=timedelta(hours=1), max_size=2)
op.output("out_two", op.map("fmt_two", two, fmt("two")), StdOutSink())
one = op.collect("one", s, timeout=timedelta(hours=1), max_size=1)
op.output("out_one", op.map("fmt_one", one, fmt("one")), StdOutSink())
"#
    );
    check(
        "collect",
        &body,
        "flow",
        &[
            "two a [1, 3]",
            "two a [6]",
            "two b [2, 5]",
            "two c [4]",
            "one a [1]",
            "one a [3]",
            "one a [6]",
            "one b [2]",
            "one b [5]",
            "one c [4]",
        ],
    );
}

/// The source emits `a: 1, 2` and then waits, without producing, until the
/// collected list has been seen downstream (or 20 s pass); then it emits
/// `a: 3` and ends. If the timeout fires while the input is idle, `[1, 2]`
/// and `[3]` come out; if not, `[1, 2, 3]` at EOF.
const COLLECT_TIMEOUT: &str = r#"
import threading

from bytewax.inputs import DynamicSource, StatelessSourcePartition

SEEN = threading.Event()


class Waiting(StatelessSourcePartition):
    def __init__(self, worker_index):
        self._first = [("a", 1), ("a", 2)] if worker_index == 0 else []
        self._then = [("a", 3)] if worker_index == 0 else []
        self._deadline = datetime.now(timezone.utc) + timedelta(seconds=20)

    def next_batch(self, sched):
        if self._first:
            items, self._first = self._first, []
            return items
        if SEEN.is_set() or datetime.now(timezone.utc) > self._deadline:
            if self._then:
                items, self._then = self._then, []
                return items
            raise StopIteration()
        return []

    def next_awake(self):
        return datetime.now(timezone.utc) + timedelta(milliseconds=20)


class WaitingSource(DynamicSource):
    def build(self, now, worker_index, worker_count):
        return Waiting(worker_index)


def saw(step_id, item):
    SEEN.set()


flow = Dataflow("collect_timeout")
s = op.input("inp", flow, WaitingSource())
c = op.collect("batch", s, timeout=timedelta(milliseconds=200), max_size=100)
c = op.inspect("saw", c, saw)
op.output("out", c, StdOutSink())
"#;

#[test]
fn collect_emits_on_timeout_while_input_is_idle() {
    check(
        "collect_timeout",
        COLLECT_TIMEOUT,
        "flow",
        &["('a', [1, 2])", "('a', [3])"],
    );
}

#[test]
fn join_complete_two_and_three_sides() {
    let body = r#"
flow = Dataflow("join")
left = op.input("left", flow, TestingSource([("a", 1), ("b", 2), ("d", None), ("e", "L")]))
right = op.input("right", flow, TestingSource([("a", "x"), ("c", "y"), ("d", "w"), ("e", "R")]))
third = op.input("third", flow, TestingSource([("a", True), ("e", 3.5), ("f", 0)]))
two = op.join("two", left, right)
op.output("out_two", op.map("fmt_two", two, lambda kv: f"two {kv[0]} {kv[1]!r}"), StdOutSink())
flipped = op.join("flipped", right, left)
op.output("out_flip", op.map("fmt_flip", flipped, lambda kv: f"flip {kv[0]} {kv[1]!r}"), StdOutSink())
three = op.join("three", left, right, third)
op.output("out_three", op.map("fmt_three", three, lambda kv: f"three {kv[0]} {kv[1]!r}"), StdOutSink())
"#;
    check(
        "join_complete",
        body,
        "flow",
        &[
            "two a (1, 'x')",
            "two d (None, 'w')",
            "two e ('L', 'R')",
            "flip a ('x', 1)",
            "flip d ('w', None)",
            "flip e ('R', 'L')",
            "three a (1, 'x', True)",
            "three e ('L', 'R', 3.5)",
        ],
    );
}

/// Running joins emit on every update. Keys on one side only are printed
/// as emitted; for a key on both sides, the interleaving of the inputs
/// decides the intermediate emission, so only the count and the last one
/// are printed.
#[test]
fn join_running() {
    let body = r#"
flow = Dataflow("join_running")
left = op.input("left", flow, TestingSource([("a", 1), ("a", 2), ("k", 1)]))
right = op.input("right", flow, TestingSource([("b", "x"), ("k", "z")]))
joined = op.join("j", left, right, running=True)
both = op.branch("is_k", joined, lambda kv: kv[0] == "k")
op.output("out_single", op.map("fmt", both.falses, lambda kv: f"single {kv[0]} {kv[1]!r}"), StdOutSink())
seen = op.fold_final("all_k", both.trues, list, lambda acc, v: acc + [v])
op.output("out_k", op.map("fmt_k", seen, lambda kv: f"k {len(kv[1])} {kv[1][-1]!r}"), StdOutSink())
"#;
    check(
        "join_running",
        body,
        "flow",
        &[
            "single a (1, None)",
            "single a (2, None)",
            "single b (None, 'x')",
            "k 2 (1, 'z')",
        ],
    );
}

#[test]
fn join_named_complete_and_running() {
    let body = r#"
flow = Dataflow("join_named")
names = op.input("names", flow, TestingSource([("1", "Ann"), ("2", "Bo")]))
emails = op.input("emails", flow, TestingSource([("1", "ann@x.org"), ("3", "cy@x.org")]))
done = op.join_named("complete", name=names, email=emails)
op.output("out_done", op.map("fmt_done", done, lambda kv: f"complete {kv[0]} {kv[1]!r}"), StdOutSink())
run = op.join_named("running", running=True, email=emails, name=names)
br = op.branch("is_1", run, lambda kv: kv[0] == "1")
op.output("out_run", op.map("fmt_run", br.falses, lambda kv: f"running {kv[0]} {kv[1]!r}"), StdOutSink())
seen = op.fold_final("all_1", br.trues, list, lambda acc, v: acc + [v])
op.output("out_1", op.map("fmt_1", seen, lambda kv: f"running 1 x{len(kv[1])} {kv[1][-1]!r}"), StdOutSink())
"#;
    check(
        "join_named",
        body,
        "flow",
        &[
            "complete 1 {'name': 'Ann', 'email': 'ann@x.org'}",
            "running 2 {'name': 'Bo'}",
            "running 3 {'email': 'cy@x.org'}",
            // Keyword order of the call decides the dict order.
            "running 1 x2 {'email': 'ann@x.org', 'name': 'Ann'}",
        ],
    );
}

#[test]
fn helpers_map_dict_value() {
    let body = r#"
from bytewax.operators.helpers import map_dict_value

flow = Dataflow("helpers")
s = op.input("inp", flow, TestingSource([("a", {"n": 1, "s": "x"}), ("b", {"n": 41, "s": "y"})]))
s = op.map_value("bump", s, map_dict_value("n", lambda n: n + 1))
s = op.map_value("upper", s, map_dict_value("s", str.upper))
op.output("out", s, StdOutSink())
"#;
    check(
        "map_dict_value",
        body,
        "flow",
        &["('a', {'n': 2, 's': 'X'})", "('b', {'n': 42, 's': 'Y'})"],
    );
}

// ---------------------------------------------------------------------
// `unary` and `UnaryLogic`.

/// Counts items per key; "stop" discards the key's state from `on_item`;
/// `on_eof` reports live keys only; the builder's arguments are shown.
const COUNTER_LOGIC: &str = r#"
from bytewax.operators import UnaryLogic


class Counter(UnaryLogic):
    def __init__(self, now, resume_state):
        self.n = 0
        self.resume_state = resume_state
        self.now_is_utc = now.tzinfo == timezone.utc

    def on_item(self, now, value):
        self.n += 1
        if value == "stop":
            return [("discard", value, self.n)], UnaryLogic.DISCARD
        return [("item", value, self.n)], UnaryLogic.RETAIN

    def on_notify(self, sched):
        return [("unexpected notify",)], UnaryLogic.RETAIN

    def on_eof(self):
        return [("eof", self.n, self.resume_state, self.now_is_utc)], UnaryLogic.DISCARD

    def notify_at(self):
        return None

    def snapshot(self):
        return self.n


ITEMS = [("a", "x"), ("b", "x"), ("c", "stop"), ("a", "y"), ("b", "stop"), ("c", "z")]
flow = Dataflow("unary")
s = op.input("inp", flow, TestingSource(ITEMS))
op.output("out", op.unary("count", s, Counter), StdOutSink())
"#;

#[test]
fn unary_retain_discard_and_eof_per_live_key() {
    check(
        "unary_counter",
        COUNTER_LOGIC,
        "flow",
        &[
            "('a', ('item', 'x', 1))",
            "('a', ('item', 'y', 2))",
            "('a', ('eof', 2, None, True))",
            "('b', ('item', 'x', 1))",
            "('b', ('discard', 'stop', 2))",
            // c was discarded, then built afresh for "z".
            "('c', ('discard', 'stop', 1))",
            "('c', ('item', 'z', 1))",
            "('c', ('eof', 1, None, True))",
        ],
    );
}

/// Three keys arrive at once, then the source produces nothing until every
/// key's timer has fired three times (or 20 s pass), then ends. Key "d"
/// discards its state from `on_notify`, so it has no `on_eof`. The timers
/// are the only thing that can make progress while the input is idle.
const TIMERS: &str = r#"
import threading

from bytewax.inputs import DynamicSource, StatelessSourcePartition
from bytewax.operators import UnaryLogic

LOCK = threading.Lock()
DONE = set()
ITEMS = [("a", "keep"), ("b", "keep"), ("c", "keep"), ("d", "discard")]


class WaitPartition(StatelessSourcePartition):
    def __init__(self, worker_index):
        self._items = list(ITEMS) if worker_index == 0 else []
        self._deadline = datetime.now(timezone.utc) + timedelta(seconds=20)

    def next_batch(self, sched):
        if self._items:
            items, self._items = self._items, []
            return items
        with LOCK:
            all_done = len(DONE) == len(ITEMS)
        if all_done or datetime.now(timezone.utc) > self._deadline:
            raise StopIteration()
        return []

    def next_awake(self):
        return datetime.now(timezone.utc) + timedelta(milliseconds=20)


class WaitSource(DynamicSource):
    def build(self, now, worker_index, worker_count):
        return WaitPartition(worker_index)


class Timer(UnaryLogic):
    def __init__(self):
        self.at = None
        self.fires = 0
        self.discard_after_first = False

    def on_item(self, now, value):
        self.discard_after_first = value == "discard"
        self.at = now + timedelta(milliseconds=150)
        return [("item", value)], UnaryLogic.RETAIN

    def on_notify(self, sched):
        self.fires += 1
        early = datetime.now(timezone.utc) < sched
        out = [("notified", self.fires, "early" if early else "not early")]
        if self.discard_after_first:
            return out, UnaryLogic.DISCARD
        if self.fires == 3:
            self.at = None
            return out + [("last",)], UnaryLogic.RETAIN
        self.at = sched + timedelta(milliseconds=50)
        return out, UnaryLogic.RETAIN

    def on_eof(self):
        return [("eof", self.fires)], UnaryLogic.DISCARD

    def notify_at(self):
        return self.at

    def snapshot(self):
        return None


def mark_done(step_id, kv):
    key, value = kv
    if value == ("last",) or (key == "d" and value[0] == "notified"):
        with LOCK:
            DONE.add(key)


flow = Dataflow("timers")
s = op.input("inp", flow, WaitSource())
out = op.unary("timer", s, lambda now, resume_state: Timer())
out = op.inspect("done", out, mark_done)
op.output("out", out, StdOutSink())
"#;

#[test]
fn notify_at_timers_fire_while_input_is_idle() {
    let mut expected = Vec::new();
    for k in ["a", "b", "c"] {
        expected.push(format!("('{k}', ('item', 'keep'))"));
        for n in 1..=3 {
            expected.push(format!("('{k}', ('notified', {n}, 'not early'))"));
        }
        expected.push(format!("('{k}', ('last',))"));
        expected.push(format!("('{k}', ('eof', 3))"));
    }
    expected.push("('d', ('item', 'discard'))".into());
    expected.push("('d', ('notified', 1, 'not early'))".into());
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    check("timers", TIMERS, "flow", &expected);
}

/// The source emits one item, then sleeps (next_awake 3 s ahead) and ends
/// when woken. The logic's timer is 100 ms after the item: it must fire
/// while the source sleeps, before the end of input.
const SLEEPY_SOURCE_TIMER: &str = r#"
from bytewax.inputs import DynamicSource, StatelessSourcePartition
from bytewax.operators import UnaryLogic


class Sleepy(StatelessSourcePartition):
    def __init__(self, worker_index):
        self._state = "emit" if worker_index == 0 else "done"
        self._awake = None

    def next_batch(self, sched):
        if self._state == "emit":
            self._state = "sleep"
            self._awake = datetime.now(timezone.utc) + timedelta(seconds=3)
            return [("k", "v")]
        raise StopIteration()

    def next_awake(self):
        return self._awake


class SleepySource(DynamicSource):
    def build(self, now, worker_index, worker_count):
        return Sleepy(worker_index)


class Once(UnaryLogic):
    def __init__(self):
        self.at = None
        self.notified = False

    def on_item(self, now, value):
        self.at = now + timedelta(milliseconds=100)
        return [], UnaryLogic.RETAIN

    def on_notify(self, sched):
        self.at = None
        self.notified = True
        return ["notified"], UnaryLogic.RETAIN

    def on_eof(self):
        return [f"eof after notify={self.notified}"], UnaryLogic.DISCARD

    def notify_at(self):
        return self.at

    def snapshot(self):
        return None


flow = Dataflow("sleepy")
s = op.input("inp", flow, SleepySource())
op.output("out", op.unary("once", s, lambda now, st: Once()), StdOutSink())
"#;

#[test]
fn timer_fires_while_source_sleeps_on_next_awake() {
    check(
        "sleepy_timer",
        SLEEPY_SOURCE_TIMER,
        "flow",
        &["('k', 'notified')", "('k', 'eof after notify=True')"],
    );
}

/// `notify_at` asks for a time far in the future: it never fires and does
/// not hold up the end of the run.
#[test]
fn far_future_timer_does_not_delay_eof() {
    let body = r#"
from bytewax.operators import UnaryLogic


class Far(UnaryLogic):
    def on_item(self, now, value):
        return [], UnaryLogic.RETAIN

    def on_notify(self, sched):
        return ["fired"], UnaryLogic.RETAIN

    def on_eof(self):
        return ["eof"], UnaryLogic.DISCARD

    def notify_at(self):
        return datetime(2200, 1, 1, tzinfo=timezone.utc)

    def snapshot(self):
        return None


flow = Dataflow("far")
s = op.input("inp", flow, TestingSource([("a", 1), ("b", 2)]))
op.output("out", op.unary("far", s, lambda now, st: Far()), StdOutSink())
"#;
    let dir = TempDir::new("far");
    write_flow(&dir, "flow.py", body);
    for workers in ["1", "2", "4"] {
        let out = bytewax(["run", "flow.py", "-w", workers])
            .cwd(dir.path())
            .timeout(Duration::from_secs(60))
            .run();
        out.assert_success()
            .assert_sorted_stdout(&["('a', 'eof')", "('b', 'eof')"]);
    }
}

/// A logic whose methods return the wrong shapes.
const SHAPES: &str = r#"
from bytewax.operators import UnaryLogic


class Bad(UnaryLogic):
    def __init__(self, kind):
        self.kind = kind

    def on_item(self, now, value):
        if self.kind == "not_a_tuple":
            return [value]
        if self.kind == "not_bool":
            return [value], "yes"
        if self.kind == "three":
            return [value], False, 1
        if self.kind == "emit_not_iterable":
            return 5, False
        if self.kind == "none":
            return None
        return [value], False

    def on_notify(self, sched):
        return [], False

    def on_eof(self):
        if self.kind == "eof_none":
            return None
        if self.kind == "eof_not_bool":
            return [], 0.5
        return [], True

    def notify_at(self):
        if self.kind == "notify_str":
            return "tomorrow"
        if self.kind == "notify_naive":
            return datetime(2200, 1, 1)
        return None

    def snapshot(self):
        return None


def make(kind):
    flow = Dataflow("shape")
    s = op.input("inp", flow, TestingSource([("a", 1)]))
    op.output("out", op.unary("logic", s, lambda now, st: Bad(kind)), StdOutSink())
    return flow
"#;

#[test]
fn unary_logic_wrong_return_shapes_are_clear_errors() {
    let dir = TempDir::new("shapes");
    write_flow(&dir, "flow.py", SHAPES);
    // (kind, method named, words the message must contain)
    let cases: &[(&str, &str, &[&str])] = &[
        ("not_a_tuple", "on_item", &["2-tuple", "list"]),
        ("three", "on_item", &["2-tuple"]),
        ("none", "on_item", &["2-tuple", "NoneType"]),
        ("not_bool", "on_item", &["bool", "str"]),
        ("emit_not_iterable", "on_item", &["iterable", "int"]),
        ("eof_none", "on_eof", &["2-tuple", "NoneType"]),
        ("eof_not_bool", "on_eof", &["bool", "float"]),
        ("notify_str", "notify_at", &["datetime", "str"]),
        ("notify_naive", "notify_at", &["TypeError", "timezone"]),
    ];
    let mut failures = Vec::new();
    for (kind, method, words) in cases {
        for workers in ["1", "2"] {
            let out = bytewax(["run", &format!("flow.py:make({kind:?})"), "-w", workers])
                .cwd(dir.path())
                .run();
            let mut problems = Vec::new();
            if out.code != Some(1) {
                problems.push(format!("exit code {:?}, expected 1", out.code));
            }
            for needle in ["shape.logic", method].iter().chain(words.iter()).copied() {
                if !out.stderr.contains(needle) {
                    problems.push(format!("stderr should contain {needle:?}"));
                }
            }
            if common::PANIC_MARKERS.iter().any(|m| out.stderr.contains(m)) {
                problems.push("panic text on stderr".into());
            }
            let errors = count(&out.stderr, "TypeError") + count(&out.stderr, "ValueError");
            if errors != 1 {
                problems.push("expected exactly one TypeError or ValueError".into());
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "== {kind} -w {workers}: {}\n{}",
                    problems.join("; "),
                    out.report()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `emit` may be any iterable (a generator here), and a `notify_at` in the
/// past fires at once.
#[test]
fn unary_emit_any_iterable_and_past_timer_fires() {
    let body = r#"
from bytewax.operators import UnaryLogic


class Lenient(UnaryLogic):
    def __init__(self):
        self.at = None

    def on_item(self, now, value):
        self.at = now - timedelta(hours=1)
        return (x for x in [value, value * 10]), UnaryLogic.RETAIN

    def on_notify(self, sched):
        self.at = None
        return ("notified",), UnaryLogic.RETAIN

    def on_eof(self):
        return iter(["eof"]), UnaryLogic.DISCARD

    def notify_at(self):
        return self.at

    def snapshot(self):
        return None


flow = Dataflow("lenient")
s = op.input("inp", flow, TestingSource([("a", 1), ("b", 2)]))
op.output("out", op.unary("u", s, lambda now, st: Lenient()), StdOutSink())
"#;
    check(
        "lenient",
        body,
        "flow",
        &[
            "('a', 1)",
            "('a', 10)",
            "('a', 'notified')",
            "('a', 'eof')",
            "('b', 2)",
            "('b', 20)",
            "('b', 'notified')",
            "('b', 'eof')",
        ],
    );
}

#[test]
fn builder_raising_names_step_and_key() {
    let dir = TempDir::new("bad_builder");
    write_flow(
        &dir,
        "flow.py",
        r#"
def broken_builder(now, resume_state):
    raise ValueError("builder broke")


flow = Dataflow("bb")
s = op.input("inp", flow, TestingSource([("a", 1)]))
op.output("out", op.unary("u", s, broken_builder), StdOutSink())
"#,
    );
    for workers in ["1", "2", "4"] {
        let out = bytewax(["run", "flow.py", "-w", workers])
            .cwd(dir.path())
            .run();
        out.assert_code(1);
        out.assert_stderr_has(&[
            "ValueError: builder broke",
            "in broken_builder",
            "in step 'bb.u'",
            " for key \"a\"",
        ]);
        assert_eq!(
            count(&out.stderr, "ValueError: builder broke"),
            1,
            "{}",
            out.report()
        );
    }
}
