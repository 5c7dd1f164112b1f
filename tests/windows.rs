//! Windowing (issue C): every window kind and window operator against
//! outputs worked out by hand (the reasoning is in the comments next to each
//! expectation), each flow run with `-w 1` and `-w 2` and compared as a
//! multiset of lines; plus the deliberate differences from Bytewax 0.18.2
//! listed in the README (session merges keep every value, an out-of-order
//! item inside an open session is kept, `align_to` far in the past loses
//! nothing (#413), session joins do not depend on the order of the sides
//! (#406), `WindowMetadata` pickles and compares sanely, any aware datetime
//! works), late-item logging and bad configurations.
//!
//! Where the reference agrees, the expected lines were also checked against
//! Bytewax 0.18.2 (`python -m bytewax.run`); where it deliberately does not,
//! the comment says what the reference prints instead.
//!
//! Timing: event-clock watermarks also advance with system time while a
//! flow runs. Every event here is at least a minute (or, for sub-second
//! windows, a day of allowed wait) away from any boundary the watermark
//! could reach, so a slow machine cannot change which items are late or
//! which windows close early; a run takes seconds.

mod common;

use std::path::Path;

use common::{
    assert_flow_output_for_workers, bytewax, lines, multiset_diff, Output, TempDir, PANIC_MARKERS,
    PRELUDE,
};

const WORKERS: &[u32] = &[1, 2];

/// Helpers every window flow here starts with (after `common::PRELUDE`).
/// Times are written as minutes from `T0` and printed the same way, so the
/// expectations read like the reasoning in the comments.
const WIN_PRELUDE: &str = r#"
import os

import bytewax.operators.window as win
from bytewax.operators.window import (
    EventClockConfig,
    SessionWindow,
    SlidingWindow,
    SystemClockConfig,
    TumblingWindow,
    WindowMetadata,
)

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def at(minutes):
    """T0 plus `minutes` (fractions and negatives allowed)."""
    return T0 + timedelta(minutes=minutes)


def rel(dt):
    """`dt` as minutes from T0, shortest form (5, -7.5); it must be UTC."""
    assert dt.tzinfo is not None and dt.utcoffset() == timedelta(0), repr(dt)
    return f"{(dt - T0) / timedelta(minutes=1):g}"


def show(key__meta_acc):
    """`key open..close acc`, times in minutes from T0."""
    key, (meta, acc) = key__meta_acc
    assert type(meta) is WindowMetadata, repr(meta)
    return f"{key} {rel(meta.open_time)}..{rel(meta.close_time)} {acc!r}"


def events(*rows):
    """A source of `(key, (at(minute), label))` from `(key, minute, label)`."""
    return TestingSource([(key, (at(m), label)) for key, m, label in rows])


def clock(wait_minutes=0):
    """Event time is the first element of each value."""
    return EventClockConfig(
        lambda v: v[0], wait_for_system_duration=timedelta(minutes=wait_minutes)
    )


def labels(acc, v):
    return acc + [v[1]]


def tumbling(minutes, align=0):
    return TumblingWindow(length=timedelta(minutes=minutes), align_to=at(align))


def out(step_id, stream, fn=show):
    op.output(step_id, op.map(step_id + "_show", stream, fn), StdOutSink())


flow = Dataflow("test")
"#;

/// The text of a flow file: imports, window helpers, then `body`.
fn flow_source(body: &str) -> String {
    format!("{PRELUDE}{WIN_PRELUDE}\n{body}")
}

/// Writes `body` as `flow.py` in a fresh folder and checks that `flow.py`
/// prints `expected` (as a multiset of lines) with `-w 1` and `-w 2`.
#[track_caller]
fn check(label: &str, body: &str, expected: &[&str]) {
    let dir = TempDir::new(label);
    dir.write("flow.py", flow_source(body));
    assert_flow_output_for_workers(dir.path(), "flow.py:flow", WORKERS, expected);
}

/// Runs `bytewax run flow.py <args>` in `dir`.
fn run_in(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["run", "flow.py"];
    all.extend_from_slice(args);
    bytewax(all).cwd(dir).run()
}

/// `None` if `out` exited 0 without panic text and printed `expected` (as
/// a multiset); otherwise what went wrong.
fn sorted_mismatch(out: &Output, expected: &[String]) -> Option<String> {
    if out.code != Some(0) || PANIC_MARKERS.iter().any(|m| out.stderr.contains(m)) {
        return Some(format!("run failed\n{}", out.report()));
    }
    multiset_diff(&lines(&out.stdout), expected).map(|d| format!("{d}{}", out.report()))
}

fn owned(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------
// Tumbling windows.

#[test]
fn tumbling_window_fold_window() {
    check(
        "tumbling",
        r#"
inp = op.input("inp", flow, events(
    ("a", 1, "a1"), ("a", 5, "a2"),
    ("a", 3, "a3"),   # out of order, same open window: kept
    ("b", 9, "b1"),
    ("b", 10, "b2"),  # exactly on a boundary: belongs to the next window
    ("a", 12, "a4"),  # a's watermark is now 12 > 10: [0, 10) closes
    ("a", 25, "a5"),  # watermark 25 > 20: [10, 20) closes
    ("a", 8, "a6"),   # late: [0, 10) has closed; dropped
))
out("out", win.fold_window("tumbling", inp, clock(), tumbling(10), list, labels))
"#,
        &[
            // Windows are [open, close) of 10 minutes aligned to T0; each
            // key has its own clock (wait 0), so b is not affected by a.
            "a 0..10 ['a1', 'a2', 'a3']",
            "a 10..20 ['a4']",
            "a 20..30 ['a5']",
            "b 0..10 ['b1']",
            "b 10..20 ['b2']",
        ],
    );
}

#[test]
fn tumbling_window_aligned_off_the_grid_and_before_align_to() {
    check(
        "tumbling_off_grid",
        r#"
inp = op.input("inp", flow, events(("o", -10, "o1"), ("o", 0, "o2"), ("o", 2.5, "o3"), ("o", 12.4, "o4")))
out("out", win.fold_window("off_grid", inp, clock(60), tumbling(10, align=2.5), list, labels))
"#,
        &[
            // Windows are [2.5 + 10i, 12.5 + 10i); they extend before
            // align_to too. -10 is in i = -2, 0 in i = -1, 2.5 opens i = 0
            // (open is inclusive) and 12.4 is still in it.
            "o -17.5..-7.5 ['o1']",
            "o -7.5..2.5 ['o2']",
            "o 2.5..12.5 ['o3', 'o4']",
        ],
    );
}

// ---------------------------------------------------------------------
// Sliding windows.

#[test]
fn sliding_window_overlapping() {
    check(
        "sliding_overlap",
        r#"
sliding = SlidingWindow(length=timedelta(minutes=10), offset=timedelta(minutes=5), align_to=T0)
inp = op.input("inp", flow, events(
    ("k", 3, "x"), ("k", 7, "y"),
    ("k", 12, "z"),  # watermark 12: [-5, 5) and [0, 10) close
    ("k", 6, "w"),   # [0, 10) has closed but [5, 15) is open: only there
    ("j", 5, "j1"),
))
out("out", win.fold_window("overlap", inp, clock(), sliding, list, labels))
"#,
        &[
            // Windows [5i, 5i + 10): every time is in two of them.
            // 3 -> [-5, 5), [0, 10); 7 -> [0, 10), [5, 15);
            // 12 -> [5, 15), [10, 20); 5 -> [0, 10), [5, 15).
            "k -5..5 ['x']",
            "k 0..10 ['x', 'y']",
            "k 5..15 ['y', 'z', 'w']",
            "k 10..20 ['z']",
            "j 0..10 ['j1']",
            "j 5..15 ['j1']",
        ],
    );
}

#[test]
fn sliding_window_offset_not_dividing_length() {
    check(
        "sliding_odd",
        r#"
odd = SlidingWindow(length=timedelta(minutes=10), offset=timedelta(minutes=4), align_to=T0)
inp = op.input("inp", flow, events(("n", 1, "p"), ("n", 8, "q"), ("n", 9, "r"), ("n", 12, "s")))
out("out", win.fold_window("odd", inp, clock(60), odd, list, labels))
"#,
        &[
            // Windows [4i, 4i + 10): t is in those with 4i <= t < 4i + 10,
            // i.e. ceil(10 / 4) = 3 of them. 1 -> i = -2, -1, 0;
            // 8 and 9 -> i = 0, 1, 2; 12 -> i = 1, 2, 3.
            "n -8..2 ['p']",
            "n -4..6 ['p']",
            "n 0..10 ['p', 'q', 'r']",
            "n 4..14 ['q', 'r', 's']",
            "n 8..18 ['q', 'r', 's']",
            "n 12..22 ['s']",
        ],
    );
}

#[test]
fn sliding_window_with_gaps() {
    check(
        "sliding_gaps",
        r#"
gaps = SlidingWindow(length=timedelta(minutes=5), offset=timedelta(minutes=10), align_to=T0)
inp = op.input("inp", flow, events(
    ("g", 1, "a"), ("g", 4, "b"),
    ("g", 7, "in_gap"),    # in no window; still moves the watermark to 7
    ("g", 12, "c"),
    ("g", 19, "in_gap2"),
    ("g", 20, "d"), ("g", 24, "e"),
    ("only_gaps", 6, "x"), ("only_gaps", 17, "y"),  # no window at all
))
out("out", win.fold_window("gaps", inp, clock(), gaps, list, labels))
"#,
        &[
            // Windows [10i, 10i + 5); times in [10i + 5, 10i + 10) belong to
            // none and are silently ignored (not "late").
            "g 0..5 ['a', 'b']",
            "g 10..15 ['c']",
            "g 20..25 ['d', 'e']",
        ],
    );
}

// ---------------------------------------------------------------------
// Session windows.

#[test]
fn session_window_merges_and_bridges_keep_every_value() {
    check(
        "sessions",
        r#"
gap10 = SessionWindow(gap=timedelta(minutes=10))
inp = op.input("inp", flow, events(
    ("s", 0, "v1"), ("s", 18, "v2"),   # 18 min apart: two sessions
    ("s", 9, "v3"),                    # < 10 min from both: bridges them
    ("t", 0, "t1"), ("t", 5, "t2"), ("t", 14, "t3"),  # a chain of gaps < 10
    ("t", 30, "t4"),                   # 16 min after 14: a new session
    ("u", 100, "u1"),                  # a single item
    ("r", 50, "r1"), ("r", 20, "r2"),
    ("r", 35, "r3"),                   # 15 from both: a session of its own
    ("r", 29.9, "r4"),                 # bridges 20 and 35
    ("r", 40, "r5"),                   # extends it; 50 is exactly 10 after: not merged
))
out("out", win.fold_window("sessions", inp, clock(60), gap10, list, labels))
"#,
        &[
            // A session's open time is its first item's time and (as in the
            // reference) its close time is its latest item's time. Merged
            // sessions fold every value in arrival order. The reference
            // loses the absorbed session's values here: it prints
            // "s 0..18 ['v1', 'v3']" and "r 20..40 ['r2', 'r4', 'r5']".
            "s 0..18 ['v1', 'v2', 'v3']",
            "t 0..14 ['t1', 't2', 't3']",
            "t 30..30 ['t4']",
            "u 100..100 ['u1']",
            "r 20..40 ['r2', 'r3', 'r4', 'r5']",
            "r 50..50 ['r1']",
        ],
    );
}

#[test]
fn session_window_keeps_out_of_order_item_in_open_session_with_wait_0() {
    check(
        "sessions_wait0",
        r#"
gap10 = SessionWindow(gap=timedelta(minutes=10))
inp = op.input("inp", flow, events(
    ("o", 0, "o1"), ("o", 5, "o2"),
    ("o", 3, "o3"),    # before the watermark (5), inside the open session 0..5
    ("o", 40, "o4"),   # watermark 40: session 0..5 (closes at 5 + 10) closes
    ("o", 2, "o5"),    # late: its own session would end at 12 <= 40
    ("o", 35, "o6"),   # before the watermark, but within 10 of 40: kept
))
out("out", win.fold_window("sessions", inp, clock(0), gap10, list, labels))
"#,
        &[
            // An item is late only if a session of its own would already be
            // closed (t + gap <= watermark). The reference drops every item
            // earlier than the watermark and prints "o 0..5 ['o1', 'o2']"
            // and "o 40..40 ['o4']".
            "o 0..5 ['o1', 'o2', 'o3']",
            "o 35..40 ['o4', 'o6']",
        ],
    );
}

// ---------------------------------------------------------------------
// The window operators.

/// Keyed values `(time, number)` for reduce/max/min: tumbling 10-minute
/// windows, wait 60 minutes (nothing closes before EOF).
const NUMBERS: &str = r#"
inp = op.input("inp", flow, events(
    ("a", 1, 5), ("a", 2, 3), ("a", 4, 9), ("a", 11, 7),
    ("b", 3, 2), ("b", 16, -4), ("b", 17, -4),
))
"#;

#[test]
fn reduce_window() {
    let body = format!(
        r#"{NUMBERS}
red = win.reduce_window("reduce", inp, clock(60), tumbling(10), lambda x, y: (max(x[0], y[0]), x[1] + y[1]))
out("out", op.map_value("sum", red, lambda m_v: (m_v[0], m_v[1][1])))
"#
    );
    check(
        "reduce_window",
        &body,
        &[
            // a [0, 10): 5 + 3 + 9; a [10, 20): 7 alone (the reducer is
            // never called for a single value); b: 2 and -4 + -4.
            "a 0..10 17",
            "a 10..20 7",
            "b 0..10 2",
            "b 10..20 -8",
        ],
    );
}

#[test]
fn max_window() {
    let body = format!(
        r#"{NUMBERS}
mx = win.max_window("max", inp, clock(60), tumbling(10), by=lambda v: v[1])
out("out", op.map_value("lbl", mx, lambda m_v: (m_v[0], ("max", rel(m_v[1][0]), m_v[1][1]))))
"#
    );
    check(
        "max_window",
        &body,
        &[
            // The whole value with the largest `by`; on a tie (b's -4 at 16
            // and 17) the first one seen is kept.
            "a 0..10 ('max', '4', 9)",
            "a 10..20 ('max', '11', 7)",
            "b 0..10 ('max', '3', 2)",
            "b 10..20 ('max', '16', -4)",
        ],
    );
}

#[test]
fn min_window() {
    let body = format!(
        r#"{NUMBERS}
mn = win.min_window("min", inp, clock(60), tumbling(10), by=lambda v: v[1])
out("out", op.map_value("lbl", mn, lambda m_v: (m_v[0], ("min", rel(m_v[1][0]), m_v[1][1]))))
"#
    );
    check(
        "min_window",
        &body,
        &[
            "a 0..10 ('min', '2', 3)",
            "a 10..20 ('min', '11', 7)",
            "b 0..10 ('min', '3', 2)",
            "b 10..20 ('min', '16', -4)",
        ],
    );
}

#[test]
fn collect_window_into_list() {
    check(
        "collect_list",
        r#"
inp = op.input("inp", flow, events(("a", 1, "x"), ("a", 2, "y"), ("a", 3, "x"), ("a", 12, "z"), ("b", 5, "w")))
lst = win.collect_window("list", inp, clock(60), tumbling(10))
out("out", op.map_value("l", lst, lambda m_v: (m_v[0], (type(m_v[1]).__name__, [label for _, label in m_v[1]]))))
"#,
        &[
            // Every value, duplicates included, in arrival order.
            "a 0..10 ('list', ['x', 'y', 'x'])",
            "a 10..20 ('list', ['z'])",
            "b 0..10 ('list', ['w'])",
        ],
    );
}

#[test]
fn collect_window_into_set() {
    check(
        "collect_set",
        r#"
dup = op.input("dup", flow, events(("a", 1, "x"), ("a", 1, "x"), ("a", 2, "x"), ("a", 12, "z")))
st = win.collect_window("set", dup, clock(60), tumbling(10), into=set)
out("out", op.map_value("s", st, lambda m_v: (m_v[0], (type(m_v[1]).__name__, sorted((rel(t), l) for t, l in m_v[1])))))
"#,
        &[
            // The two identical (1, "x") values collapse; (2, "x") differs.
            "a 0..10 ('set', [('1', 'x'), ('2', 'x')])",
            "a 10..20 ('set', [('12', 'z')])",
        ],
    );
}

#[test]
fn collect_window_into_dict() {
    check(
        "collect_dict",
        r#"
named = op.input("named", flow, TestingSource([
    ("a", ("x", at(1))), ("a", ("y", at(2))), ("a", ("x", at(3))), ("a", ("z", at(15))),
]))
dclock = EventClockConfig(lambda v: v[1], wait_for_system_duration=timedelta(hours=1))
dc = win.collect_window("dict", named, dclock, tumbling(10), into=dict)
out("out", op.map_value("d", dc, lambda m_v: (m_v[0], (type(m_v[1]).__name__, {k: rel(v) for k, v in m_v[1].items()}))))
"#,
        &[
            // Values are (name, time) pairs; a later value for a name
            // replaces the earlier one but keeps its position.
            "a 0..10 ('dict', {'x': '3', 'y': '2'})",
            "a 10..20 ('dict', {'z': '15'})",
        ],
    );
}

#[test]
fn count_window() {
    check(
        "count_window",
        r#"
clicks = op.input("clicks", flow, TestingSource([
    ("ann", at(1)), ("bob", at(2)), ("ann", at(3)), ("ann", at(9.99)), ("ann", at(10)),
    ("bob", at(25)), ("cy", at(-1)),
]))
cclock = EventClockConfig(lambda c: c[1], wait_for_system_duration=timedelta(hours=1))
out("out", win.count_window("count", clicks, cclock, tumbling(10), lambda c: c[0]))
"#,
        &[
            // The key comes from the item; 9.99 is still in [0, 10), 10 is
            // not; -1 is in [-10, 0).
            "ann 0..10 3",
            "ann 10..20 1",
            "bob 0..10 1",
            "bob 20..30 1",
            "cy -10..0 1",
        ],
    );
}

/// Two keyed sides for the join tests: `k` has two values on each side in
/// [0, 10) and one more on the left in [10, 20); `x` and `y` have one side
/// each.
const JOIN_SIDES: &str = r#"
def lbl(v):
    return None if v is None else v[1]


left = op.input("left", flow, events(("k", 1, "l1"), ("k", 3, "l2"), ("x", 2, "lx"), ("k", 14, "l3")))
right = op.input("right", flow, events(("k", 2, "r1"), ("k", 4, "r2"), ("y", 4, "ry")))
"#;

#[test]
fn join_window() {
    let body = format!(
        r#"{JOIN_SIDES}
j = win.join_window("join", clock(60), tumbling(10), left, right)
out("out", op.map_value("j", j, lambda m_v: (m_v[0], ("join", tuple(lbl(v) for v in m_v[1])))))
"#
    );
    check(
        "join_window",
        &body,
        &[
            // product=False: the latest value of each side per window,
            // None for a side with no value.
            "k 0..10 ('join', ('l2', 'r2'))",
            "k 10..20 ('join', ('l3', None))",
            "x 0..10 ('join', ('lx', None))",
            "y 0..10 ('join', (None, 'ry'))",
        ],
    );
}

#[test]
fn join_window_product() {
    let body = format!(
        r#"{JOIN_SIDES}
jp = win.join_window("join_product", clock(60), tumbling(10), left, right, product=True)
out("out", op.map_value("jp", jp, lambda m_v: (m_v[0], ("product", tuple(lbl(v) for v in m_v[1])))))
"#
    );
    check(
        "join_window_product",
        &body,
        &[
            // product=True: every combination of the sides' values.
            "k 0..10 ('product', ('l1', 'r1'))",
            "k 0..10 ('product', ('l1', 'r2'))",
            "k 0..10 ('product', ('l2', 'r1'))",
            "k 0..10 ('product', ('l2', 'r2'))",
            "k 10..20 ('product', ('l3', None))",
            "x 0..10 ('product', ('lx', None))",
            "y 0..10 ('product', (None, 'ry'))",
        ],
    );
}

#[test]
fn join_window_named() {
    let body = format!(
        r#"{JOIN_SIDES}
jn = win.join_window_named("named", clock(60), tumbling(10), left=left, right=right)
out("out", op.map_value("jn", jn, lambda m_v: (m_v[0], ("named", {{n: lbl(v) for n, v in m_v[1].items()}}))))
"#
    );
    check(
        "join_window_named",
        &body,
        &[
            // Dicts by side name; a side with no value is absent.
            "k 0..10 ('named', {'left': 'l2', 'right': 'r2'})",
            "k 10..20 ('named', {'left': 'l3'})",
            "x 0..10 ('named', {'left': 'lx'})",
            "y 0..10 ('named', {'right': 'ry'})",
        ],
    );
}

#[test]
fn join_window_named_product() {
    let body = format!(
        r#"{JOIN_SIDES}
jnp = win.join_window_named("named_product", clock(60), tumbling(10), product=True, left=left, right=right)
out("out", op.map_value("jnp", jnp, lambda m_v: (m_v[0], ("named_product", {{n: lbl(v) for n, v in m_v[1].items()}}))))
"#
    );
    check(
        "join_window_named_product",
        &body,
        &[
            "k 0..10 ('named_product', {'left': 'l1', 'right': 'r1'})",
            "k 0..10 ('named_product', {'left': 'l1', 'right': 'r2'})",
            "k 0..10 ('named_product', {'left': 'l2', 'right': 'r1'})",
            "k 0..10 ('named_product', {'left': 'l2', 'right': 'r2'})",
            "k 10..20 ('named_product', {'left': 'l3'})",
            "x 0..10 ('named_product', {'left': 'lx'})",
            "y 0..10 ('named_product', {'right': 'ry'})",
        ],
    );
}

// ---------------------------------------------------------------------
// Clocks.

#[test]
fn event_clock_wait_for_system_duration() {
    check(
        "event_waits",
        r#"
rows = [(1, "1"), (12, "12"), (8, "8"), (16, "16"), (9, "9"), (14, "14"), (21, "21"), (24, "24"), (19.5, "19.5")]
for wait in (0, 5, 60):
    s = op.input(f"in{wait}", flow, events(*[(f"wait{wait}", m, l) for m, l in rows]))
    out(f"out{wait}", win.fold_window(f"fold{wait}", s, clock(wait), tumbling(10), list, labels))
"#,
        &[
            // The watermark is the latest event time minus the wait.
            // wait 0: 12 -> wm 12 closes [0, 10) = [1]; 8 and 9 are late;
            //   21 -> wm 21 closes [10, 20); 19.5 is late (wm 24).
            "wait0 0..10 ['1']",
            "wait0 10..20 ['12', '16', '14']",
            "wait0 20..30 ['21', '24']",
            // wait 5: 12 -> wm 7, so 8 still fits [0, 10); 16 -> wm 11
            //   closes it; 9 is late; 24 -> wm 19, so 19.5 still fits.
            "wait5 0..10 ['1', '8']",
            "wait5 10..20 ['12', '16', '14', '19.5']",
            "wait5 20..30 ['21', '24']",
            // wait 60: the watermark never passes a close; all at EOF.
            "wait60 0..10 ['1', '8', '9']",
            "wait60 10..20 ['12', '16', '14', '19.5']",
            "wait60 20..30 ['21', '24']",
        ],
    );
}

#[test]
fn system_clock_counts_add_up_and_everything_closes_at_eof() {
    // With the system clock, which window an item lands in depends on when
    // it is processed; what is deterministic: every item is counted exactly
    // once (so the per-key totals are exact, for hour-long and 1 ms
    // windows alike), windows have the configured length and alignment and
    // are not in the future, every window closes by EOF (the run ends long
    // before an hour-long window could close on its own), and with a gap
    // of an hour each key has exactly one session.
    check(
        "system_clock",
        r#"
KEYS = ["a", "b", "c"]
N = 40  # items per key
inp = op.input("inp", flow, TestingSource([KEYS[i % 3] for i in range(3 * N)]))
ALIGN = datetime(2020, 1, 1, tzinfo=timezone.utc)


def check(length):
    def check_meta(kv):
        key, (meta, n) = kv
        now = datetime.now(timezone.utc)
        assert type(meta) is WindowMetadata, repr(meta)
        assert meta.open_time.utcoffset() == timedelta(0), meta
        assert meta.close_time - meta.open_time == length, meta
        assert (meta.open_time - ALIGN) % length == timedelta(0), meta
        assert meta.open_time <= now, (meta, now)
        assert n > 0, n
        return (key, n)
    return check_meta


for name, length in [("hour", timedelta(hours=1)), ("ms", timedelta(milliseconds=1))]:
    counts = win.count_window(f"count_{name}", inp, SystemClockConfig(), TumblingWindow(length=length, align_to=ALIGN), lambda k: k)
    totals = op.reduce_final(f"total_{name}", op.map(f"check_{name}", counts, check(length)), lambda a, b: a + b)
    op.output(f"out_{name}", op.map(f"show_{name}", totals, lambda kv, name=name: f"{name} {kv[0]} {kv[1]}"), StdOutSink())


def check_session(kv):
    key, (meta, n) = kv
    assert meta.open_time <= meta.close_time <= datetime.now(timezone.utc), meta
    return f"session {key} {n}"


sessions = win.count_window("count_session", inp, SystemClockConfig(), SessionWindow(gap=timedelta(hours=1)), lambda k: k)
op.output("out_session", op.map("show_session", sessions, check_session), StdOutSink())
"#,
        &[
            "hour a 40",
            "hour b 40",
            "hour c 40",
            "ms a 40",
            "ms b 40",
            "ms c 40",
            "session a 40",
            "session b 40",
            "session c 40",
        ],
    );
}

// ---------------------------------------------------------------------
// Late items, EOF.

const LATE_FLOW: &str = r#"
inp = op.input("inp", flow, events(
    ("tardy", 0, "on_time"),
    ("tardy", 30, "advances"),  # watermark 30: [0, 10) closes
    ("tardy", 1, "overdue"),   # its only window has closed: dropped
    ("other", 1, "fine"),         # another key, another clock: not late
))
lst = win.collect_window("slowpoke", inp, clock(0), tumbling(10))
out("out", op.map_value("labels", lst, lambda m_v: (m_v[0], [l for _, l in m_v[1]])))
"#;

const LATE_EXPECTED: &[&str] = &[
    "tardy 0..10 ['on_time']",
    "tardy 30..40 ['advances']",
    "other 0..10 ['fine']",
];

#[test]
fn late_items_are_dropped() {
    check("late", LATE_FLOW, LATE_EXPECTED);
}

#[test]
fn dropped_late_item_is_logged_at_debug_with_step_id_and_key() {
    // The step is `slowpoke` and the key `tardy`, so that "late" in a log
    // line can only come from the message about the dropped item.
    let dir = TempDir::new("late_debug");
    dir.write("flow.py", flow_source(LATE_FLOW));
    let want = owned(LATE_EXPECTED);
    let mut failures = Vec::new();
    for w in WORKERS {
        let w = w.to_string();
        let out = run_in(dir.path(), &["-w", &w, "--log-level", "debug"]);
        if let Some(problem) = sorted_mismatch(&out, &want) {
            failures.push(format!("-w {w} --log-level debug: {problem}"));
            continue;
        }
        // Exactly one item was dropped: one DEBUG line about a late item
        // naming the window step and the key.
        let drops: Vec<String> = out
            .stderr_lines()
            .into_iter()
            .filter(|l| l.contains("DEBUG") && l.to_lowercase().contains("late"))
            .collect();
        let good = drops
            .iter()
            .filter(|l| l.contains("slowpoke") && l.contains("tardy"))
            .count();
        if good != 1 || drops.len() != 1 {
            failures.push(format!(
                "-w {w}: expected one DEBUG line about the dropped late item naming step `slowpoke` and key `tardy`; got {drops:#?}\n{}",
                out.report()
            ));
        }
        // At the default level (WARN) nothing is said about it.
        let quiet = run_in(dir.path(), &["-w", &w]);
        if let Some(problem) = sorted_mismatch(&quiet, &want) {
            failures.push(format!("-w {w}: {problem}"));
        } else if quiet.stderr.contains("late") || quiet.stderr.contains("DEBUG") {
            failures.push(format!(
                "-w {w}: the default log level must not report late items\n{}",
                quiet.report()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn all_windows_close_at_eof() {
    // A wait of a day: no watermark can pass any close time while the flow
    // runs, so every window below can only be emitted because input ended.
    // 20 keys; key i has items at minutes o, o + 10 and o + 20, where
    // o = i % 10.
    let mut expected = Vec::new();
    for i in 0..20 {
        let o = i % 10;
        for w in 0..3 {
            // Tumbling 10: minute o + 10w is in [10w, 10w + 10).
            expected.push(format!("t{i:02} {}..{} 1", 10 * w, 10 * w + 10));
        }
        // Sliding 20 every 10: o + 10w is in [10(w-1), 10(w+1)) and
        // [10w, 10(w+2)); the windows [-10, 10), [0, 20), [10, 30),
        // [20, 40) hold 1, 2, 2, 1 items.
        for (open, n) in [(-10, 1), (0, 2), (10, 2), (20, 1)] {
            expected.push(format!("s{i:02} {open}..{} {n}", open + 20));
        }
        // Sessions with a 15-minute gap: items 10 apart form one session.
        expected.push(format!("g{i:02} {o}..{} 3", o + 20));
    }
    let expected_refs: Vec<&str> = expected.iter().map(String::as_str).collect();
    check(
        "eof",
        r#"
items = [(i, at(i % 10 + 10 * w)) for i in range(20) for w in range(3)]
day = EventClockConfig(lambda v: v[1], wait_for_system_duration=timedelta(days=1))
for prefix, windower in [
    ("t", tumbling(10)),
    ("s", SlidingWindow(length=timedelta(minutes=20), offset=timedelta(minutes=10), align_to=T0)),
    ("g", SessionWindow(gap=timedelta(minutes=15))),
]:
    s = op.input(f"in_{prefix}", flow, TestingSource(items))
    counts = win.count_window(f"count_{prefix}", s, day, windower, lambda v, p=prefix: f"{p}{v[0]:02}")
    out(f"out_{prefix}", counts)
"#,
        &expected_refs,
    );
}

// ---------------------------------------------------------------------
// align_to far from the items (upstream #413).

#[test]
fn align_to_far_in_the_past_loses_nothing() {
    check(
        "align_far",
        r#"
def iso(kv):
    key, (meta, n) = kv
    return f"{key} {meta.open_time.isoformat(timespec='microseconds')} {meta.close_time.isoformat(timespec='microseconds')} {n}"


def us(micros):
    return T0 + timedelta(microseconds=micros)


# A day of wait: nothing closes before EOF, so the system time that passes
# while the flow runs cannot matter even for millisecond windows.
by_time = EventClockConfig(lambda v: v, wait_for_system_duration=timedelta(days=1))

ms = op.input("ms", flow, TestingSource([us(0), us(400), us(999), us(1000), us(1500), us(3_600_000_300)]))
one_ms = TumblingWindow(length=timedelta(milliseconds=1), align_to=datetime(1970, 1, 1, tzinfo=timezone.utc))
out("out_ms", win.count_window("ms_1970", ms, by_time, one_ms, lambda _v: "ms"), iso)

s = op.input("s", flow, TestingSource([us(500_000), us(1_200_000), us(1_700_000), us(-1)]))
one_s = TumblingWindow(length=timedelta(seconds=1), align_to=datetime(1950, 1, 1, tzinfo=timezone.utc))
out("out_s", win.count_window("s_1950", s, by_time, one_s, lambda _v: "s"), iso)

q = op.input("q", flow, TestingSource([us(100_000), us(300_000)]))
quarter = TumblingWindow(length=timedelta(seconds=1), align_to=datetime(1950, 1, 1, 0, 0, 0, 250_000, tzinfo=timezone.utc))
out("out_q", win.count_window("q_1950", q, by_time, quarter, lambda _v: "q"), iso)

f = op.input("f", flow, TestingSource([us(0), us(4 * 60_000_000)]))
future = SlidingWindow(length=timedelta(minutes=10), offset=timedelta(minutes=5), align_to=datetime(2200, 1, 1, tzinfo=timezone.utc))
out("out_f", win.count_window("future_sliding", f, by_time, future, lambda _v: "f"), iso)
"#,
        &[
            // 1 ms windows aligned to 1970 (T0 is a whole number of ms
            // after it): 0, 400 and 999 µs in the first, 1000 and 1500 µs
            // in the second, 1 h + 300 µs in [1 h, 1 h + 1 ms). The
            // reference prints nothing at all for this step.
            "ms 2024-01-01T00:00:00.000000+00:00 2024-01-01T00:00:00.001000+00:00 3",
            "ms 2024-01-01T00:00:00.001000+00:00 2024-01-01T00:00:00.002000+00:00 2",
            "ms 2024-01-01T01:00:00.000000+00:00 2024-01-01T01:00:00.001000+00:00 1",
            // 1 s windows aligned to 1950 (before the Unix epoch): -1 µs is
            // in [-1 s, 0); 0.5 s in [0, 1 s); 1.2 s and 1.7 s in [1 s, 2 s).
            "s 2023-12-31T23:59:59.000000+00:00 2024-01-01T00:00:00.000000+00:00 1",
            "s 2024-01-01T00:00:00.000000+00:00 2024-01-01T00:00:01.000000+00:00 1",
            "s 2024-01-01T00:00:01.000000+00:00 2024-01-01T00:00:02.000000+00:00 2",
            // Aligned to 1950 plus 0.25 s: windows [k + 0.25 s, k + 1.25 s).
            "q 2023-12-31T23:59:59.250000+00:00 2024-01-01T00:00:00.250000+00:00 1",
            "q 2024-01-01T00:00:00.250000+00:00 2024-01-01T00:00:01.250000+00:00 1",
            // Aligned to 2200 (far in the future, a whole number of 5
            // minutes after T0): 0 and 4 min are both in [-5, 5) and [0, 10).
            "f 2023-12-31T23:55:00.000000+00:00 2024-01-01T00:05:00.000000+00:00 2",
            "f 2024-01-01T00:00:00.000000+00:00 2024-01-01T00:10:00.000000+00:00 2",
        ],
    );
}

// ---------------------------------------------------------------------
// Session joins do not depend on the order of the sides (upstream #406).

const SESSION_JOIN: &str = r#"
def sec(s):
    return T0 + timedelta(seconds=s)


def show_join(key__meta_d):
    key, (meta, d) = key__meta_d
    span = f"{(meta.open_time - T0).total_seconds():g}s..{(meta.close_time - T0).total_seconds():g}s"
    # Sorted: the dict's own order follows the order of the sides.
    return f"{key} {span} {sorted((n, v[1]) for n, v in d.items())}"


# Every key's items lie within one 60 s gap of each other, so however the
# two inputs interleave no item can be late and each key has one session.
A = op.input("A", flow, TestingSource([
    ("k", (sec(10), "a_k")),
    ("m", (sec(11), "a_m")),
    ("q", (sec(0), "a_q1")), ("q", (sec(50), "a_q2")),
]))
B = op.input("B", flow, TestingSource([
    ("k", (sec(11), "b_k")),
    ("m", (sec(10), "b_m")),
    ("q", (sec(20), "b_q1")), ("q", (sec(59), "b_q2")),
]))
gap = SessionWindow(gap=timedelta(seconds=60))
"#;

#[test]
fn session_join_output_does_not_depend_on_the_order_of_sides() {
    // The issue's case (A at 10 s, B at 11 s, a gap of a minute, no wait)
    // and its mirror image; with `a=A, b=B` and with `b=B, a=A`. The
    // reference prints "k 11s..11s [('b', 'b_k')]" and
    // "m 11s..11s [('a', 'a_m')]" for one order or the other: whichever
    // side's item is processed second is dropped as late.
    let expected_latest = [
        "k 10s..11s [('a', 'a_k'), ('b', 'b_k')]",
        "m 10s..11s [('a', 'a_m'), ('b', 'b_m')]",
        // product=False keeps each side's latest value (by arrival).
        "q 0s..59s [('a', 'a_q2'), ('b', 'b_q2')]",
    ];
    let expected_product = [
        "k 10s..11s [('a', 'a_k'), ('b', 'b_k')]",
        "m 10s..11s [('a', 'a_m'), ('b', 'b_m')]",
        "q 0s..59s [('a', 'a_q1'), ('b', 'b_q1')]",
        "q 0s..59s [('a', 'a_q1'), ('b', 'b_q2')]",
        "q 0s..59s [('a', 'a_q2'), ('b', 'b_q1')]",
        "q 0s..59s [('a', 'a_q2'), ('b', 'b_q2')]",
    ];
    for (label, sides) in [("ab", "a=A, b=B"), ("ba", "b=B, a=A")] {
        for (product, expected) in [
            ("False", &expected_latest[..]),
            ("True", &expected_product[..]),
        ] {
            let body = format!(
                r#"{SESSION_JOIN}
joined = win.join_window_named("merge_named", clock(0), gap, product={product}, {sides})
out("out", joined, show_join)
"#
            );
            check(&format!("session_join_{label}_{product}"), &body, expected);
        }
    }
}

// ---------------------------------------------------------------------
// WindowMetadata.

#[test]
fn window_metadata_properties_ordering_equality_repr_and_pickle() {
    let dir = TempDir::new("metadata");
    let script = dir.write(
        "meta.py",
        r#"
import copy
import pickle
from datetime import datetime, timedelta, timezone

from bytewax.operators.window import WindowMetadata

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)


def at(minutes):
    return T0 + timedelta(minutes=minutes)


a = WindowMetadata(at(0), at(10))

# Properties: the datetimes given, UTC-aware.
check(a.open_time == at(0), f"open_time {a.open_time!r}")
check(a.close_time == at(10), f"close_time {a.close_time!r}")
check(a.open_time.utcoffset() == timedelta(0), f"open_time tz {a.open_time!r}")
check(a.close_time.utcoffset() == timedelta(0), f"close_time tz {a.close_time!r}")
try:
    a.open_time = at(1)
    check(False, "open_time must be read-only")
except AttributeError:
    pass

# repr as in Bytewax 0.18.2.
check(
    repr(a) == "WindowMetadata(open_time: 2024-01-01 00:00:00 UTC, close_time: 2024-01-01 00:10:00 UTC)",
    f"repr {a!r}",
)
frac = WindowMetadata(at(0.5 / 60), T0 + timedelta(minutes=10, microseconds=60))
check(
    repr(frac) == "WindowMetadata(open_time: 2024-01-01 00:00:00.500 UTC, close_time: 2024-01-01 00:10:00.000060 UTC)",
    f"repr {frac!r}",
)

# Ordering by (close_time, open_time).
same_close_later_open = WindowMetadata(at(5), at(10))
later_close_earlier_open = WindowMetadata(at(-100), at(20))
check(a < same_close_later_open, "same close: the earlier open sorts first")
check(same_close_later_open < later_close_earlier_open, "close time sorts before open time")
check(a < later_close_earlier_open, "close time first")
shuffled = [later_close_earlier_open, same_close_later_open, a]
check(sorted(shuffled) == [a, same_close_later_open, later_close_earlier_open], f"sorted {sorted(shuffled)!r}")
check(max(shuffled) is later_close_earlier_open and min(shuffled) is a, "min/max")

# ==, != and the orderings agree on every pair.
values = [
    a,
    WindowMetadata(at(0), at(10)),
    WindowMetadata(at(0), at(11)),  # only close differs
    WindowMetadata(at(1), at(10)),  # only open differs
    same_close_later_open,
    later_close_earlier_open,
]
for x in values:
    for y in values:
        key_x = (x.close_time, x.open_time)
        key_y = (y.close_time, y.open_time)
        pair = f"{x!r} vs {y!r}"
        check((x == y) == (key_x == key_y), f"== {pair}")
        check((x != y) == (key_x != key_y), f"!= {pair}")
        check((x == y) != (x != y), f"== and != disagree: {pair}")
        check((x < y) == (key_x < key_y), f"< {pair}")
        check((x <= y) == (key_x <= key_y), f"<= {pair}")
        check((x > y) == (key_x > key_y), f"> {pair}")
        check((x >= y) == (key_x >= key_y), f">= {pair}")
        if x == y:
            check(hash(x) == hash(y), f"equal but different hashes: {pair}")
check(a != WindowMetadata(at(0), at(11)), "!= with one field different")
check((a == "not metadata") is False and (a != "not metadata") is True, "comparison with another type")

# Pickle (protocols 2 and up; see the next test for 0 and 1), copy and
# deepcopy round-trip.
for proto in range(2, pickle.HIGHEST_PROTOCOL + 1):
    for m in values + [frac]:
        try:
            back = pickle.loads(pickle.dumps(m, protocol=proto))
        except Exception as e:
            check(False, f"pickle protocol {proto} of {m!r}: {e!r}")
            continue
        check(type(back) is WindowMetadata and back == m, f"pickle protocol {proto}: {m!r} -> {back!r}")
        check(back.open_time == m.open_time and back.close_time == m.close_time, f"pickle fields {m!r}")
check(copy.copy(a) == a and copy.deepcopy(a) == a, "copy/deepcopy")

if failures:
    print("FAILED")
    for f in failures:
        print(" -", f)
    raise SystemExit(1)
print("ok")
"#,
    );
    assert!(script.is_file());
    let out = bytewax(["python", "meta.py"]).cwd(dir.path()).run();
    out.assert_success().assert_stdout_lines(&["ok"]);
}

#[test]
fn window_metadata_crosses_processes() {
    // Every window is sent to one key after the window step; with -p 2 the
    // windows from the other process arrive pickled. The summary says which
    // windows arrived (all equal to fresh WindowMetadata objects) and from
    // how many processes.
    let dir = TempDir::new("metadata_procs");
    dir.write(
        "flow.py",
        flow_source(
            r#"
inp = op.input("inp", flow, events(*[(f"k{i:02}", m, f"k{i:02}@{m}") for i in range(16) for m in (1, 12, 25)]))
wins = win.collect_window("collect", inp, clock(60), tumbling(10))
tagged = op.map("tag", wins, lambda kv: (kv, os.getpid()))
gathered = op.fold_final("gather", op.key_on("all", tagged, lambda _kv: "all"), list, lambda acc, x: acc + [x])


def summarize(all__windows):
    _, windows = all__windows
    metas = [meta for (_key, (meta, _acc)), _pid in windows]
    assert all(type(m) is WindowMetadata for m in metas), metas
    assert metas == [WindowMetadata(m.open_time, m.close_time) for m in metas]
    pids = len({pid for _, pid in windows})
    distinct = sorted(set(metas))
    return f"processes={pids} " + "; ".join(f"{rel(m.open_time)}..{rel(m.close_time)} x{metas.count(m)}" for m in distinct)


op.output("summary", op.map("summarize", gathered, summarize), StdOutSink())
out("each", op.map_value("labels", wins, lambda m_v: (m_v[0], [l for _, l in m_v[1]])))
"#,
        ),
    );
    let mut each = Vec::new();
    for i in 0..16 {
        for (m, open) in [(1, 0), (12, 10), (25, 20)] {
            each.push(format!("k{i:02} {open}..{} ['k{i:02}@{m}']", open + 10));
        }
    }
    let mut failures = Vec::new();
    for (args, processes) in [
        (&["-w", "1"][..], 1),
        (&["-w", "2"][..], 1),
        (&["-p", "2", "-w", "1"][..], 2),
        (&["-p", "2", "-w", "2"][..], 2),
    ] {
        let mut want = each.clone();
        want.push(format!(
            "processes={processes} 0..10 x16; 10..20 x16; 20..30 x16"
        ));
        let out = run_in(dir.path(), args);
        if let Some(problem) = sorted_mismatch(&out, &want) {
            failures.push(format!("{}: {problem}", args.join(" ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------
// Time zones and bad input.

#[test]
fn non_utc_aware_datetimes_are_converted() {
    check(
        "timezones",
        r#"
IST = timezone(timedelta(hours=5, minutes=30))
NYC = timezone(timedelta(hours=-5))


def iso(kv):
    key, (meta, acc) = kv
    return f"{key} {meta.open_time.isoformat()} {meta.close_time.isoformat()} {acc}"


inp = op.input("inp", flow, TestingSource([
    ("k", (datetime(2024, 1, 1, 5, 35, tzinfo=IST), "ist_0005")),     # 00:05 UTC
    ("k", (datetime(2023, 12, 31, 19, 9, tzinfo=NYC), "nyc_0009")),   # 00:09 UTC
    ("k", (datetime(2024, 1, 1, 5, 41, tzinfo=IST), "ist_0011")),     # 00:11 UTC
    ("k", (datetime(2024, 1, 1, 0, 12, tzinfo=timezone.utc), "utc_0012")),
]))
# 05:30+05:30 is T0: the same windows as aligning to T0 in UTC.
aligned_ist = TumblingWindow(length=timedelta(minutes=10), align_to=datetime(2024, 1, 1, 5, 30, tzinfo=IST))
out("out", win.fold_window("tz", inp, clock(60), aligned_ist, list, labels), iso)
out("out_s", win.fold_window("tz_session", inp, clock(60), SessionWindow(gap=timedelta(minutes=3)), list, labels), iso)
"#,
        &[
            // Metadata is always UTC. In UTC the items are at 00:05, 00:09,
            // 00:11 and 00:12: two in [00:00, 00:10), two in [00:10, 00:20).
            "k 2024-01-01T00:00:00+00:00 2024-01-01T00:10:00+00:00 ['ist_0005', 'nyc_0009']",
            "k 2024-01-01T00:10:00+00:00 2024-01-01T00:20:00+00:00 ['ist_0011', 'utc_0012']",
            // Sessions with a 3-minute gap: 00:05 alone (4 min to 00:09),
            // then 00:09, 00:11, 00:12.
            "k 2024-01-01T00:05:00+00:00 2024-01-01T00:05:00+00:00 ['ist_0005']",
            "k 2024-01-01T00:09:00+00:00 2024-01-01T00:12:00+00:00 ['nyc_0009', 'ist_0011', 'utc_0012']",
        ],
    );
}

/// Each bad window flow must exit 1 with an error naming its step id (and
/// saying what is wrong), no panic text, for -w 1 and -w 2.
#[track_caller]
fn check_bad_flows(label: &str, cases: &[(&str, &str, &[&str])]) {
    let dir = TempDir::new(label);
    let mut failures = Vec::new();
    for (step_id, expr, needles) in cases {
        let file = format!("{step_id}.py");
        dir.write(&file, flow_source(&format!("out(\"out\", {expr})\n")));
        for w in WORKERS {
            let out = bytewax(["run", file.as_str(), "-w", &w.to_string()])
                .cwd(dir.path())
                .run();
            let mut problems = Vec::new();
            if out.code != Some(1) {
                problems.push("exit code is not 1".to_string());
            }
            for marker in PANIC_MARKERS {
                if out.stderr.contains(marker) || out.stdout.contains(marker) {
                    problems.push(format!("shows Rust panic text `{marker}`"));
                }
            }
            if !out.stderr.contains(step_id) {
                problems.push(format!("stderr does not name the step `{step_id}`"));
            }
            for needle in *needles {
                if !out.stderr.contains(needle) {
                    problems.push(format!("stderr does not say {needle:?}"));
                }
            }
            if !out.stdout.is_empty() {
                problems.push("printed output".to_string());
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "{step_id} -w {w}: {}\n{}",
                    problems.join("; "),
                    out.report()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn naive_datetime_from_dt_getter_is_an_error_naming_the_step() {
    check_bad_flows(
        "bad_naive",
        &[
            (
                "naive_step",
                r#"win.count_window("naive_step", op.input("inp", flow, TestingSource([datetime(2024, 1, 1)])), EventClockConfig(lambda v: v, timedelta(0)), tumbling(10), lambda v: "k")"#,
                &["TypeError", "timezone"],
            ),
            (
                // A naive datetime after good ones.
                "naive_later",
                r#"win.count_window("naive_later", op.input("inp", flow, TestingSource([at(1), at(2), datetime(2024, 1, 1, 0, 3)])), EventClockConfig(lambda v: v, timedelta(0)), SessionWindow(gap=timedelta(minutes=5)), lambda v: "k")"#,
                &["TypeError", "timezone"],
            ),
        ],
    );
}

#[test]
fn non_positive_gap_length_or_offset_is_an_error_naming_the_step() {
    let event = r#"EventClockConfig(lambda v: v, timedelta(0))"#;
    let src = r#"op.input("inp", flow, TestingSource([at(1)]))"#;
    let cases: Vec<(String, String)> = [
        ("gap_zero", "SessionWindow(gap=timedelta(0))"),
        ("gap_negative", "SessionWindow(gap=timedelta(seconds=-5))"),
        (
            "tumbling_length_zero",
            "TumblingWindow(length=timedelta(0), align_to=T0)",
        ),
        (
            "tumbling_length_negative",
            "TumblingWindow(length=timedelta(minutes=-1), align_to=T0)",
        ),
        (
            "sliding_length_zero",
            "SlidingWindow(length=timedelta(0), offset=timedelta(minutes=1), align_to=T0)",
        ),
        (
            "sliding_length_negative",
            "SlidingWindow(length=timedelta(minutes=-1), offset=timedelta(minutes=1), align_to=T0)",
        ),
        (
            "offset_zero",
            "SlidingWindow(length=timedelta(minutes=1), offset=timedelta(0), align_to=T0)",
        ),
        (
            "offset_negative",
            "SlidingWindow(length=timedelta(minutes=1), offset=timedelta(minutes=-1), align_to=T0)",
        ),
    ]
    .iter()
    .map(|(step, windower)| {
        (
            step.to_string(),
            format!(r#"win.count_window("{step}", {src}, {event}, {windower}, lambda v: "k")"#),
        )
    })
    .collect();
    let cases: Vec<(&str, &str, &[&str])> = cases
        .iter()
        .map(|(s, e)| (s.as_str(), e.as_str(), &["positive"][..]))
        .collect();
    check_bad_flows("bad_shapes", &cases);
}

#[test]
fn window_and_clock_configs_check_argument_types_on_construction() {
    // As in Bytewax 0.18: a `TypeError` naming the argument, raised where
    // the flow is written, not when it runs.
    let out = bytewax([
        "python",
        "-c",
        r#"
from datetime import datetime, timedelta, timezone
from bytewax.operators.window import (
    EventClockConfig, SessionWindow, SlidingWindow, TumblingWindow,
)
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
NAIVE = datetime(2024, 1, 1)
MIN = timedelta(minutes=1)
cases = [
    ("align_to", lambda: TumblingWindow(MIN, NAIVE), "no timezone"),
    ("align_to", lambda: TumblingWindow(length=MIN, align_to="2024-01-01"), "str"),
    ("length", lambda: TumblingWindow(60, T0), "int"),
    ("align_to", lambda: SlidingWindow(MIN, MIN, NAIVE), "no timezone"),
    ("offset", lambda: SlidingWindow(MIN, 1.5, T0), "float"),
    ("gap", lambda: SessionWindow(gap=5), "int"),
    ("wait_for_system_duration", lambda: EventClockConfig(lambda v: v, "5s"), "str"),
    ("dt_getter", lambda: EventClockConfig(None, MIN), "NoneType"),
]
for arg, make, says in cases:
    try:
        make()
    except TypeError as err:
        assert f"`{arg}`" in str(err) and says in str(err), (arg, str(err))
        print("TypeError", arg)
    else:
        print("accepted", arg)
# Good arguments, in any timezone, still build.
TumblingWindow(MIN, datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=2))))
SlidingWindow(length=MIN, offset=MIN, align_to=T0)
SessionWindow(MIN)
EventClockConfig(lambda v: v, wait_for_system_duration=timedelta(0))
print("built")
"#,
    ])
    .run();
    out.assert_success().assert_stdout_lines(&[
        "TypeError align_to",
        "TypeError align_to",
        "TypeError length",
        "TypeError align_to",
        "TypeError offset",
        "TypeError gap",
        "TypeError wait_for_system_duration",
        "TypeError dt_getter",
        "built",
    ]);
}

#[test]
fn negative_wait_for_system_duration_is_an_error_naming_the_step() {
    check_bad_flows(
        "bad_wait",
        &[(
            "negative_wait",
            r#"win.count_window("negative_wait", op.input("inp", flow, TestingSource([at(1)])), EventClockConfig(lambda v: v, timedelta(seconds=-1)), tumbling(10), lambda v: "k")"#,
            &["wait_for_system_duration"],
        )],
    );
}

#[test]
fn window_metadata_pickles_with_old_protocols_too() {
    // `pickle.dumps(m, protocol=0)` / `1`, as some libraries still use;
    // datetimes support them, and a picklable WindowMetadata should too.
    let out = bytewax([
        "python",
        "-c",
        r#"
import pickle
from datetime import datetime, timezone
from bytewax.operators.window import WindowMetadata

m = WindowMetadata(datetime(2024, 1, 1, tzinfo=timezone.utc), datetime(2024, 1, 1, 0, 10, tzinfo=timezone.utc))
for proto in (0, 1):
    back = pickle.loads(pickle.dumps(m, protocol=proto))
    assert type(back) is WindowMetadata and back == m, (proto, back)
    print(f"protocol {proto} ok")
"#,
    ])
    .run();
    out.assert_success()
        .assert_stdout_lines(&["protocol 0 ok", "protocol 1 ok"]);
}
