"""max_final / min_final, with and without `by=`; ties keep the first
value seen."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

READINGS = [
    ("s1", {"id": 1, "temp": 20.5}),
    ("s2", {"id": 2, "temp": -3.0}),
    ("s1", {"id": 3, "temp": 25.0}),
    ("s1", {"id": 4, "temp": 25.0}),
    ("s2", {"id": 5, "temp": -3.0}),
    ("s1", {"id": 6, "temp": 19.0}),
    ("s3", {"id": 7, "temp": 0.0}),
]

flow = Dataflow("max_min_final")
inp = op.input("inp", flow, TestingSource(READINGS))
hottest = op.max_final("hottest", inp, by=lambda r: r["temp"])
coldest = op.min_final("coldest", inp, by=lambda r: r["temp"])
op.output("out_max", op.map("fmt_max", hottest, lambda kv: ("max", kv[0], kv[1]["id"], kv[1]["temp"])), StdOutSink())
op.output("out_min", op.map("fmt_min", coldest, lambda kv: ("min", kv[0], kv[1]["id"], kv[1]["temp"])), StdOutSink())

# Without `by`: plain comparison of the values (strings here).
names = op.input("names", flow, TestingSource([("k", "pear"), ("k", "apple"), ("j", "zed"), ("k", "plum")]))
op.output("out_max_str", op.map("t1", op.max_final("max_str", names), lambda kv: ("max_str",) + kv), StdOutSink())
op.output("out_min_str", op.map("t2", op.min_final("min_str", names), lambda kv: ("min_str",) + kv), StdOutSink())
