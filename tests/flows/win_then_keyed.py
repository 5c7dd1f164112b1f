"""Window results feeding further keyed steps: hourly counts per page
via count_window, then the busiest hour per page with max_final and the
total over all windows with reduce_final."""

from datetime import datetime, timedelta, timezone

import bytewax.operators as op
import bytewax.operators.window as win
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

BASE = datetime(2024, 3, 1, 0, 0, 0, tzinfo=timezone.utc)
MINUTES = {
    "home": [5, 10, 70, 75, 80, 130],
    "cart": [61, 62, 63, 64, 200],
    "blog": [30],
}
HITS = [(page, BASE + timedelta(minutes=m, seconds=17)) for page, ms in MINUTES.items() for m in ms]

flow = Dataflow("then_keyed")
hits = op.input("inp", flow, TestingSource(HITS))
clock = win.EventClockConfig(lambda hit: hit[1], wait_for_system_duration=timedelta(days=1))
windower = win.TumblingWindow(length=timedelta(hours=1), align_to=BASE)
counts = win.count_window("hourly", hits, clock, windower, lambda hit: hit[0])
# Replace the metadata with its open hour, so later steps need no WindowMetadata.
hourly = op.map_value("hour", counts, lambda m_n: (m_n[0].open_time.hour, m_n[1]))
op.output("out_hourly", op.map("fmt_hourly", hourly, lambda kv: ("hourly",) + kv), StdOutSink())

busiest = op.max_final("busiest", hourly, by=lambda h_n: h_n[1])
op.output("out_busiest", op.map("fmt_busiest", busiest, lambda kv: ("busiest",) + kv), StdOutSink())

totals = op.reduce_final("total", op.map_value("n", hourly, lambda h_n: h_n[1]), lambda a, b: a + b)
op.output("out_total", op.map("fmt_total", totals, lambda kv: ("total",) + kv), StdOutSink())
