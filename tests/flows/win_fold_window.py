"""fold_window with a mutable dict accumulator (fresh per window), on
15 minute tumbling windows aligned to a quarter past the hour."""

from datetime import datetime, timedelta, timezone

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.operators.window import EventClockConfig, TumblingWindow, fold_window
from bytewax.testing import TestingSource


def at(h, m, s):
    return datetime(2024, 3, 1, h, m, s, tzinfo=timezone.utc)


TRADES = [
    {"sym": "ABC", "at": at(9, 15, 10), "px": 10.0, "qty": 5},
    {"sym": "XYZ", "at": at(9, 16, 20), "px": 99.5, "qty": 1},
    {"sym": "ABC", "at": at(9, 29, 50), "px": 10.5, "qty": 2},
    {"sym": "ABC", "at": at(9, 20, 5), "px": 9.5, "qty": 1},
    {"sym": "ABC", "at": at(9, 30, 10), "px": 11.0, "qty": 4},
    {"sym": "XYZ", "at": at(10, 1, 40), "px": 98.0, "qty": 3},
    {"sym": "ABC", "at": at(9, 44, 30), "px": 12.0, "qty": 1},
]


def new_stats():
    return {"n": 0, "qty": 0, "lo": None, "hi": None}


def add_trade(stats, trade):
    stats["n"] += 1
    stats["qty"] += trade["qty"]
    px = trade["px"]
    stats["lo"] = px if stats["lo"] is None else min(stats["lo"], px)
    stats["hi"] = px if stats["hi"] is None else max(stats["hi"], px)
    return stats


def fmt(key__meta_acc):
    key, (meta, acc) = key__meta_acc
    return (key, (meta.open_time.isoformat(), meta.close_time.isoformat(), acc))


flow = Dataflow("fold_window")
trades = op.input("inp", flow, TestingSource(TRADES))
keyed = op.key_on("by_sym", trades, lambda t: t["sym"])
clock = EventClockConfig(lambda t: t["at"], wait_for_system_duration=timedelta(minutes=10))
windower = TumblingWindow(length=timedelta(minutes=15), align_to=datetime(2024, 3, 1, 0, 15, tzinfo=timezone.utc))
stats = fold_window("stats", keyed, clock, windower, new_stats, add_trade)
op.output("out", op.map("fmt", stats, fmt), StdOutSink())
