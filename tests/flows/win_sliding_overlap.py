"""Sliding windows whose offset is shorter than their length, so an item
lands in several windows. With no wait, an item can be late for the
older of its windows and still be counted in the newer one. Also a
length that is not a multiple of the offset."""

from datetime import datetime, timedelta, timezone

import bytewax.operators as op
import bytewax.operators.window as win
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

ALIGN = datetime(2024, 3, 1, tzinfo=timezone.utc)


def at(h, m, s):
    return datetime(2024, 3, 1, h, m, s, tzinfo=timezone.utc)


EVENTS = [
    ("k", (at(10, 2, 30), "e1")),
    ("k", (at(10, 6, 30), "e2")),
    ("k", (at(10, 11, 30), "e3")),
    ("k", (at(10, 12, 10), "e4")),
    ("k", (at(10, 4, 10), "late_both")),  # both of its windows have closed
    ("k", (at(10, 9, 10), "late_one")),  # [10:00,10:10) closed, [10:05,10:15) open
    ("k", (at(10, 14, 50), "e5")),
]


def fmt(key__meta_acc):
    key, (meta, acc) = key__meta_acc
    return (key, (meta.open_time.isoformat(), meta.close_time.isoformat(), acc))


flow = Dataflow("sliding_overlap")
inp = op.input("inp", flow, TestingSource(EVENTS))
clock = win.EventClockConfig(lambda e: e[0], wait_for_system_duration=timedelta(0))

half = win.SlidingWindow(length=timedelta(minutes=10), offset=timedelta(minutes=5), align_to=ALIGN)
halves = win.collect_window("halves", inp, clock, half)
halves = op.map_value("names", halves, lambda m_l: (m_l[0], [e[1] for e in m_l[1]]))
op.output("out_halves", op.map("fmt_halves", halves, fmt), StdOutSink())

# 5 minute windows every 2 minutes: each time is in two or three windows.
uneven = win.SlidingWindow(length=timedelta(minutes=5), offset=timedelta(minutes=2), align_to=ALIGN)
counts = win.fold_window("uneven", inp, clock, uneven, lambda: "", lambda acc, e: acc + e[1][-1])
op.output("out_uneven", op.map("fmt_uneven", counts, fmt), StdOutSink())
