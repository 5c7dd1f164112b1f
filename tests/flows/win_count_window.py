"""count_window over an un-keyed stream with a key function; many keys,
all windows closing only at EOF (the wait is a whole day)."""

from datetime import datetime, timedelta, timezone

import bytewax.operators as op
import bytewax.operators.window as win
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

BASE = datetime(2024, 3, 1, 8, 0, 0, tzinfo=timezone.utc)
PAGES = ["home", "about", "home", "cart", "home", "about", "blog", "cart", "home"]
# One hit every 17 minutes and 13 seconds.
HITS = [{"page": p, "at": BASE + i * timedelta(minutes=17, seconds=13)} for i, p in enumerate(PAGES)]


def fmt(key__meta_acc):
    key, (meta, acc) = key__meta_acc
    return (key, (meta.open_time.isoformat(), meta.close_time.isoformat(), acc))


flow = Dataflow("count_window")
hits = op.input("inp", flow, TestingSource(HITS))
clock = win.EventClockConfig(lambda h: h["at"], wait_for_system_duration=timedelta(days=1))
windower = win.TumblingWindow(length=timedelta(hours=1), align_to=datetime(2024, 3, 1, tzinfo=timezone.utc))
counts = win.count_window("count", hits, clock, windower, lambda h: h["page"])
op.output("out", op.map("fmt", counts, fmt), StdOutSink())
