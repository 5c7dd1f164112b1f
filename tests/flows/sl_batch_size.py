"""TestingSource with various batch sizes and iterable kinds (range,
generator expression, tuple, string); batching must not change results."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

flow = Dataflow("batch_size")
big = op.input("big_batches", flow, TestingSource(range(7), batch_size=100))
op.output("out_big", op.map("tag_big", big, lambda x: ("big", x)), StdOutSink())

three = op.input("three", flow, TestingSource((x * x for x in range(7)), batch_size=3))
op.output("out_three", op.map("tag_three", three, lambda x: ("three", x)), StdOutSink())

chars = op.input("chars", flow, TestingSource("bytewax", batch_size=2))
op.output("out_chars", op.map("tag_chars", chars, lambda x: ("chars", x)), StdOutSink())

# Keyed aggregation after a batched source: sums are batch-independent.
keyed = op.input("keyed", flow, TestingSource([("a", 1), ("b", 10), ("a", 2), ("a", 3), ("b", 20)], batch_size=2))
summed = op.reduce_final("sum", keyed, lambda x, y: x + y)
op.output("out_sum", summed, StdOutSink())
