"""count_final over words, with keys that differ only in case, empty
string key and non-ASCII keys."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

TEXT = "the cat and The dog and the bird  ÉTÉ été été"

flow = Dataflow("count_final")
words = op.input("inp", flow, TestingSource(TEXT.split(" ")))
counts = op.count_final("count", words, lambda w: w)
op.output("out", counts, StdOutSink())

lowered = op.count_final("count_lower", words, lambda w: w.lower())
op.output("out_lower", op.map("tag", lowered, lambda kv: ("lower",) + kv), StdOutSink())

by_len = op.count_final("count_len", words, lambda w: f"len{len(w)}")
op.output("out_len", by_len, StdOutSink())
