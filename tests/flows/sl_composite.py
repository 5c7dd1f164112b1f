"""User-defined composite operators with `@operator`: nested composites,
a composite used twice, one returning a dataclass of two streams, one
returning None (it ends in an output), and inspect step ids inside them."""

from dataclasses import dataclass

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow, Stream, operator
from bytewax.testing import TestingSource


@operator
def add_n(step_id: str, up: Stream, n: int) -> Stream:
    return op.map("add", up, lambda x: x + n)


@operator
def add_then_double(step_id: str, up: Stream, n: int = 1) -> Stream:
    added = add_n("add_n", up, n)
    doubled = op.map("double", added, lambda x: x * 2)
    return op.inspect("checkpoint", doubled)


@dataclass(frozen=True)
class SignOut:
    positive: Stream
    non_positive: Stream


@operator
def split_sign(step_id: str, up: Stream) -> SignOut:
    b = op.branch("branch", up, lambda x: x > 0)
    return SignOut(b.trues, b.falses)


@operator
def print_tagged(step_id: str, up: Stream, tag: str) -> None:
    tagged = op.map("tag", up, lambda x: f"{tag}:{x}")
    op.output("stdout", tagged, StdOutSink())


@operator
def pipeline(step_id: str, up: Stream) -> None:
    processed = add_then_double("process", up, n=3)
    signs = split_sign("signs", processed)
    print_tagged("pos", signs.positive, "pos")
    print_tagged("nonpos", signs.non_positive, "nonpos")


flow = Dataflow("composite")
nums = op.input("inp", flow, TestingSource([-5, -3, -1, 0, 2, 7]))
pipeline("main", nums)
# The same composite used again at the top level with another step id.
again = add_then_double("again", nums)
op.output("out_again", again, StdOutSink())
