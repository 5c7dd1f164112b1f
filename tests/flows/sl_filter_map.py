"""filter_map drops only `None`; other falsy results (0, "", False, []) pass."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource


def parse(s):
    """Parse an int, or give None for anything that is not one."""
    try:
        return int(s)
    except ValueError:
        return None


def falsy_or_none(x):
    table = {0: 0, 1: "", 2: False, 3: [], 4: None, 5: (), 6: "six"}
    return table[x % 7]


flow = Dataflow("filter_map")
raw = op.input("inp", flow, TestingSource(["1", "x", "22", "", " 7 ", "-3", "3.5", "0"]))
parsed = op.filter_map("parse", raw, parse)
op.output("out_parsed", parsed, StdOutSink())

idx = op.input("inp2", flow, TestingSource(range(10)))
odd = op.filter_map("falsy", idx, falsy_or_none)
tagged = op.map("tag", odd, lambda x: ("falsy", type(x).__name__, x))
op.output("out_falsy", tagged, StdOutSink())
