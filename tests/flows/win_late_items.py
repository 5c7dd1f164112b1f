"""With no wait, items are late once the key's watermark is past their
window's close; an out-of-order item whose window is still open is kept.
Lateness is per key."""

from datetime import datetime, timedelta, timezone

import bytewax.operators as op
import bytewax.operators.window as win
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource


def at(h, m, s):
    return datetime(2024, 3, 1, h, m, s, tzinfo=timezone.utc)


EVENTS = [
    ("a", (at(10, 0, 30), "a1")),
    ("a", (at(10, 5, 30), "a2")),
    ("a", (at(10, 0, 40), "a_late")),  # dropped
    ("b", (at(10, 0, 40), "b1")),  # same time, other key: on time
    ("a", (at(10, 5, 35), "a3")),
    ("a", (at(10, 4, 50), "a_late2")),  # dropped
    ("a", (at(10, 5, 20), "a4")),  # out of order but its window is open
    ("b", (at(9, 0, 10), "b_late")),  # dropped
    ("a", (at(10, 6, 5), "a5")),
]


def fmt(key__meta_acc):
    key, (meta, acc) = key__meta_acc
    return (key, (meta.open_time.isoformat(), meta.close_time.isoformat(), acc))


flow = Dataflow("late_items")
inp = op.input("inp", flow, TestingSource(EVENTS))
clock = win.EventClockConfig(lambda e: e[0], wait_for_system_duration=timedelta(seconds=0))
windower = win.TumblingWindow(length=timedelta(minutes=1), align_to=datetime(2024, 3, 1, tzinfo=timezone.utc))
names = win.collect_window("names", inp, clock, windower)
names = op.map_value("just_names", names, lambda m_l: (m_l[0], [e[1] for e in m_l[1]]))
op.output("out", op.map("fmt", names, fmt), StdOutSink())
