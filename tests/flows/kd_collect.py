"""collect: emits a list as soon as it reaches `max_size`, and the
remainder at EOF. The timeout is long enough never to fire."""

from datetime import timedelta

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

DATA = [("a", 1), ("b", 1), ("a", 2), ("a", 3), ("b", 2), ("a", 4), ("c", 1), ("a", 5), ("b", 3), ("b", 4)]

flow = Dataflow("collect")
inp = op.input("inp", flow, TestingSource(DATA))
by3 = op.collect("by3", inp, timeout=timedelta(hours=1), max_size=3)
op.output("out3", op.map("tag3", by3, lambda kv: ("max3",) + kv), StdOutSink())

by1 = op.collect("by1", inp, timeout=timedelta(hours=1), max_size=1)
op.output("out1", op.map("tag1", by1, lambda kv: ("max1",) + kv), StdOutSink())

# Never full: everything comes out at EOF.
big = op.collect("big", inp, timeout=timedelta(days=1), max_size=100)
op.output("out_big", op.map("tag_big", big, lambda kv: ("max100",) + kv), StdOutSink())
