"""stateful_map: running totals per key, a state that is a mutable list
(copied when emitted), and states of several types."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource


def running_sum(total, x):
    total += x
    return total, total


def remember(seen, x):
    seen.append(x)
    # Emit a copy so later mutation can't change what is printed.
    return seen, (x, tuple(seen))


flow = Dataflow("stateful_map")
inp = op.input(
    "inp",
    flow,
    TestingSource([("a", 1), ("b", 10), ("a", 2), ("c", -1), ("a", 3), ("b", 20), ("c", 0)]),
)
sums = op.stateful_map("running_sum", inp, lambda: 0, running_sum)
op.output("out_sums", op.map("fmt_sum", sums, lambda kv: f"sum {kv[0]} {kv[1]}"), StdOutSink())

history = op.stateful_map("history", inp, list, remember)
op.output("out_history", op.map("fmt_hist", history, lambda kv: f"hist {kv}"), StdOutSink())

# The emitted value need not relate to the state at all; state is a dict.
def count_and_emit_key(state, x):
    state["n"] = state.get("n", 0) + 1
    return state, state["n"] * "*"


stars = op.stateful_map("stars", inp, dict, count_and_emit_key)
op.output("out_stars", op.map("fmt_stars", stars, lambda kv: f"stars {kv}"), StdOutSink())
