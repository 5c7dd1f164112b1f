"""Interfaces for reading data into a dataflow.

A source is handed to `bytewax.operators.input`. There are two kinds:

- `FixedPartitionedSource`: the data is split into a fixed set of named
  partitions (files, Kafka partitions, ...). Each partition is read by
  exactly one worker, and the source can report a resume position per
  partition so that a recovered flow continues where it left off.
- `DynamicSource`: every worker builds its own partition, with no resume
  state. Good for data that can't be replayed or is split by the source
  itself (say, a socket per worker).

Sources return items in batches from `next_batch`. Signal the end of the
data with `StopIteration`, or stop the whole execution with
`AbortExecution`. `next_awake` lets a partition say when it wants to be
polled next, so that idle partitions don't busy-loop.

`SimplePollingSource` covers the common case of calling a function every
so often, and `batch`, `batch_getter`, `batch_getter_ex` and
`batch_async` help turn iterators, getter functions and async iterators
into batches.

"""

import queue
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import (
    AsyncIterable,
    Callable,
    Generic,
    Iterable,
    Iterator,
    List,
    Optional,
    Type,
    TypeVar,
    TYPE_CHECKING,
)

from bytewax.bytewax import AbortExecution

if TYPE_CHECKING:
    # asyncio costs ~15 ms to import; only `batch_async` needs it, and it
    # imports it when called.
    import asyncio

__all__ = [
    "AbortExecution",
    "DynamicSource",
    "FixedPartitionedSource",
    "SimplePollingSource",
    "Source",
    "StatefulSourcePartition",
    "StatelessSourcePartition",
    "batch",
    "batch_async",
    "batch_getter",
    "batch_getter_ex",
]

X = TypeVar("X")
S = TypeVar("S")


class Source(ABC, Generic[X]):  # noqa: B024
    """Base class of every source.

    Don't subclass it directly: derive from `FixedPartitionedSource` or
    `DynamicSource`, which are the two kinds the runtime knows how to
    read.

    """


class StatefulSourcePartition(ABC, Generic[X, S]):
    """One partition of a `FixedPartitionedSource`, able to resume."""

    @abstractmethod
    def next_batch(self, sched: Optional[datetime]) -> Iterable[X]:
        """Return the next items of this partition.

        Return an empty iterable when nothing is available right now.
        Raise `StopIteration` when the partition has no more data, or
        `AbortExecution` to stop the whole execution.

        `sched` is the time that `next_awake` last asked for (or `None`),
        so that periodic partitions can schedule from it without drift.

        This is called from the worker's thread and blocks it: don't wait
        here for data that isn't there yet; return what you have and use
        `next_awake` to be polled again later.

        """
        ...

    def next_awake(self) -> Optional[datetime]:
        """When to call `next_batch` next, as a UTC `datetime`.

        `None` (the default) means "as soon as possible": right away
        after a batch with items, or after a short pause after an empty
        batch.

        """
        return None

    @abstractmethod
    def snapshot(self) -> S:
        """Where this partition is, as something `build_part` can resume from.

        Called at the end of each epoch. The value is stored by recovery,
        so it must be picklable and must not be mutated afterwards.

        """
        ...

    def close(self) -> None:
        """Release resources once the partition is done. Default: nothing."""
        return None


class FixedPartitionedSource(Source[X], Generic[X, S]):
    """A source split into a fixed set of named, resumable partitions.

    Every worker lists the partitions it can reach; each partition is
    then assigned to one of those workers, which builds it. With recovery
    enabled, the snapshot each partition reports at the end of an epoch
    is handed back to `build_part` when the flow resumes.

    """

    @abstractmethod
    def list_parts(self) -> List[str]:
        """Names of the partitions this worker can read.

        Workers on different machines may list different partitions (for
        example, local files); each name must mean the same data wherever
        it is listed.

        """
        ...

    @abstractmethod
    def build_part(
        self,
        now: datetime,
        for_part: str,
        resume_state: Optional[S],
    ) -> StatefulSourcePartition[X, S]:
        """Open one partition.

        `resume_state` is the partition's last snapshot when resuming, or
        `None` to start from the beginning. `now` is the current UTC time.

        """
        ...


class StatelessSourcePartition(ABC, Generic[X]):
    """The partition a `DynamicSource` builds on each worker."""

    @abstractmethod
    def next_batch(self, sched: Optional[datetime]) -> Iterable[X]:
        """Return the next items; see `StatefulSourcePartition.next_batch`."""
        ...

    def next_awake(self) -> Optional[datetime]:
        """When to poll next; see `StatefulSourcePartition.next_awake`."""
        return None

    def close(self) -> None:
        """Release resources once the partition is done. Default: nothing."""
        return None


class DynamicSource(Source[X]):
    """A source where every worker reads its own, unresumable partition."""

    @abstractmethod
    def build(
        self,
        now: datetime,
        worker_index: int,
        worker_count: int,
    ) -> StatelessSourcePartition[X]:
        """Build the partition for worker `worker_index` of `worker_count`."""
        ...


class _SimplePollingPartition(StatefulSourcePartition[X, None]):
    def __init__(
        self,
        now: datetime,
        interval: timedelta,
        align_to: Optional[datetime],
        getter: Callable[[], Optional[X]],
    ):
        self._interval = interval
        self._getter = getter
        if align_to is None or not interval:
            self._next_awake = now
        else:
            # The first multiple of `interval` after `align_to` that is
            # not before `now`; exactly `now` if it falls on the mark.
            behind = now - align_to
            steps = -(-behind // interval)  # ceiling division
            self._next_awake = align_to + steps * interval

    def next_batch(self, sched: Optional[datetime]) -> List[X]:
        try:
            item = self._getter()
        except SimplePollingSource.Retry as retry:
            self._next_awake += retry.timeout
            return []
        self._next_awake += self._interval
        if item is None:
            return []
        return [item]

    def next_awake(self) -> Optional[datetime]:
        return self._next_awake

    def snapshot(self) -> None:
        return None


class SimplePollingSource(FixedPartitionedSource[X, None]):
    """Call `next_item` every `interval`; emit what it returns.

    Subclass it and implement `next_item`. It runs as a single partition,
    so exactly one worker polls. Returning `None` emits nothing this
    time. Raise `SimplePollingSource.Retry` to try again sooner (after
    its `timeout`) instead of waiting a whole interval, and
    `StopIteration` to end the input.

    With `align_to`, polls happen at `align_to + k * interval` for whole
    `k` (the first one at or after start-up), e.g. on the hour.
    Otherwise the first poll is immediate.

    There is no resume state: after recovery, polling simply restarts.

    >>> from datetime import timedelta
    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import run_main
    >>> class Countdown(SimplePollingSource):
    ...     def __init__(self):
    ...         super().__init__(timedelta(milliseconds=1))
    ...         self.left = 3
    ...     def next_item(self):
    ...         if self.left == 0:
    ...             raise StopIteration()
    ...         self.left -= 1
    ...         return self.left
    >>> flow = Dataflow("polling_eg")
    >>> s = op.input("inp", flow, Countdown())
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    polling_eg.show: 2
    polling_eg.show: 1
    polling_eg.show: 0

    """

    @dataclass
    class Retry(Exception):
        """Raise from `next_item` to poll again after `timeout`."""

        timeout: timedelta

    def __init__(self, interval: timedelta, align_to: Optional[datetime] = None):
        """Poll every `interval`, optionally aligned to `align_to`."""
        if not isinstance(interval, timedelta):
            msg = f"`interval` must be a `datetime.timedelta`; got a {type(interval)} instead"
            raise TypeError(msg)
        # Zero polls as often as the worker comes round, as in 0.18.
        if interval < timedelta(0):
            msg = "`interval` must not be negative"
            raise ValueError(msg)
        if align_to is not None and align_to.tzinfo is None:
            msg = "`align_to` must be a timezone-aware `datetime`"
            raise TypeError(msg)
        self._interval = interval
        self._align_to = align_to

    def list_parts(self) -> List[str]:
        """The single partition, `"singleton"`."""
        return ["singleton"]

    def build_part(
        self,
        now: datetime,
        for_part: str,
        resume_state: None,
    ) -> _SimplePollingPartition[X]:
        """Start polling."""
        return _SimplePollingPartition(now, self._interval, self._align_to, self.next_item)

    @abstractmethod
    def next_item(self) -> Optional[X]:
        """Fetch the next item, or `None` if there is nothing this time."""
        ...


def batch(ib: Iterable[X], batch_size: int) -> Iterator[List[X]]:
    """Cut an iterable into lists of up to `batch_size` items.

    >>> list(batch(range(5), 2))
    [[0, 1], [2, 3], [4]]

    """
    it = iter(ib)
    while True:
        chunk = list(islice(it, batch_size))
        if not chunk:
            return
        yield chunk


def batch_getter(
    getter: Callable[[], X],
    batch_size: int,
    yield_on: Optional[X] = None,
) -> Iterator[List[X]]:
    """Batch the results of calling `getter` repeatedly.

    A batch ends when it holds `batch_size` items or when `getter`
    returns `yield_on` (meaning "nothing right now"); in the latter case
    the batch may be empty. When `getter` raises `StopIteration` the
    items gathered so far are yielded and the iterator ends.

    Use it to build a `next_batch` from a non-blocking getter:
    `return next(self._batcher)`.

    >>> items = iter([1, 2, None, 3])
    >>> list(batch_getter(lambda: next(items), 5))
    [[1, 2], [3]]

    """
    while True:
        chunk: List[X] = []
        while len(chunk) < batch_size:
            try:
                item = getter()
            except StopIteration:
                if chunk:
                    yield chunk
                return
            if item is yield_on or (yield_on is not None and item == yield_on):
                break
            chunk.append(item)
        yield chunk


def batch_getter_ex(
    getter: Callable[[], X],
    batch_size: int,
    yield_ex: Type[Exception] = queue.Empty,
) -> Iterator[List[X]]:
    """Batch the results of calling `getter` repeatedly, until it raises.

    A batch ends when it holds `batch_size` items or when `getter`
    raises `yield_ex` (by default `queue.Empty`, so `q.get_nowait` works
    out of the box); the batch may then be empty. When `getter` raises
    `StopIteration` the items gathered so far are yielded and the
    iterator ends.

    >>> import queue
    >>> q = queue.Queue()
    >>> for x in [1, 2, 3]:
    ...     q.put(x)
    >>> batches = batch_getter_ex(q.get_nowait, 2)
    >>> next(batches), next(batches), next(batches)
    ([1, 2], [3], [])

    """
    while True:
        chunk: List[X] = []
        while len(chunk) < batch_size:
            try:
                item = getter()
            except yield_ex:
                break
            except StopIteration:
                if chunk:
                    yield chunk
                return
            chunk.append(item)
        yield chunk


def batch_async(
    aib: AsyncIterable[X],
    timeout: timedelta,
    batch_size: int,
    loop: Optional["asyncio.AbstractEventLoop"] = None,
) -> Iterator[List[X]]:
    """Batch an async iterable from synchronous code.

    Each `next()` runs the event loop until `batch_size` items have
    arrived or `timeout` has passed, and returns what arrived (possibly
    nothing). An item still being awaited at the timeout is not lost; it
    goes into a later batch. When the async iterable ends, the remaining
    items are returned and the iterator ends.

    `loop` is the event loop to run on; by default a new one is created.

    >>> from datetime import timedelta
    >>> async def numbers():
    ...     for i in range(3):
    ...         yield i
    >>> list(batch_async(numbers(), timedelta(seconds=1), 2))
    [[0, 1], [2]]

    """
    import asyncio

    if loop is None:
        loop = asyncio.new_event_loop()
    ait = aib.__aiter__()
    pending: List[Optional["asyncio.Future"]] = [None]
    ended = [False]
    timeout_s = timeout.total_seconds()

    async def _next() -> X:
        return await ait.__anext__()

    async def gather() -> List[X]:
        chunk: List[X] = []
        deadline = loop.time() + timeout_s
        while len(chunk) < batch_size:
            if pending[0] is None:
                pending[0] = asyncio.ensure_future(_next())
            remaining = deadline - loop.time()
            done, _ = await asyncio.wait([pending[0]], timeout=max(remaining, 0))
            if not done:
                break
            fut = pending[0]
            pending[0] = None
            try:
                chunk.append(fut.result())
            except StopAsyncIteration:
                ended[0] = True
                break
        return chunk

    while not ended[0]:
        chunk = loop.run_until_complete(gather())
        if ended[0]:
            if chunk:
                yield chunk
            return
        yield chunk
