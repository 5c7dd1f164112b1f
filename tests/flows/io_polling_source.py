"""A SimplePollingSource subclass polled every millisecond: returning
None emits nothing, `Retry` polls again after its own delay, and
StopIteration ends the input. The output does not depend on timing."""

from datetime import timedelta

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.inputs import SimplePollingSource


class Countdown(SimplePollingSource):
    def __init__(self):
        super().__init__(interval=timedelta(milliseconds=1))
        self._calls = 0

    def next_item(self):
        self._calls += 1
        if self._calls == 3:
            return None  # nothing this time
        if self._calls == 5:
            raise SimplePollingSource.Retry(timedelta(milliseconds=2))
        if self._calls > 8:
            raise StopIteration()
        return {"call": self._calls}


flow = Dataflow("polling_source")
polled = op.input("inp", flow, Countdown())
op.output("out", polled, StdOutSink())
