"""redistribute, then stateless work and an order-independent keyed total.

Which worker handles an item after `redistribute` is random, so only the
multiset of output lines is meaningful."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

flow = Dataflow("redistribute")
nums = op.input("inp", flow, TestingSource(range(20)))
spread = op.redistribute("spread", nums)
squares = op.map("square", spread, lambda x: x * x)
op.output("out_squares", squares, StdOutSink())

# Sums do not depend on the order items reach the key's worker.
keyed = op.key_on("parity", squares, lambda x: "even" if x % 2 == 0 else "odd")
totals = op.reduce_final("sum", keyed, lambda a, b: a + b)
op.output("out_totals", totals, StdOutSink())
