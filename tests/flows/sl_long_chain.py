"""A pipeline of 120 steps built in a loop, each with its own step id,
plus a composite applied 30 times in sequence."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow, Stream, operator
from bytewax.testing import TestingSource


@operator
def inc_and_check(step_id: str, up: Stream) -> Stream:
    bumped = op.map("inc", up, lambda x: x + 1)
    return op.filter("positive", bumped, lambda x: x > 0)


flow = Dataflow("long_chain")
stream = op.input("inp", flow, TestingSource([0, 1, -40, 1000]))
for i in range(120):
    stream = op.map(f"step_{i:03d}", stream, lambda x, i=i: x + (1 if i % 2 == 0 else -1) * i)
op.output("out_chain", op.map("tag_chain", stream, lambda x: ("chain", x)), StdOutSink())

nested = op.input("inp2", flow, TestingSource([-20, -5, 0, 7]))
for i in range(30):
    nested = inc_and_check(f"inc_{i}", nested)
op.output("out_nested", op.map("tag_nested", nested, lambda x: ("nested", x)), StdOutSink())
