"""key_on, map_value, filter_value and flat_map_value on a keyed stream,
and the `map_dict_value` helper."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.operators.helpers import map_dict_value
from bytewax.testing import TestingSource

EVENTS = [
    {"user": "ann", "action": "login", "n": 1},
    {"user": "bob", "action": "click", "n": 3},
    {"user": "ann", "action": "click", "n": 0},
    {"user": "", "action": "login", "n": 2},
    {"user": "Ünïcode", "action": "buy", "n": 5},
    {"user": "bob", "action": "logout", "n": 1},
]

flow = Dataflow("keyed_stateless")
events = op.input("inp", flow, TestingSource(EVENTS))
# Upper-case the action field of each dict in place.
events = op.map("upper_action", events, map_dict_value("action", str.upper))
keyed = op.key_on("by_user", events, lambda e: e["user"])
op.inspect("keyed", keyed)
counts = op.map_value("get_n", keyed, lambda e: e["n"])
nonzero = op.filter_value("nonzero", counts, lambda n: n > 0)
repeated = op.flat_map_value("repeat", nonzero, lambda n: [n] * min(n, 2))
labelled = op.map_value("label", repeated, lambda n: f"n={n}")
op.output("out", labelled, StdOutSink())
