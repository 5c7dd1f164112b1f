"""flat_map with lists, empty results, strings (iterated by character),
generators, tuples, ranges and dict keys."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource


def explode(item):
    kind, payload = item
    if kind == "list":
        return list(payload)
    if kind == "empty":
        return []
    if kind == "str":
        return payload  # a string is iterable: one item per character
    if kind == "gen":
        return (x * x for x in payload)
    if kind == "range":
        return range(payload)
    if kind == "dict":
        return {k: None for k in payload}  # iterates over the keys
    return (kind, payload)  # a tuple: two items


flow = Dataflow("flat_map")
inp = op.input(
    "inp",
    flow,
    TestingSource(
        [
            ("list", [1, 2, 3]),
            ("empty", [9, 9]),
            ("str", "héllo"),
            ("gen", [4, 5]),
            ("range", 3),
            ("range", 0),
            ("dict", ["b", "a"]),
            ("other", None),
            ("str", ""),
        ]
    ),
)
out = op.flat_map("explode", inp, explode)
op.output("out", out, StdOutSink())
