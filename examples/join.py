"""Join two streams by key: each user's name with their email.

Run it:

    bytewax run examples/join.py

A complete join waits until every side has a value for a key, then emits
them together. It prints:

    ('1', ('Ada', 'ada@example.com'))
    ('2', ('Grace', 'grace@example.com'))

User 3 has no email, so nothing is emitted for it.
"""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

NAMES = [("1", "Ada"), ("2", "Grace"), ("3", "Edsger")]
EMAILS = [("2", "grace@example.com"), ("1", "ada@example.com")]

flow = Dataflow("join")
names = op.input("names", flow, TestingSource(NAMES))
emails = op.input("emails", flow, TestingSource(EMAILS))
joined = op.join("join", names, emails)
op.output("out", joined, StdOutSink())
