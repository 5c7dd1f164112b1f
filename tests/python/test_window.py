"""Running flows through the window operators."""

from datetime import datetime, timedelta, timezone

import bytewax.operators as op
import bytewax.operators.window as win
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main

ALIGN = datetime(2024, 1, 1, tzinfo=timezone.utc)
ZERO_TD = timedelta(seconds=0)


def at(seconds):
    return ALIGN + timedelta(seconds=seconds)


def _event_clock(wait=ZERO_TD):
    return win.EventClockConfig(lambda v: v["at"], wait_for_system_duration=wait)


def _items(spec):
    """`[(key, seconds, val)]` to keyed items with an `at` time."""
    return [(k, {"at": at(s), "val": v}) for k, s, v in spec]


def _summarize(out):
    """`(key, (meta, x))` to `(key, open_s, close_s, x)`."""
    return [
        (
            k,
            (meta.open_time - ALIGN).total_seconds(),
            (meta.close_time - ALIGN).total_seconds(),
            x,
        )
        for k, (meta, x) in out
    ]


def _run(build, *inputs):
    flow = Dataflow("test_df")
    streams = [op.input(f"inp{i}", flow, TestingSource(items)) for i, items in enumerate(inputs)]
    out = []
    op.output("out", build(*streams), TestingSink(out))
    run_main(flow)
    return out


def test_fold_window_tumbling():
    inp = _items([("a", 1, 1), ("a", 2, 2), ("b", 3, 5), ("a", 11, 3)])
    out = _run(
        lambda s: win.fold_window(
            "fw",
            s,
            _event_clock(),
            win.TumblingWindow(timedelta(seconds=10), ALIGN),
            list,
            lambda acc, v: acc + [v["val"]],
        ),
        inp,
    )
    assert sorted(_summarize(out)) == [
        ("a", 0.0, 10.0, [1, 2]),
        ("a", 10.0, 20.0, [3]),
        ("b", 0.0, 10.0, [5]),
    ]


def test_window_metadata_is_utc():
    inp = _items([("a", 1, 1)])
    out = _run(
        lambda s: win.count_window(
            "cw",
            op.map("unkey", s, lambda kv: kv[1]),
            _event_clock(),
            win.TumblingWindow(timedelta(seconds=10), ALIGN),
            lambda v: "a",
        ),
        inp,
    )
    ((_key, (meta, count)),) = out
    assert count == 1
    assert meta.open_time == ALIGN
    assert meta.open_time.tzinfo is not None
    assert meta.close_time == at(10)


def test_late_items_are_dropped():
    inp = _items([("a", 1, 1), ("a", 25, 2), ("a", 2, 3)])
    out = _run(
        lambda s: win.collect_window(
            "cw", s, _event_clock(), win.TumblingWindow(timedelta(seconds=10), ALIGN)
        ),
        inp,
    )
    assert [(o, c, [v["val"] for v in x]) for _k, o, c, x in _summarize(out)] == [
        (0.0, 10.0, [1]),
        (20.0, 30.0, [2]),
    ]


@pytest.mark.parametrize(
    ("into", "expected"),
    [
        (list, [1, 2, 2]),
        (set, {1, 2}),
    ],
)
def test_collect_window_types(into, expected):
    inp = [("a", {"at": at(i), "val": v}) for i, v in enumerate([1, 2, 2])]
    out = _run(
        lambda s: win.collect_window(
            "cw",
            op.map_value("val", s, lambda v: (v["at"], v["val"])),
            win.EventClockConfig(lambda tv: tv[0], ZERO_TD),
            win.TumblingWindow(timedelta(seconds=10), ALIGN),
            into=into,
        ),
        inp,
    )
    ((_k, (_meta, got)),) = out
    assert isinstance(got, into)
    assert into(v for _t, v in got) == expected


def test_collect_window_dict_values():
    inp = [("a", ("x", 1)), ("a", ("y", 2)), ("a", ("x", 3))]
    out = _run(
        lambda s: win.collect_window(
            "cw",
            s,
            win.SystemClockConfig(),
            win.TumblingWindow(timedelta(hours=1), ALIGN),
            into=dict,
        ),
        inp,
    )
    ((_k, (_meta, got)),) = out
    assert got == {"x": 3, "y": 2}


def test_count_window():
    inp = [{"user": u, "at": at(s)} for u, s in [("a", 1), ("b", 2), ("a", 3), ("a", 12)]]
    out = _run(
        lambda s: win.count_window(
            "cw",
            s,
            win.EventClockConfig(lambda e: e["at"], ZERO_TD),
            win.TumblingWindow(timedelta(seconds=10), ALIGN),
            lambda e: e["user"],
        ),
        inp,
    )
    assert sorted(_summarize(out)) == [
        ("a", 0.0, 10.0, 2),
        ("a", 10.0, 20.0, 1),
        ("b", 0.0, 10.0, 1),
    ]


def test_reduce_max_min_window():
    inp = _items([("a", 1, 5), ("a", 2, 9), ("a", 3, 1)])
    windower = win.TumblingWindow(timedelta(seconds=10), ALIGN)

    def vals(out):
        return [x["val"] for _k, _o, _c, x in _summarize(out)]

    assert vals(
        _run(
            lambda s: win.max_window("mx", s, _event_clock(), windower, by=lambda v: v["val"]), inp
        )
    ) == [9]
    assert vals(
        _run(
            lambda s: win.min_window("mn", s, _event_clock(), windower, by=lambda v: v["val"]), inp
        )
    ) == [1]
    out = _run(
        lambda s: win.reduce_window(
            "rw",
            s,
            _event_clock(),
            windower,
            lambda a, b: {"at": b["at"], "val": a["val"] + b["val"]},
        ),
        inp,
    )
    assert vals(out) == [15]


def test_sliding_window():
    inp = _items([("a", 1, 1), ("a", 6, 2)])
    out = _run(
        lambda s: win.collect_window(
            "cw",
            s,
            _event_clock(),
            win.SlidingWindow(timedelta(seconds=10), timedelta(seconds=5), ALIGN),
        ),
        inp,
    )
    got = sorted((o, c, [v["val"] for v in x]) for _k, o, c, x in _summarize(out))
    assert got == [(-5.0, 5.0, [1]), (0.0, 10.0, [1, 2]), (5.0, 15.0, [2])]


def test_session_window():
    inp = _items([("a", 1, 1), ("a", 3, 2), ("a", 20, 3)])
    out = _run(
        lambda s: win.collect_window(
            "cw", s, _event_clock(), win.SessionWindow(gap=timedelta(seconds=5))
        ),
        inp,
    )
    got = [(o, c, [v["val"] for v in x]) for _k, o, c, x in _summarize(out)]
    # A session closes at its latest item, as in Bytewax 0.18.
    assert got == [(1.0, 3.0, [1, 2]), (20.0, 20.0, [3])]


def test_join_window():
    left = [("a", {"at": at(1), "val": "l1"}), ("a", {"at": at(2), "val": "l2"})]
    right = [("a", {"at": at(3), "val": "r1"}), ("b", {"at": at(4), "val": "r2"})]
    windower = win.TumblingWindow(timedelta(seconds=10), ALIGN)

    def vals(out):
        return sorted(
            (k, tuple(None if x is None else x["val"] for x in row))
            for k, _o, _c, row in _summarize(out)
        )

    out = _run(lambda l, r: win.join_window("jw", _event_clock(), windower, l, r), left, right)
    assert vals(out) == [("a", ("l2", "r1")), ("b", (None, "r2"))]

    out = _run(
        lambda l, r: win.join_window("jw", _event_clock(), windower, l, r, product=True),
        left,
        right,
    )
    assert vals(out) == [("a", ("l1", "r1")), ("a", ("l2", "r1")), ("b", (None, "r2"))]


def test_join_window_named():
    left = [("a", {"at": at(1), "val": "l1"})]
    right = [("a", {"at": at(3), "val": "r1"}), ("b", {"at": at(4), "val": "r2"})]
    windower = win.TumblingWindow(timedelta(seconds=10), ALIGN)
    out = _run(
        lambda l, r: win.join_window_named("jw", _event_clock(), windower, left=l, right=r),
        left,
        right,
    )
    got = sorted(
        (k, sorted((name, x["val"]) for name, x in row.items()))
        for k, _o, _c, row in _summarize(out)
    )
    assert got == [("a", [("left", "l1"), ("right", "r1")]), ("b", [("right", "r2")])]


def test_system_clock_window_emits_at_eof():
    out = _run(
        lambda s: win.collect_window(
            "cw",
            s,
            win.SystemClockConfig(),
            win.TumblingWindow(timedelta(hours=1), ALIGN),
        ),
        [("a", 1), ("a", 2), ("b", 3)],
    )
    assert sorted((k, vals) for k, (_meta, vals) in out) == [("a", [1, 2]), ("b", [3])]
