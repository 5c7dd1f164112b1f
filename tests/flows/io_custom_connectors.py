"""User-written connectors: a FixedPartitionedSource with three
partitions (each announces when it is closed), a DynamicSource where
every worker reads its own slice of a range, a DynamicSink that prints
with a prefix, and a FixedPartitionedSink with two partitions chosen by
`part_fn`. Each sink partition receives at least one item."""

from typing import List

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import (
    DynamicSource,
    FixedPartitionedSource,
    StatefulSourcePartition,
    StatelessSourcePartition,
    batch,
)
from bytewax.outputs import (
    DynamicSink,
    FixedPartitionedSink,
    StatefulSinkPartition,
    StatelessSinkPartition,
)

LETTERS = {"p0": "abc", "p1": "de", "p2": ""}


class LetterPartition(StatefulSourcePartition):
    def __init__(self, name, resume_state):
        self._name = name
        self._pos = resume_state or 0
        self._batches = batch(LETTERS[name][self._pos :], 2)

    def next_batch(self, sched):
        items = next(self._batches)  # StopIteration at the end means EOF
        self._pos += len(items)
        return [(self._name, x) for x in items]

    def snapshot(self):
        return self._pos

    def close(self):
        print(f"closed source partition {self._name}", flush=True)


class LetterSource(FixedPartitionedSource):
    def list_parts(self) -> List[str]:
        return sorted(LETTERS)

    def build_part(self, now, for_part, resume_state):
        return LetterPartition(for_part, resume_state)


class SlicePartition(StatelessSourcePartition):
    def __init__(self, worker_index, worker_count):
        self._it = iter(range(worker_index, 10, worker_count))

    def next_batch(self, sched):
        return [next(self._it)]


class SliceSource(DynamicSource):
    def build(self, now, worker_index, worker_count):
        return SlicePartition(worker_index, worker_count)


class PrefixPartition(StatelessSinkPartition):
    def __init__(self, prefix):
        self._prefix = prefix

    def write_batch(self, items):
        for item in items:
            print(f"{self._prefix} {item!r}", flush=True)


class PrefixSink(DynamicSink):
    def __init__(self, prefix):
        self._prefix = prefix

    def build(self, worker_index, worker_count):
        return PrefixPartition(self._prefix)


class ParityPartition(StatefulSinkPartition):
    def __init__(self, name):
        self._name = name
        self._written = 0

    def write_batch(self, values):
        for v in values:
            self._written += 1
            print(f"partition {self._name} got {v!r}", flush=True)

    def snapshot(self):
        return self._written

    def close(self):
        print(f"closed sink partition {self._name}", flush=True)


class ParitySink(FixedPartitionedSink):
    def list_parts(self):
        return ["odd", "even"]  # the runtime indexes the sorted names

    def part_fn(self, item_key):
        return int(item_key) % 2  # 0 -> "even", 1 -> "odd"

    def build_part(self, for_part, resume_state):
        return ParityPartition(for_part)


flow = Dataflow("custom_connectors")
letters = op.input("letters", flow, LetterSource())
op.output("out_letters", letters, PrefixSink("letter"))

nums = op.input("nums", flow, SliceSource())
op.output("out_nums", nums, PrefixSink("num"))
keyed = op.key_on("key", nums, str)
op.output("out_parity", op.map_value("square", keyed, lambda n: n * n), ParitySink())
