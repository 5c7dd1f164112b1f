"""stateful_map returning `None` as the new state discards it: the next
item for that key starts again from the builder."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource


def builder():
    return []


def session(acc, event):
    """Collect events until an "end" event, then emit and reset."""
    if event == "end":
        return None, ("closed", acc)
    acc = acc + [event]
    return acc, ("open", len(acc))


def emit_none(state, x):
    # Emitting None is fine; it is just an item.
    return state, None


flow = Dataflow("stateful_map_discard")
inp = op.input(
    "inp",
    flow,
    TestingSource(
        [
            ("u1", "login"),
            ("u2", "login"),
            ("u1", "view"),
            ("u1", "end"),
            ("u2", "end"),
            ("u1", "login"),
            ("u3", "end"),
            ("u1", "end"),
            ("u1", "end"),
            ("u2", "view"),
        ]
    ),
)
sessions = op.stateful_map("sessions", inp, builder, session)
op.output("out", sessions, StdOutSink())
nones = op.stateful_map("nones", inp, lambda: 0, emit_none)
op.output("out_nones", op.map("fmt_none", nones, lambda kv: f"none-emitter {kv}"), StdOutSink())
