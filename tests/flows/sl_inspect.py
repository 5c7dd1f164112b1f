"""inspect: default printer (repr of the item, composite's step id), a
custom inspector, inspect inside a composite, and inspect as the only
"output" of a branch of the flow."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow, operator
from bytewax.testing import TestingSource


def my_inspector(step_id, item):
    print(f"custom[{step_id}] {type(item).__name__} {item}", flush=True)


@operator
def shout(step_id, up):
    loud = op.map("upper", up, str.upper)
    # The step id printed here is the fully qualified inner id.
    return op.inspect("seen", loud)


flow = Dataflow("inspect")
words = op.input("inp", flow, TestingSource(["hi", "there", "", "q'uote", 'd"q']))
# Default inspector prints `step_id: repr(item)`.
seen = op.inspect("raw", words)
lengths = op.map("len", seen, len)
op.inspect("lengths", lengths, my_inspector)
loud = shout("shout", words)
op.output("out", loud, StdOutSink())

# Keyed items and tuples through the default inspector; no sink here.
keyed = op.key_on("key", words, lambda w: w[:1] or "empty")
op.inspect("keyed", keyed)
