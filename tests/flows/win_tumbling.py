"""Tumbling windows with an event clock that waits 2 minutes: out-of-order
items within the wait are kept, an item for an already-closed window is
dropped, and each key has its own clock."""

from datetime import datetime, timedelta, timezone

import bytewax.operators as op
import bytewax.operators.window as win
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.operators.window import EventClockConfig, TumblingWindow
from bytewax.testing import TestingSource


def at(h, m, s):
    return datetime(2024, 3, 1, h, m, s, tzinfo=timezone.utc)


READINGS = [
    ("a", (at(10, 0, 30), 1)),
    ("b", (at(10, 0, 45), 10)),
    ("a", (at(10, 1, 15), 2)),
    ("a", (at(10, 0, 50), 3)),  # out of order, within the wait
    ("a", (at(10, 3, 20), 4)),  # closes a's 10:00 window
    ("a", (at(10, 0, 55), 5)),  # late for a: dropped
    ("a", (at(10, 1, 40), 6)),  # 10:01 window still open
    ("b", (at(10, 7, 5), 20)),
    ("b", (at(10, 5, 5), 30)),  # b's clock is independent of a's
    ("c", (at(9, 59, 59), 99)),
]


def fmt(key__meta_acc):
    key, (meta, acc) = key__meta_acc
    return (key, (meta.open_time.isoformat(), meta.close_time.isoformat(), acc))


flow = Dataflow("tumbling")
inp = op.input("inp", flow, TestingSource(READINGS))
clock = EventClockConfig(lambda reading: reading[0], wait_for_system_duration=timedelta(minutes=2))
windower = TumblingWindow(length=timedelta(minutes=1), align_to=datetime(2024, 3, 1, tzinfo=timezone.utc))
values = win.fold_window("values", inp, clock, windower, list, lambda acc, r: acc + [r[1]])
op.output("out", op.map("fmt", values, fmt), StdOutSink())
