"""reduce_final with a commutative reducer (sum), a non-commutative but
associative one (string concatenation keeps arrival order) and a key
seen only once (reducer never called)."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

flow = Dataflow("reduce_final")
inp = op.input(
    "inp",
    flow,
    TestingSource([("a", "1"), ("b", "x"), ("a", "2"), ("a", "3"), ("c", "only"), ("b", "y")], batch_size=2),
)
concat = op.reduce_final("concat", inp, lambda s, v: s + v)
op.output("out_concat", op.map("fmt_concat", concat, lambda kv: f"concat {kv[0]}={kv[1]}"), StdOutSink())

as_int = op.map_value("to_int", op.filter("digits", inp, lambda kv: kv[1].isdigit()), int)
total = op.reduce_final("total", as_int, lambda s, v: s + v)
op.output("out_total", op.map("fmt_total", total, lambda kv: f"total {kv[0]}={kv[1]}"), StdOutSink())

pairs = op.map_value("pair", inp, lambda v: (v,))
tupled = op.reduce_final("tupled", pairs, lambda s, v: s + v)
op.output("out_tupled", op.map("fmt_tupled", tupled, lambda kv: f"tupled {kv}"), StdOutSink())
