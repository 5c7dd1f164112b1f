"""A hand-written `UnaryLogic` driven by `op.unary`: run-length encoding
per key. Runs are emitted when the value changes, the final run comes
out of `on_eof`, a "reset" item discards the state early (emitting a
tuple rather than a list), and `notify_at` asks for a time far in the
future that is never reached."""

from datetime import datetime, timezone

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.operators import UnaryLogic
from bytewax.testing import TestingSource

FAR_FUTURE = datetime(2200, 1, 1, tzinfo=timezone.utc)


class RunLength(UnaryLogic):
    def __init__(self, state):
        # state is `(value, count)` or None
        self.current = state

    def on_item(self, now, value):
        if value == "reset":
            out = ("reset", self.current)
            return (out,), UnaryLogic.DISCARD
        if self.current is None:
            self.current = (value, 1)
            return [], UnaryLogic.RETAIN
        cur, n = self.current
        if value == cur:
            self.current = (cur, n + 1)
            return [], UnaryLogic.RETAIN
        self.current = (value, 1)
        return [("run", cur, n)], UnaryLogic.RETAIN

    def on_notify(self, sched):
        return [("notified", self.current)], UnaryLogic.RETAIN

    def on_eof(self):
        if self.current is None:
            return [], UnaryLogic.DISCARD
        cur, n = self.current
        return [("final", cur, n)], UnaryLogic.DISCARD

    def notify_at(self):
        return FAR_FUTURE

    def snapshot(self):
        return self.current


def build(now, resume_state):
    return RunLength(resume_state)


flow = Dataflow("unary_logic")
inp = op.input(
    "inp",
    flow,
    TestingSource(
        [
            ("a", "x"),
            ("a", "x"),
            ("b", "y"),
            ("a", "z"),
            ("b", "y"),
            ("c", "reset"),
            ("a", "z"),
            ("a", "z"),
            ("b", "reset"),
            ("b", "w"),
            ("a", "x"),
        ]
    ),
)
runs = op.unary("rle", inp, build)
op.output("out", runs, StdOutSink())
