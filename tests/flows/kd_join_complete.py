"""Complete joins (running=False) of two and three sides fed by separate
inputs. Every key has at most one value per side, so the result does not
depend on how the inputs interleave. `None` counts as a real value; keys
missing a side never produce output."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

flow = Dataflow("join_complete")
users = op.input(
    "users",
    flow,
    TestingSource([("u1", "Ann"), ("u2", "Bob"), ("u3", "Cy"), ("u5", None), ("u6", "Fay")]),
)
emails = op.input(
    "emails",
    flow,
    TestingSource([("u2", "bob@x"), ("u1", "ann@x"), ("u4", "dee@x"), ("u5", "eve@x")]),
)
ages = op.input("ages", flow, TestingSource([("u1", 31), ("u5", 0), ("u6", 60), ("u7", 7)]))

two = op.join("join2", users, emails)
op.output("out2", op.map("fmt2", two, lambda kv: ("two",) + kv), StdOutSink())

three = op.join("join3", users, emails, ages)
op.output("out3", op.map("fmt3", three, lambda kv: ("three",) + kv), StdOutSink())

# Argument order decides the tuple order.
swapped = op.join("join_swapped", ages, users)
op.output("out_swapped", op.map("fmt_swapped", swapped, lambda kv: ("swapped",) + kv), StdOutSink())
