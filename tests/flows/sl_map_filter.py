"""map and filter: plain functions, lambdas, builtins and bound methods."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource


def double(x):
    return x * 2


def is_multiple_of_three(x):
    return x % 3 == 0


flow = Dataflow("map_filter")
nums = op.input("inp", flow, TestingSource(range(-5, 13)))
doubled = op.map("double", nums, double)
# Keep only multiples of three (negative ones and zero included).
threes = op.filter("threes", doubled, is_multiple_of_three)
# A builtin as the mapper.
as_text = op.map("as_text", threes, str)
# A bound method as the mapper.
padded = op.map("padded", as_text, "<{}>".format)
# Filter that drops nothing, then one that keeps everything but "<0>".
kept = op.filter("keep_all", padded, lambda s: True)
no_zero = op.filter("no_zero", kept, lambda s: s != "<0>")
op.output("out", no_zero, StdOutSink())
