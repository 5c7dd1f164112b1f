"""branch: both outputs used, nested branches, a branch where every item
goes one way, and a predicate on non-int items."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

flow = Dataflow("branch")
nums = op.input("inp", flow, TestingSource(range(12)))
split = op.branch("even_odd", nums, lambda x: x % 2 == 0)
evens = op.map("tag_even", split.trues, lambda x: ("even", x))
# Nested branch on the odd side.
odd_split = op.branch("small_big", split.falses, lambda x: x < 6)
small_odds = op.map("tag_small", odd_split.trues, lambda x: ("small_odd", x))
big_odds = op.map("tag_big", odd_split.falses, lambda x: ("big_odd", x))
op.output("out_even", evens, StdOutSink())
op.output("out_small", small_odds, StdOutSink())
op.output("out_big", big_odds, StdOutSink())

# Everything goes to `trues`; `falses` is connected but receives nothing.
words = op.input("words", flow, TestingSource(["a", "bb", "", "ccc"]))
all_true = op.branch("all_true", words, lambda w: isinstance(w, str))
op.output("out_words_true", op.map("wt", all_true.trues, lambda w: f"T:{w!r}"), StdOutSink())
op.output("out_words_false", op.map("wf", all_true.falses, lambda w: f"F:{w!r}"), StdOutSink())
