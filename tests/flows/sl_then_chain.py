"""A long fluent chain built with `Stream.then`, passing extra positional
and keyword arguments through it."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

flow = Dataflow("then_chain")
(
    op.input("inp", flow, TestingSource(["apple pie", "banana", "cherry tart", "date"]))
    .then(op.flat_map, "words", str.split)
    .then(op.filter, "long", lambda w: len(w) > 3)
    .then(op.map, "upper", mapper=str.upper)
    .then(op.key_on, "first_letter", key=lambda w: w[0])
    .then(op.map_value, "length", lambda w: (w, len(w)))
    .then(op.inspect, "peek")
    .then(op.output, "out", StdOutSink())
)

# `then` with a stateful keyed operator at the end of the chain.
(
    op.input("inp2", flow, TestingSource([("k", 1), ("k", 2), ("j", 5), ("k", 3)]))
    .then(op.reduce_final, "sum", lambda a, b: a + b)
    .then(op.map, "fmt", lambda kv: f"{kv[0]}={kv[1]}")
    .then(op.output, "out2", StdOutSink())
)
