"""Event-time windows: clicks per user in 5-minute tumbling windows.

Run it:

    bytewax run examples/windowing.py

Each click carries the time it happened; windows are cut by those times,
not by when the click is processed. It prints one line per user and
window, for example:

    alice 10:00-10:05 3 clicks
    alice 10:05-10:10 1 clicks
    bob 10:00-10:05 1 clicks
    bob 10:10-10:15 2 clicks

The late click (`alice` at 10:01, arriving after the watermark passed
10:05 plus the 1-minute wait) is dropped.
"""

from datetime import datetime, timedelta, timezone

import bytewax.operators as op
import bytewax.operators.window as win
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

START = datetime(2024, 6, 1, 10, 0, tzinfo=timezone.utc)


def at(minute, second=0):
    return START + timedelta(minutes=minute, seconds=second)


CLICKS = [
    ("alice", at(0, 10)),
    ("bob", at(1)),
    ("alice", at(2)),
    ("alice", at(4, 59)),
    ("alice", at(7)),
    ("bob", at(11)),
    ("bob", at(13)),
    ("alice", at(1)),  # late: the watermark is already past 10:06
]

flow = Dataflow("windowing")
clicks = op.input("clicks", flow, TestingSource(CLICKS))
clock = win.EventClockConfig(lambda click: click[1], wait_for_system_duration=timedelta(minutes=1))
windows = win.TumblingWindow(length=timedelta(minutes=5), align_to=START)
counts = win.count_window("per_user", clicks, clock, windows, lambda click: click[0])


def show(user__meta_count):
    user, (meta, count) = user__meta_count
    return f"{user} {meta.open_time:%H:%M}-{meta.close_time:%H:%M} {count} clicks"


op.output("out", op.map("show", counts, show), StdOutSink())
