"""Flows that produce nothing: an empty source, and a filter that drops
everything before stateful steps and before `raises` (which would fail
the run if any item reached it). The expected output is empty."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

flow = Dataflow("empty")
nothing = op.input("nothing", flow, TestingSource([]))
op.output("out_nothing", nothing, StdOutSink())
op.inspect("inspect_nothing", nothing)

some = op.input("some", flow, TestingSource([("a", 1), ("b", 2)]))
none_left = op.filter("drop_all", some, lambda kv: False)
counted = op.count_final("count", none_left, lambda kv: kv[0])
op.output("out_counted", counted, StdOutSink())
folded = op.fold_final("fold", none_left, list, lambda acc, v: acc + [v])
op.output("out_folded", folded, StdOutSink())
op.raises("must_stay_empty", none_left)
