"""Helpers for testing dataflows.

`TestingSource` feeds a flow from any Python iterable and `TestingSink`
collects what reaches it into a list, so a test can build a flow, run it
with `run_main` and look at the list:

>>> import bytewax.operators as op
>>> from bytewax.dataflow import Dataflow
>>> from bytewax.testing import TestingSink, TestingSource, run_main
>>> flow = Dataflow("testing_eg")
>>> s = op.input("inp", flow, TestingSource([1, 2, 3]))
>>> s = op.map("double", s, lambda x: x * 2)
>>> out = []
>>> op.output("out", s, TestingSink(out))
>>> run_main(flow)
>>> out
[2, 4, 6]

`run_main` runs a single worker in the calling thread; `cluster_main`
runs several worker threads and/or processes; `test_cluster` starts a
whole local cluster of processes.

Running this module (`python -m bytewax.testing app:flow`) runs a flow
like `bytewax run` does.

"""

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import islice
from operator import countOf
from typing import Any, Iterable, Iterator, List, Optional, TypeVar, Union

from bytewax.bytewax import cluster_main, run_main, test_cluster
from bytewax.inputs import (
    AbortExecution,
    FixedPartitionedSource,
    StatefulSourcePartition,
)
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.recovery import RecoveryConfig  # noqa: F401  (importable from here, as in 0.18)

__all__ = [
    "TestingSink",
    "TestingSource",
    "cluster_main",
    "ffwd_iter",
    "poll_next_batch",
    "run_main",
    "test_cluster",
]

X = TypeVar("X")


def ffwd_iter(it: Iterator[Any], n: int) -> None:
    """Advance an iterator by `n` items, throwing them away.

    >>> it = iter("abcde")
    >>> ffwd_iter(it, 2)
    >>> next(it)
    'c'

    """
    if n > 0:
        next(islice(it, n - 1, n), None)


class _IterSourcePartition(StatefulSourcePartition[X, int]):
    def __init__(self, ib: Iterable[Any], batch_size: int, resume_state: Optional[int]):
        self._it = iter(ib)
        self._batch_size = batch_size
        # Items taken from the iterator but not consumed yet (after a
        # sentinel ended a batch early).
        self._pushback: List[Any] = []
        # Elements of `ib` consumed so far, `ABORT` sentinels excepted: the
        # position is then the same whether a resumed run's list still
        # holds the `ABORT` that stopped the last one or not.
        self._idx = resume_state or 0
        # Exception to raise on the next call (EOF or abort).
        self._raise: Optional[BaseException] = None
        if resume_state is not None:
            self._resume(resume_state)

    def _resume(self, n: int) -> None:
        """Skip `n` counted elements, and the `ABORT`s right after them.

        An `ABORT` at the resume position is the one that stopped the
        previous execution; firing it again in a new process would stop
        every later run at the same place.
        """
        while n > 0:
            chunk = list(islice(self._it, n))
            if not chunk:
                return
            n -= len(chunk) - countOf(_map(type, chunk), TestingSource.ABORT)
        for item in self._it:
            if type(item) is not TestingSource.ABORT:
                self._pushback.append(item)
                return

    def _take(self, n: int) -> List[Any]:
        if self._pushback:
            chunk = self._pushback[:n]
            del self._pushback[:n]
            if len(chunk) < n:
                chunk.extend(islice(self._it, n - len(chunk)))
            return chunk
        return list(islice(self._it, n))

    def next_batch(self, sched: Optional[datetime]) -> List[X]:
        if self._raise is not None:
            ex = self._raise
            self._raise = None
            raise ex
        size = self._batch_size
        chunk = self._take(size)
        if not chunk:
            raise StopIteration()
        # Fast path: no sentinel and no class object in the chunk.
        if _SENTINEL_TYPES.isdisjoint(_map(type, chunk)):
            self._idx += len(chunk)
            return chunk
        out = self._sift(chunk)
        # Skipped sentinels leave room in the batch; top it up.
        while len(out) < size and self._raise is None:
            chunk = self._take(size - len(out))
            if not chunk:
                break
            out.extend(self._sift(chunk))
        if not out and self._raise is None:
            raise StopIteration()
        return out

    def _sift(self, chunk: List[Any]) -> List[X]:
        out = []
        counted = 0
        for i, item in enumerate(chunk):
            if isinstance(item, TestingSource.ABORT):
                # Never counted, fired or not (see `_idx`).
                if not item._triggered:
                    item._triggered = True
                    self._raise = AbortExecution()
            else:
                counted += 1
                if isinstance(item, type):
                    if item is TestingSource.EOF or item is TestingSource.ABORT:
                        name = item.__name__
                        msg = f"`TestingSource.{name}` must be instantiated; use `()`"
                        raise ValueError(msg)
                    out.append(item)
                elif isinstance(item, TestingSource.EOF):
                    self._raise = StopIteration()
                else:
                    out.append(item)
            if self._raise is not None:
                self._idx += counted
                self._pushback[:0] = chunk[i + 1 :]
                return out
        self._idx += counted
        return out

    def snapshot(self) -> int:
        return self._idx


class TestingSource(FixedPartitionedSource[X, int]):
    """Produce the items of an iterable as input to a flow.

    It is a single partition (`"iterable"`), read by one worker, emitting
    up to `batch_size` items per batch. Its resume state is the number of
    elements of the iterable consumed (`ABORT` sentinels excepted), so a
    recovered flow skips what was already read.

    Two sentinel objects can be put in the iterable to drive recovery
    tests; they are consumed but never emitted:

    - `TestingSource.EOF()` ends this execution as if the input were
      exhausted. Running the flow again with recovery continues after it.
    - `TestingSource.ABORT()` stops the execution abruptly, as a crash
      would, without a final snapshot. Each `ABORT` object fires only
      once per Python process, so a rerun in the same process goes past
      it. A resumed run also goes past an `ABORT` found exactly where it
      resumes (the one that stopped the previous run), and removing that
      `ABORT` from the list before resuming skips nothing: it never
      counts in the resume state. Use it only with a single worker.

    The iterable is iterated afresh each time the flow runs (unless it is
    a one-shot iterator).

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> flow = Dataflow("eof_eg")
    >>> inp = [1, 2, TestingSource.EOF(), 3]
    >>> s = op.input("inp", flow, TestingSource(inp))
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    eof_eg.show: 1
    eof_eg.show: 2

    """

    __test__ = False  # not a pytest test class

    @dataclass
    class EOF:
        """Sentinel: end this execution here; a resumed run continues after it."""

    @dataclass
    class ABORT:
        """Sentinel: abort the execution here, once per Python process."""

        _triggered: bool = False

    def __init__(
        self,
        ib: Iterable[Union[X, "TestingSource.EOF", "TestingSource.ABORT"]],
        batch_size: int = 1,
    ):
        """Emit the items of `ib`, `batch_size` at a time."""
        if not isinstance(batch_size, int) or batch_size < 1:
            msg = f"`batch_size` must be a positive `int`; got {batch_size!r}"
            raise ValueError(msg)
        self._ib = ib
        self._batch_size = batch_size

    def list_parts(self) -> List[str]:
        """The single partition, `"iterable"`."""
        return ["iterable"]

    def build_part(
        self,
        now: datetime,
        for_part: str,
        resume_state: Optional[int],
    ) -> _IterSourcePartition[X]:
        """Start iterating, skipping `resume_state` elements."""
        return _IterSourcePartition(self._ib, self._batch_size, resume_state)


_map = map
# Types whose presence in a batch needs the careful path: the sentinels,
# and `type` itself to catch a sentinel class passed without `()`.
_SENTINEL_TYPES = frozenset([TestingSource.EOF, TestingSource.ABORT, type])


class _ListSinkPartition(StatelessSinkPartition[X]):
    def __init__(self, ls: List[X]):
        self._ls = ls

    def write_batch(self, items: List[X]) -> None:
        self._ls += items


class TestingSink(DynamicSink[X]):
    """Append every item that reaches it to a list.

    All workers append to the same list, so with more than one worker the
    order of items from different workers is not defined. The list is not
    cleared between runs.

    """

    __test__ = False  # not a pytest test class

    def __init__(self, ls: List[X]):
        """Append items to `ls`."""
        self._ls = ls

    def build(self, worker_index: int, worker_count: int) -> _ListSinkPartition[X]:
        """Each worker gets a partition appending to the shared list."""
        return _ListSinkPartition(self._ls)


def poll_next_batch(part: Any, timeout: timedelta = timedelta(seconds=5)) -> List[Any]:
    """Call `part.next_batch` until it returns some items.

    For unit tests of a source partition outside of a flow. Raises
    `TimeoutError` if nothing arrives within `timeout`; `StopIteration`
    and other exceptions from the partition propagate.

    >>> from datetime import datetime, timezone
    >>> part = TestingSource(["a", "b"]).build_part(
    ...     datetime.now(timezone.utc), "iterable", None
    ... )
    >>> poll_next_batch(part)
    ['a']

    """
    start = datetime.now(timezone.utc)
    while True:
        now = datetime.now(timezone.utc)
        batch = list(part.next_batch(now))
        if batch:
            return batch
        if now - start > timeout:
            msg = f"no items from {part!r} within {timeout}"
            raise TimeoutError(msg)


if __name__ == "__main__":
    import os
    import sys

    from bytewax.bytewax import _main

    # As in 0.18, this entry point asks for no intervals with `-r`: the
    # epoch is 10 s and the backup interval 0 unless given (a flag still
    # wins over these).
    os.environ.setdefault("BYTEWAX_SNAPSHOT_INTERVAL", "10")
    os.environ.setdefault("BYTEWAX_RECOVERY_BACKUP_INTERVAL", "0")
    sys.exit(_main(["bytewax", "run", *sys.argv[1:]]))
