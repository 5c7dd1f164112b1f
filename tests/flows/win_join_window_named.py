"""join_window_named over sliding windows (20 minutes every 10), sides
from separate inputs, product False and True. Dicts follow keyword
order and leave out sides with no value in the window. The clock waits
a whole day, so all windows close at EOF."""

from datetime import datetime, timedelta, timezone

import bytewax.operators as op
import bytewax.operators.window as win
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource


def at(m, s):
    return datetime(2024, 3, 1, 14, m, s, tzinfo=timezone.utc)


def fmt(key__meta_acc):
    key, (meta, acc) = key__meta_acc
    return (key, (meta.open_time.isoformat(), meta.close_time.isoformat(), acc))


flow = Dataflow("join_window_named")
temps = op.input(
    "temps",
    flow,
    TestingSource([("room", (at(1, 0), 20.5)), ("room", (at(12, 30), 21.0)), ("hall", (at(25, 45), 18.0))]),
)
hums = op.input(
    "hums",
    flow,
    TestingSource([("room", (at(8, 15), 40)), ("room", (at(4, 0), 45)), ("room", (at(31, 5), 50))]),
)

clock = win.EventClockConfig(lambda e: e[0], wait_for_system_duration=timedelta(days=1))
windower = win.SlidingWindow(
    length=timedelta(minutes=20),
    offset=timedelta(minutes=10),
    align_to=datetime(2024, 3, 1, tzinfo=timezone.utc),
)


def values(m_d):
    meta, d = m_d
    return (meta, {name: v[1] for name, v in d.items()})


latest = win.join_window_named("latest", clock, windower, temp=temps, hum=hums)
op.output("out_latest", op.map("fmt_latest", op.map_value("v1", latest, values), fmt), StdOutSink())

product = win.join_window_named("product", clock, windower, product=True, hum=hums, temp=temps)
op.output("out_product", op.map("fmt_product", op.map_value("v2", product, values), fmt), StdOutSink())
