"""join_window over 10 minute tumbling windows, sides from separate
inputs. The clock waits a whole day, so nothing is late and every window
closes at EOF; the result then does not depend on input interleaving.
product=False keeps each side's latest value in the window (None for a
side with no value); product=True emits the cartesian product."""

from datetime import datetime, timedelta, timezone

import bytewax.operators as op
import bytewax.operators.window as win
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource


def at(m, s):
    return datetime(2024, 3, 1, 9, m, s, tzinfo=timezone.utc)


def fmt(key__meta_acc):
    key, (meta, acc) = key__meta_acc
    return (key, (meta.open_time.isoformat(), meta.close_time.isoformat(), acc))


flow = Dataflow("join_window")
clicks = op.input(
    "clicks",
    flow,
    TestingSource(
        [
            ("u1", (at(1, 10), "c1")),
            ("u1", (at(2, 20), "c2")),
            ("u2", (at(3, 30), "c3")),
            ("u1", (at(12, 0), "c4")),
            ("u3", (at(14, 5), "c5")),
        ]
    ),
)
views = op.input(
    "views",
    flow,
    TestingSource(
        [
            ("u1", (at(5, 10), "v1")),
            ("u2", (at(15, 10), "v2")),
            ("u1", (at(0, 40), "v3")),
            ("u3", (at(19, 55), "v4")),
            ("u3", (at(11, 5), "v5")),
        ]
    ),
)
buys = op.input("buys", flow, TestingSource([("u1", (at(9, 59), "b1")), ("u3", (at(10, 0), "b2"))]))

clock = win.EventClockConfig(lambda e: e[0], wait_for_system_duration=timedelta(days=1))
windower = win.TumblingWindow(length=timedelta(minutes=10), align_to=datetime(2024, 3, 1, tzinfo=timezone.utc))


def names(m_vals):
    meta, vals = m_vals
    return (meta, tuple(None if v is None else v[1] for v in vals))


latest = win.join_window("latest", clock, windower, clicks, views)
op.output("out_latest", op.map("fmt_latest", op.map_value("n1", latest, names), fmt), StdOutSink())

product = win.join_window("product", clock, windower, clicks, views, product=True)
op.output("out_product", op.map("fmt_product", op.map_value("n2", product, names), fmt), StdOutSink())

three = win.join_window("three", clock, windower, clicks, views, buys)
op.output("out_three", op.map("fmt_three", op.map_value("n3", three, names), fmt), StdOutSink())

three_product = win.join_window("three_product", clock, windower, clicks, views, buys, product=True)
op.output(
    "out_three_product",
    op.map("fmt_three_product", op.map_value("n4", three_product, names), fmt),
    StdOutSink(),
)
