"""`TestingSource.EOF()` in the middle of the input ends this execution
there: items after it are not read, and final-at-EOF operators emit what
they have so far."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

flow = Dataflow("eof_midstream")
inp = op.input(
    "inp",
    flow,
    TestingSource([("a", 1), ("b", 2), ("a", 3), TestingSource.EOF(), ("a", 100), ("c", 5)]),
)
op.inspect("seen", inp)
sums = op.stateful_map("running", inp, lambda: 0, lambda s, v: (s + v, s + v))
op.output("out_running", op.map("fmt_running", sums, lambda kv: ("running",) + kv), StdOutSink())
totals = op.reduce_final("total", inp, lambda a, b: a + b)
op.output("out_total", op.map("fmt_total", totals, lambda kv: ("total",) + kv), StdOutSink())

# A second, independent input keeps running to its own end.
other = op.input("other", flow, TestingSource(["p", "q", TestingSource.EOF(), "r"], batch_size=10))
op.output("out_other", op.map("fmt_other", other, lambda x: ("other", x)), StdOutSink())
