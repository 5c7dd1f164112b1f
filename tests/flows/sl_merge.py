"""merge with two and three upstreams, and merging a stream with a mapped
copy of itself."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

flow = Dataflow("merge")
a = op.input("a", flow, TestingSource(["a1", "a2", "a3"]))
b = op.input("b", flow, TestingSource(["b1", "b2"]))
c = op.input("c", flow, TestingSource([]))
d = op.input("d", flow, TestingSource(["d1"]))

two = op.merge("merge_two", a, b)
op.output("out_two", op.map("tag_two", two, lambda x: f"two:{x}"), StdOutSink())

three = op.merge("merge_three", b, c, d)
op.output("out_three", op.map("tag_three", three, lambda x: f"three:{x}"), StdOutSink())

# A single upstream is allowed too.
one = op.merge("merge_one", d)
op.output("out_one", op.map("tag_one", one, lambda x: f"one:{x}"), StdOutSink())

# A stream merged with a transformed copy of itself.
upper = op.map("upper", a, str.upper)
self_merge = op.merge("merge_self", a, upper)
op.output("out_self", op.map("tag_self", self_merge, lambda x: f"self:{x}"), StdOutSink())

# The same stream passed twice: every item arrives twice.
dup = op.merge("merge_dup", d, d)
op.output("out_dup", op.map("tag_dup", dup, lambda x: f"dup:{x}"), StdOutSink())
