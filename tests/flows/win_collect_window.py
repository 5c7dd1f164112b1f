"""collect_window into a list (arrival order, out-of-order item included
where it arrived), a set (duplicates collapse) and a dict (a later value
for the same dict key wins)."""

from datetime import datetime, timedelta, timezone

import bytewax.operators as op
import bytewax.operators.window as win
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

BASE = datetime(2024, 3, 1, 6, 0, 0, tzinfo=timezone.utc)


def fmt(key__meta_acc):
    key, (meta, acc) = key__meta_acc
    return (key, (meta.open_time.isoformat(), meta.close_time.isoformat(), acc))


flow = Dataflow("collect_window")
windower = win.TumblingWindow(length=timedelta(minutes=1), align_to=datetime(2024, 3, 1, tzinfo=timezone.utc))

# List: values carry their own time.
TAGS = [
    ("post1", (BASE + timedelta(seconds=5), "red")),
    ("post1", (BASE + timedelta(seconds=25), "blue")),
    ("post2", (BASE + timedelta(seconds=30), "red")),
    ("post1", (BASE + timedelta(seconds=15), "red")),
    ("post1", (BASE + timedelta(seconds=65), "green")),
    ("post2", (BASE + timedelta(seconds=40), "red")),
]
tags = op.input("tags", flow, TestingSource(TAGS))
tag_clock = win.EventClockConfig(lambda t: t[0], wait_for_system_duration=timedelta(minutes=5))
as_list = win.collect_window("as_list", tags, tag_clock, windower)
as_list = op.map_value("names", as_list, lambda m_l: (m_l[0], ("list", [t[1] for t in m_l[1]])))
op.output("out_list", op.map("fmt_list", as_list, fmt), StdOutSink())

# Set: values are second offsets from BASE; repeats collapse.
OFFSETS = [("s", 5), ("s", 25), ("s", 5), ("s", 59), ("s", 25), ("s", 61), ("t", 3), ("t", 3)]
offsets = op.input("offsets", flow, TestingSource(OFFSETS))
offset_clock = win.EventClockConfig(
    lambda secs: BASE + timedelta(seconds=secs), wait_for_system_duration=timedelta(minutes=5)
)
as_set = win.collect_window("as_set", offsets, offset_clock, windower, into=set)
# Print sets sorted so the text does not depend on hash order.
as_set = op.map_value("sort_set", as_set, lambda m_s: (m_s[0], ("set", sorted(m_s[1]))))
op.output("out_set", op.map("fmt_set", as_set, fmt), StdOutSink())

# Dict: values are `(dict_key, second_offset)` pairs.
PAIRS = [("d", ("x", 10)), ("d", ("y", 20)), ("d", ("x", 30)), ("d", ("z", 70)), ("e", ("x", 1))]
pairs = op.input("pairs", flow, TestingSource(PAIRS))
pair_clock = win.EventClockConfig(
    lambda kv: BASE + timedelta(seconds=kv[1]), wait_for_system_duration=timedelta(minutes=5)
)
as_dict = win.collect_window("as_dict", pairs, pair_clock, windower, into=dict)
op.output("out_dict", op.map("fmt_dict", as_dict, fmt), StdOutSink())
