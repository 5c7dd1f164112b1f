"""How StdOutSink (str) and inspect (repr) render many Python values."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource


@dataclass(frozen=True)
class Point:
    x: int
    y: float


class Custom:
    def __str__(self):
        return "Custom.__str__"

    def __repr__(self):
        return "Custom.__repr__"


ITEMS = [
    None,
    True,
    0,
    -17,
    2**70,
    0.1 + 0.2,
    1e16,
    -0.0,
    float("inf"),
    float("nan"),
    1 + 2j,
    "plain",
    "tab\there",
    "üñíçødé ✓",
    "",
    b"bytes\x00\xff",
    (1,),
    (),
    [1, [2, [3]]],
    {"b": 1, "a": [None]},
    frozenset(),
    Point(1, 2.5),
    Custom(),
    Decimal("1.10"),
    Fraction(3, 6),
    date(2024, 2, 29),
    datetime(2024, 3, 1, 12, 30, tzinfo=timezone.utc),
    timedelta(days=1, seconds=5),
    ("key", {"nested": (1, "two")}),
]

flow = Dataflow("item_types")
items = op.input("inp", flow, TestingSource(ITEMS))
op.inspect("repr", items)
op.output("out", items, StdOutSink())
