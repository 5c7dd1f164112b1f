"""flat_map_batch with mappers whose output does not depend on how the
items were grouped into batches."""

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource


def odd_times_ten(batch):
    return [x * 10 for x in batch if x % 2 == 1]


def pairs(batch):
    # Return a generator instead of a list.
    for x in batch:
        yield (x, -x)


def nothing(batch):
    return []


flow = Dataflow("flat_map_batch")
nums = op.input("inp", flow, TestingSource(range(9), batch_size=4))
odd = op.flat_map_batch("odd_times_ten", nums, odd_times_ten)
op.output("out_odd", odd, StdOutSink())

paired = op.flat_map_batch("pairs", nums, pairs)
op.output("out_pairs", paired, StdOutSink())

# A mapper that drops whole batches.
empty = op.flat_map_batch("nothing", nums, nothing)
op.output("out_nothing", empty, StdOutSink())

# A tuple is an acceptable iterable to return, too.
as_tuple = op.flat_map_batch("as_tuple", nums, lambda b: tuple(f"t{x}" for x in b if x < 3))
op.output("out_tuple", as_tuple, StdOutSink())
