"""Sliding windows whose offset is longer than their length: items that
fall in the gaps between windows belong to no window and vanish."""

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
    ("a", (at(10, 1, 10), 2)),
    ("a", (at(10, 0, 50), 3)),  # out of order, within the wait
    ("a", (at(10, 3, 30), 4)),  # gap between [10:00,10:02) and [10:05,10:07)
    ("a", (at(10, 5, 15), 5)),
    ("a", (at(10, 6, 50), 6)),
    ("a", (at(10, 12, 20), 7)),  # gap
    ("a", (at(10, 15, 40), 8)),
    ("b", (at(10, 2, 30), 9)),  # b only ever has items in gaps
    ("b", (at(10, 4, 55), 10)),
]


def fmt(key__meta_acc):
    key, (meta, acc) = key__meta_acc
    return (key, (meta.open_time.isoformat(), meta.close_time.isoformat(), acc))


flow = Dataflow("sliding_gaps")
inp = op.input("inp", flow, TestingSource(EVENTS))
clock = win.EventClockConfig(lambda e: e[0], wait_for_system_duration=timedelta(minutes=1))
windower = win.SlidingWindow(
    length=timedelta(minutes=2),
    offset=timedelta(minutes=5),
    align_to=datetime(2024, 3, 1, tzinfo=timezone.utc),
)
sums = win.fold_window("sums", inp, clock, windower, list, lambda acc, e: acc + [e[1]])
op.output("out", op.map("fmt", sums, fmt), StdOutSink())
