"""join_named, complete and running. Output dicts follow the keyword
order of the sides and leave out sides with no value yet (a `None`
value is a value). Running results for multi-side keys are summarised
as in kd_join_running, since their intermediate emissions depend on
input interleaving."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

flow = Dataflow("join_named")
names = op.input("names", flow, TestingSource([("1", "ann"), ("2", "bob"), ("3", None), ("solo", "x")]))
cities = op.input("cities", flow, TestingSource([("2", "Oslo"), ("1", "Lima"), ("3", "Rome"), ("4", "Pisa")]))
zips = op.input("zips", flow, TestingSource([("1", 10), ("3", 30)]))

complete = op.join_named("complete", name=names, city=cities)
op.output("out_complete", op.map("fmt_complete", complete, lambda kv: ("complete",) + kv), StdOutSink())

# Keyword order, not alphabetical order, decides the dict order.
complete3 = op.join_named("complete3", zip=zips, name=names, city=cities)
op.output("out_complete3", op.map("fmt_complete3", complete3, lambda kv: ("complete3",) + kv), StdOutSink())

running = op.join_named("running", running=True, name=names, city=cities, zip=zips)
solo = op.filter("solo", running, lambda kv: kv[0] in ("solo", "4"))
op.output("out_solo", op.map("fmt_solo", solo, lambda kv: ("running_solo",) + kv), StdOutSink())
n = op.count_final("count", running, lambda kv: kv[0])
op.output("out_n", op.map("fmt_n", n, lambda kv: ("running_count",) + kv), StdOutSink())
last = op.fold_final("last", running, lambda: None, lambda acc, v: v)
op.output("out_last", op.map("fmt_last", last, lambda kv: ("running_last",) + kv), StdOutSink())
