"""Running joins (running=True) of two and three sides.

Keys present on one side only are printed as they are emitted (their
sequence does not depend on input interleaving). For keys present on
several sides, the intermediate emissions depend on how the inputs
interleave, so only order-independent facts are printed: how many
times each key was emitted (once per input value) and the last emitted
tuple (the latest value of every side)."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

flow = Dataflow("join_running")
left = op.input("left", flow, TestingSource([("solo_l", 1), ("k", 1), ("solo_l", 2), ("k", 2), ("m", "x")]))
right = op.input("right", flow, TestingSource([("k", "a"), ("solo_r", None), ("k", "b"), ("k", "c")]))
third = op.input("third", flow, TestingSource([("m", 3.5), ("k", True)]))

running2 = op.join("running2", left, right, running=True)
solo2 = op.filter("solo2", running2, lambda kv: kv[0].startswith("solo"))
op.output("out_solo2", op.map("fmt_solo2", solo2, lambda kv: ("solo2",) + kv), StdOutSink())
n2 = op.count_final("count2", running2, lambda kv: kv[0])
op.output("out_n2", op.map("fmt_n2", n2, lambda kv: ("count2",) + kv), StdOutSink())
last2 = op.fold_final("last2", running2, lambda: None, lambda acc, v: v)
op.output("out_last2", op.map("fmt_last2", last2, lambda kv: ("last2",) + kv), StdOutSink())

running3 = op.join("running3", left, right, third, running=True)
solo3 = op.filter("solo3", running3, lambda kv: kv[0].startswith("solo"))
op.output("out_solo3", op.map("fmt_solo3", solo3, lambda kv: ("solo3",) + kv), StdOutSink())
n3 = op.count_final("count3", running3, lambda kv: kv[0])
op.output("out_n3", op.map("fmt_n3", n3, lambda kv: ("count3",) + kv), StdOutSink())
last3 = op.fold_final("last3", running3, lambda: None, lambda acc, v: v)
op.output("out_last3", op.map("fmt_last3", last3, lambda kv: ("last3",) + kv), StdOutSink())
