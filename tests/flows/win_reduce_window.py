"""reduce_window: a sum, a non-commutative string join (arrival order is
kept), and windows with a single item (the reducer is never called)."""

from datetime import datetime, timedelta, timezone

import bytewax.operators as op
import bytewax.operators.window as win
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource


def at(h, m, s):
    return datetime(2024, 3, 1, h, m, s, tzinfo=timezone.utc)


EVENTS = [
    ("x", (at(12, 0, 10), 1, "a")),
    ("y", (at(12, 0, 20), 2, "b")),
    ("x", (at(12, 4, 10), 3, "c")),
    ("x", (at(12, 2, 10), 4, "d")),
    ("x", (at(12, 7, 30), 5, "e")),
    ("y", (at(12, 9, 40), 6, "f")),
]


def fmt(key__meta_acc):
    key, (meta, acc) = key__meta_acc
    return (key, (meta.open_time.isoformat(), meta.close_time.isoformat(), acc))


flow = Dataflow("reduce_window")
inp = op.input("inp", flow, TestingSource(EVENTS))
clock = win.EventClockConfig(lambda e: e[0], wait_for_system_duration=timedelta(minutes=3))
windower = win.TumblingWindow(length=timedelta(minutes=5), align_to=datetime(2024, 3, 1, tzinfo=timezone.utc))

nums = op.map_value("num", inp, lambda e: (e[0], e[1]))
sums = win.reduce_window("sum", nums, clock, windower, lambda a, b: (a[0], a[1] + b[1]))
sums = op.map_value("drop_time", sums, lambda m_v: (m_v[0], ("sum", m_v[1][1])))
op.output("out_sum", op.map("fmt_sum", sums, fmt), StdOutSink())

letters = op.map_value("letter", inp, lambda e: (e[0], e[2]))
joined = win.reduce_window("join", letters, clock, windower, lambda a, b: (a[0], a[1] + "+" + b[1]))
joined = op.map_value("drop_time2", joined, lambda m_v: (m_v[0], ("join", m_v[1][1])))
op.output("out_join", op.map("fmt_join", joined, fmt), StdOutSink())
