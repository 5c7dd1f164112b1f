"""Where windows fall depends on `align_to`, which may be long before
the data (windows are numbered from it) or after it (windows extend
backwards too)."""

from datetime import datetime, timedelta, timezone

import bytewax.operators as op
import bytewax.operators.window as win
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource


def at(h, m, s):
    return datetime(2024, 3, 1, h, m, s, tzinfo=timezone.utc)


EVENTS = [
    ("a", (at(10, 0, 30), 1)),
    ("a", (at(10, 0, 40), 2)),
    ("a", (at(10, 6, 50), 3)),
    ("a", (at(10, 8, 10), 4)),
    ("a", (at(11, 30, 30), 5)),
]


def fmt(key__meta_acc):
    key, (meta, acc) = key__meta_acc
    return (key, (meta.open_time.isoformat(), meta.close_time.isoformat(), acc))


flow = Dataflow("align_to")
inp = op.input("inp", flow, TestingSource(EVENTS))
clock = win.EventClockConfig(lambda e: e[0], wait_for_system_duration=timedelta(hours=2))
collect = lambda acc, e: acc + [e[1]]  # noqa: E731

CASES = [
    # Hour windows aligned seven minutes past an hour in 1970.
    ("epoch_07", win.TumblingWindow(length=timedelta(hours=1), align_to=datetime(1970, 1, 1, 0, 7, tzinfo=timezone.utc))),
    # One-second windows counted from the Unix epoch.
    ("epoch_1s", win.TumblingWindow(length=timedelta(seconds=1), align_to=datetime(1970, 1, 1, tzinfo=timezone.utc))),
    # A year back, aligned to an odd second.
    ("last_year", win.TumblingWindow(length=timedelta(minutes=5), align_to=datetime(2023, 3, 1, 0, 0, 13, tzinfo=timezone.utc))),
    # Alignment after the data.
    ("future", win.TumblingWindow(length=timedelta(minutes=30), align_to=datetime(2030, 1, 1, 0, 10, tzinfo=timezone.utc))),
    # Sliding, aligned in the past, offset not dividing the hour evenly.
    ("sliding", win.SlidingWindow(length=timedelta(minutes=10), offset=timedelta(minutes=7), align_to=datetime(2024, 2, 1, tzinfo=timezone.utc))),
]

for name, windower in CASES:
    folded = win.fold_window(f"fold_{name}", inp, clock, windower, list, collect)
    tagged = op.map_value(f"tag_{name}", folded, lambda m_a, name=name: (m_a[0], (name, m_a[1])))
    op.output(f"out_{name}", op.map(f"fmt_{name}", tagged, fmt), StdOutSink())
