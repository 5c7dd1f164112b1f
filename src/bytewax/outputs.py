"""Interfaces for writing data out of a dataflow.

A sink is handed to `bytewax.operators.output`. There are two kinds:

- `FixedPartitionedSink`: the destination is split into a fixed set of
  named partitions (files, topic partitions, ...). Items must be
  `(key, value)` 2-tuples; the key picks the partition and only the value
  is written. Each partition is written by exactly one worker, and can
  report a snapshot so that a recovered flow resumes writing at the right
  place (for example, truncating a file to its last committed length).
- `DynamicSink`: every worker writes through its own partition, whatever
  items reach it. Good for destinations that accept concurrent writers.

"""

import zlib
from abc import ABC, abstractmethod
from typing import Generic, List, Optional, Tuple, TypeVar

__all__ = [
    "DynamicSink",
    "FixedPartitionedSink",
    "Sink",
    "StatefulSinkPartition",
    "StatelessSinkPartition",
]

X = TypeVar("X")
S = TypeVar("S")


class Sink(ABC, Generic[X]):  # noqa: B024
    """Base class of every sink.

    Don't subclass it directly: derive from `FixedPartitionedSink` or
    `DynamicSink`, which are the two kinds the runtime knows how to
    write to.

    """


class StatefulSinkPartition(ABC, Generic[X, S]):
    """One partition of a `FixedPartitionedSink`, able to resume."""

    @abstractmethod
    def write_batch(self, values: List[X]) -> None:
        """Write a batch of values (keys already removed)."""
        ...

    @abstractmethod
    def snapshot(self) -> S:
        """Where this partition is, as something `build_part` can resume from.

        Called at the end of each epoch in which the partition was
        written to. The value is stored by recovery, so it must be
        picklable and must not be mutated afterwards.

        """
        ...

    def close(self) -> None:
        """Release resources once the partition is done. Default: nothing."""
        return None


class FixedPartitionedSink(Sink[Tuple[str, X]], Generic[X, S]):
    """A sink split into a fixed set of named, resumable partitions.

    Items must be `(key, value)` 2-tuples with a `str` key. `part_fn`
    maps the key to an integer, which (modulo the number of partitions)
    indexes the sorted list of all partition names.

    """

    @abstractmethod
    def list_parts(self) -> List[str]:
        """Names of the partitions this worker can write to."""
        ...

    def part_fn(self, item_key: str) -> int:
        """Pick a partition for a key; by default a stable hash of the key.

        Override it to control which partition each key lands in. The
        result is taken modulo the number of partitions.

        >>> class Example(FixedPartitionedSink):
        ...     def list_parts(self):
        ...         return []
        ...     def build_part(self, for_part, resume_state):
        ...         raise NotImplementedError()
        >>> Example().part_fn("a") == Example().part_fn("a")
        True

        """
        return zlib.adler32(item_key.encode())

    @abstractmethod
    def build_part(
        self,
        for_part: str,
        resume_state: Optional[S],
    ) -> StatefulSinkPartition[X, S]:
        """Open one partition.

        `resume_state` is the partition's last snapshot when resuming, or
        `None` to start afresh.

        """
        ...


class StatelessSinkPartition(ABC, Generic[X]):
    """The partition a `DynamicSink` builds on each worker."""

    @abstractmethod
    def write_batch(self, items: List[X]) -> None:
        """Write a batch of items."""
        ...

    def close(self) -> None:
        """Release resources once the partition is done. Default: nothing."""
        return None


class DynamicSink(Sink[X]):
    """A sink where every worker writes through its own partition."""

    @abstractmethod
    def build(self, worker_index: int, worker_count: int) -> StatelessSinkPartition[X]:
        """Build the partition for worker `worker_index` of `worker_count`."""
        ...
