"""Session windows (gap 5m10s) with an event clock waiting 20 minutes:
items extending a session, an out-of-order item inside a session's
span, a new session opened between two existing ones, a late item, and
a single-item session (its close time is its only event's time)."""

from datetime import datetime, timedelta, timezone

import bytewax.operators as op
import bytewax.operators.window as win
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource


def at(h, m, s):
    return datetime(2024, 3, 1, h, m, s, tzinfo=timezone.utc)


CLICKS = [
    ("u", (at(10, 0, 30), "v1")),
    ("u", (at(10, 3, 30), "v2")),  # extends the first session
    ("u", (at(10, 2, 30), "v3")),  # out of order, inside the first session
    ("u", (at(10, 20, 30), "v4")),  # a second session
    ("u", (at(10, 12, 30), "v5")),  # a new session between the two, touching neither
    ("u", (at(10, 45, 30), "v6")),  # moves the watermark to 10:25:30
    ("u", (at(10, 21, 30), "v7")),  # late: before the watermark
    ("u", (at(10, 27, 30), "v8")),  # not late; a session of its own
    ("u", (at(10, 47, 0), "v9")),
    ("solo", (at(8, 0, 5), "s1")),
]


def fmt(key__meta_acc):
    key, (meta, acc) = key__meta_acc
    return (key, (meta.open_time.isoformat(), meta.close_time.isoformat(), acc))


flow = Dataflow("session")
inp = op.input("inp", flow, TestingSource(CLICKS))
clock = win.EventClockConfig(lambda c: c[0], wait_for_system_duration=timedelta(minutes=20))
windower = win.SessionWindow(gap=timedelta(minutes=5, seconds=10))
sessions = win.fold_window("sessions", inp, clock, windower, list, lambda acc, c: acc + [c[1]])
op.output("out", op.map("fmt", sessions, fmt), StdOutSink())
