"""Two independent inputs feeding two outputs, with one cross-over: each
output receives items from both inputs."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

flow = Dataflow("two_in_two_out")
letters = op.input("letters", flow, TestingSource(["a", "b", "c", "d"]))
numbers = op.input("numbers", flow, TestingSource([1, 2, 3]))

vowels = op.branch("vowel", letters, lambda c: c in "aeiou")
evens = op.branch("even", numbers, lambda n: n % 2 == 0)

first = op.merge("first_mix", vowels.trues, evens.trues)
second = op.merge("second_mix", vowels.falses, evens.falses)

op.output("out_first", op.map("fmt_first", first, lambda x: f"first {x!r}"), StdOutSink())
op.output("out_second", op.map("fmt_second", second, lambda x: f"second {x!r}"), StdOutSink())
