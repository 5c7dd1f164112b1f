"""Event times arrive as ISO 8601 strings in several UTC offsets; the
clock's getter converts them to UTC (the window machinery only accepts
UTC datetimes). Window metadata comes back in UTC."""

from datetime import datetime, timedelta, timezone

import bytewax.operators as op
import bytewax.operators.window as win
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

STAMPS = [
    ("x", "2024-03-01T15:30:20+05:30"),  # 10:00:20 UTC
    ("x", "2024-03-01T05:00:50-05:00"),  # 10:00:50 UTC
    ("x", "2024-03-01T11:01:30+01:00"),  # 10:01:30 UTC
    ("x", "2024-03-01T10:00:59Z"),  # 10:00:59 UTC
    ("y", "2024-03-02T00:01:10+14:00"),  # 10:01:10 UTC on 1 March
    ("y", "2024-03-01T10:03:40.250000+00:00"),
]


def get_time(stamp):
    return datetime.fromisoformat(stamp).astimezone(timezone.utc)


def fmt(key__meta_acc):
    key, (meta, acc) = key__meta_acc
    return (key, (meta.open_time.isoformat(), meta.close_time.isoformat(), acc))


flow = Dataflow("tz_convert")
inp = op.input("inp", flow, TestingSource(STAMPS))
op.inspect("utc", op.map_value("to_utc", inp, lambda s: get_time(s).isoformat()))
clock = win.EventClockConfig(get_time, wait_for_system_duration=timedelta(minutes=1))
windower = win.TumblingWindow(length=timedelta(minutes=1), align_to=datetime(2024, 3, 1, tzinfo=timezone.utc))
stamps = win.collect_window("collect", inp, clock, windower)
op.output("out", op.map("fmt", stamps, fmt), StdOutSink())
