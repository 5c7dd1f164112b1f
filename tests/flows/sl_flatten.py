"""flatten removes exactly one level of nesting."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

flow = Dataflow("flatten")
inp = op.input(
    "inp",
    flow,
    TestingSource(
        [
            [1, 2],
            [],
            ([3, 4], [5]),
            ["ab", "cd"],
            [[[6]]],
            (None, 0),
            "xy",
        ]
    ),
)
once = op.flatten("once", inp)
op.output("out", once, StdOutSink())

# Flattening twice in a row.
nested = op.input("nested_inp", flow, TestingSource([[[1, 2], [3]], [[], [4]], []]))
twice = op.flatten("flat1", nested).then(op.flatten, "flat2")
tagged = op.map("tag", twice, lambda x: f"twice:{x}")
op.output("out2", tagged, StdOutSink())
