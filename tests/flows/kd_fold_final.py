"""fold_final: different accumulator types; results appear only at EOF."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

DATA = [("x", 3), ("y", 1), ("x", 1), ("z", 7), ("x", 3), ("y", 2), ("longer key", 0)]

flow = Dataflow("fold_final")
inp = op.input("inp", flow, TestingSource(DATA))

as_list = op.fold_final("as_list", inp, list, lambda acc, v: acc + [v])
op.output("out_list", op.map("fmt_list", as_list, lambda kv: ("list",) + kv), StdOutSink())


def add_to_set(acc, v):
    acc.add(v)
    return acc


as_set = op.fold_final("as_set", inp, set, add_to_set)
op.output("out_set", op.map("fmt_set", as_set, lambda kv: ("set", kv[0], sorted(kv[1]))), StdOutSink())

# Builder returning a non-empty value; folder building a string.
as_str = op.fold_final("as_str", inp, lambda: ">", lambda acc, v: acc + str(v))
op.output("out_str", op.map("fmt_str", as_str, lambda kv: ("str",) + kv), StdOutSink())

# The fold result may be None; it is still emitted.
to_none = op.fold_final("to_none", inp, lambda: 0, lambda acc, v: None)
op.output("out_none", op.map("fmt_none", to_none, lambda kv: ("none",) + kv), StdOutSink())
