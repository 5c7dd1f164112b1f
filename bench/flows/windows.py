"""windows: event-time tumbling windows.

BENCH_N events (default 1M) over BENCH_KEYS keys (default 100); event
i has key `k{i % KEYS}`, value i and timestamp BASE + i * BENCH_STEP_MS
(default 10 ms), so 1-minute windows hold 6,000 events (60 per key)
and the run spans 167 windows. An EventClockConfig (wait 0) and a
1-minute TumblingWindow drive `fold_window` (sum of values) and
`count_window` in the same flow. Measures the windowing machinery:
clock/watermark per item, window assignment, and window closing.
Outputs: one (key, (meta, sum)) and one (key, (meta, count)) per key
and window; checksums are the sum of sums and the sum of counts.
"""

import os
import sys
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bytewax.operators as op  # noqa: E402
import bytewax.operators.window as win  # noqa: E402
from bytewax.dataflow import Dataflow  # noqa: E402
from bytewax.operators.window import EventClockConfig, TumblingWindow  # noqa: E402
from bytewax.testing import TestingSource  # noqa: E402

from _benchlib import CountingSink, env_int  # noqa: E402

N = env_int("BENCH_N", 1_000_000)
KEYS = env_int("BENCH_KEYS", 100)
STEP_MS = env_int("BENCH_STEP_MS", 10)
BATCH = env_int("BENCH_BATCH", 1000)
BASE = datetime(2024, 1, 1, tzinfo=timezone.utc)
STEP = timedelta(milliseconds=STEP_MS)


def make_event(i):
    return (f"k{i % KEYS}", BASE + i * STEP, i)


def event_key(e):
    return e[0]


def event_time(e):
    return e[1]


def add_value(total, e):
    return total + e[2]


def window_value(key_meta_value):
    return key_meta_value[1][1]


flow = Dataflow("bench_windows")
nums = op.input("inp", flow, TestingSource(range(N), batch_size=BATCH))
events = op.map("make_event", nums, make_event)
clock = EventClockConfig(event_time, wait_for_system_duration=timedelta(0))
windower = TumblingWindow(length=timedelta(minutes=1), align_to=BASE)

keyed = op.key_on("key", events, event_key)
sums = win.fold_window("sum", keyed, clock, windower, lambda: 0, add_value)
counts = win.count_window("count", events, clock, windower, event_key)
op.output("out_sum", sums, CountingSink("sum", checksum=window_value))
op.output("out_count", counts, CountingSink("count", checksum=window_value))
