"""max_window / min_window, with `by=` and with the default identity."""

from datetime import datetime, timedelta, timezone

import bytewax.operators as op
import bytewax.operators.window as win
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource


def at(h, m, s):
    return datetime(2024, 3, 1, h, m, s, tzinfo=timezone.utc)


READINGS = [
    ("s1", {"at": at(10, 0, 10), "temp": 20.0, "id": 1}),
    ("s1", {"at": at(10, 0, 20), "temp": 22.5, "id": 2}),
    ("s2", {"at": at(10, 0, 30), "temp": -1.0, "id": 3}),
    ("s1", {"at": at(10, 0, 40), "temp": 22.5, "id": 4}),  # ties keep the first
    ("s1", {"at": at(10, 1, 10), "temp": 18.0, "id": 5}),
    ("s2", {"at": at(10, 1, 50), "temp": -4.0, "id": 6}),
]


def fmt(key__meta_acc):
    key, (meta, acc) = key__meta_acc
    return (key, (meta.open_time.isoformat(), meta.close_time.isoformat(), acc))


flow = Dataflow("max_min_window")
inp = op.input("inp", flow, TestingSource(READINGS))
clock = win.EventClockConfig(lambda r: r["at"], wait_for_system_duration=timedelta(minutes=1))
windower = win.TumblingWindow(length=timedelta(minutes=1), align_to=datetime(2024, 3, 1, tzinfo=timezone.utc))

hot = win.max_window("hot", inp, clock, windower, by=lambda r: r["temp"])
hot = op.map_value("hot_id", hot, lambda m_r: (m_r[0], ("max", m_r[1]["id"], m_r[1]["temp"])))
op.output("out_max", op.map("fmt_max", hot, fmt), StdOutSink())

cold = win.min_window("cold", inp, clock, windower, by=lambda r: r["temp"])
cold = op.map_value("cold_id", cold, lambda m_r: (m_r[0], ("min", m_r[1]["id"], m_r[1]["temp"])))
op.output("out_min", op.map("fmt_min", cold, fmt), StdOutSink())

# Default `by`: compare the values themselves (tuples here), which
# need their own clock since the time moved to the third field.
triples = op.map_value("triples", inp, lambda r: (r["temp"], -r["id"], r["at"]))
clock3 = win.EventClockConfig(lambda t: t[2], wait_for_system_duration=timedelta(minutes=1))
top = win.max_window("top", triples, clock3, windower)
top = op.map_value("tag_top", top, lambda m_t: (m_t[0], ("top",) + m_t[1][:2]))
op.output("out_top", op.map("fmt_top", top, fmt), StdOutSink())
bottom = win.min_window("bottom", triples, clock3, windower)
bottom = op.map_value("tag_bottom", bottom, lambda m_t: (m_t[0], ("bottom",) + m_t[1][:2]))
op.output("out_bottom", op.map("fmt_bottom", bottom, fmt), StdOutSink())
