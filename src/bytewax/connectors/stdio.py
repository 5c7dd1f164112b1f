"""Connectors for the process's standard input and output.

`StdOutSink` prints each item on its own line:

>>> import bytewax.operators as op
>>> from bytewax.dataflow import Dataflow
>>> from bytewax.testing import TestingSource, run_main
>>> flow = Dataflow("stdout_eg")
>>> s = op.input("inp", flow, TestingSource(["hello", 42]))
>>> op.output("out", s, StdOutSink())
>>> run_main(flow)
hello
42

`StdInSource` reads standard input line by line, so a flow can be used
in a shell pipeline: `cat words.txt | bytewax run app:flow`.

"""

import collections
import sys
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Deque, List, Optional

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition

__all__ = [
    "StdInSource",
    "StdOutSink",
]

_map = map


# Held while a batch is written: a large write to unbuffered stdout can
# be split into several system calls, and another worker could write in
# between.
_STDOUT_LOCK = threading.Lock()


class _PrintSinkPartition(StatelessSinkPartition[Any]):
    def write_batch(self, items: List[Any]) -> None:
        if not items:
            return
        text = "\n".join(_map(str, items)) + "\n"
        with _STDOUT_LOCK:
            out = sys.stdout
            out.write(text)
            out.flush()


class StdOutSink(DynamicSink[Any]):
    """Write each item to standard output as `str(item)` plus a newline.

    Every worker writes to the same standard output. Items of one batch
    are written with a single write followed by a flush, so lines from
    different workers never mix within a line; their relative order
    across workers is not defined.

    """

    def build(self, worker_index: int, worker_count: int) -> _PrintSinkPartition:
        """Each worker gets a partition printing to `sys.stdout`."""
        return _PrintSinkPartition()


# How many read-ahead lines the reader thread keeps at most.
_MAX_BUFFERED = 64 * 1024
# How long an idle partition waits before it is polled again.
_IDLE_POLL = timedelta(milliseconds=5)


class _StdInPartition(StatefulSourcePartition[str, int]):
    def __init__(self, stream: Any, batch_size: int, resume_state: Optional[int]):
        self._batch_size = batch_size
        self._skip = resume_state or 0
        self._count = self._skip
        self._lines: Deque[str] = collections.deque()
        self._done = False
        self._closed = False
        self._error: Optional[BaseException] = None
        self._drained = threading.Event()
        self._idle_since: Optional[datetime] = None
        if stream is None:
            self._done = True
        else:
            thread = threading.Thread(
                target=self._read, args=(stream,), name="bytewax-stdin", daemon=True
            )
            thread.start()

    def _read(self, stream: Any) -> None:
        lines = self._lines
        append = lines.append
        skip = self._skip
        try:
            for line in stream:
                if self._closed:
                    return
                if skip > 0:
                    skip -= 1
                    continue
                # `sys.stdin` splits at "\n" and keeps a "\r" before it.
                if line.endswith("\n"):
                    line = line[:-2] if line.endswith("\r\n") else line[:-1]
                append(line)
                if len(lines) > _MAX_BUFFERED:
                    self._drained.clear()
                    if len(lines) > _MAX_BUFFERED and not self._closed:
                        self._drained.wait()
        except BaseException as ex:  # noqa: BLE001
            self._error = ex
        finally:
            self._done = True

    def next_batch(self, sched: Optional[datetime]) -> List[str]:
        # Read the flag before the buffer: once the reader is done, every
        # line it read is already in the buffer.
        done = self._done
        lines = self._lines
        n = min(len(lines), self._batch_size)
        if n == 0:
            if done:
                if self._error is not None:
                    raise self._error
                raise StopIteration()
            self._idle_since = datetime.now(timezone.utc)
            return []
        self._idle_since = None
        popleft = lines.popleft
        batch = [popleft() for _ in range(n)]
        self._count += n
        if len(lines) < _MAX_BUFFERED // 2:
            self._drained.set()
        return batch

    def next_awake(self) -> Optional[datetime]:
        if self._idle_since is None:
            return None
        return self._idle_since + _IDLE_POLL

    def snapshot(self) -> int:
        return self._count

    def close(self) -> None:
        self._closed = True
        self._drained.set()


class StdInSource(FixedPartitionedSource[str, int]):
    """Read standard input, one item per line, until end of input.

    Each line is emitted without its line ending (`\\n` or `\\r\\n`, as
    `FileSource` does). It is a single partition (`"stdin"`), read by
    one worker; a background thread does the reading, so a flow waiting
    for input doesn't block its worker. The resume state is the number of
    lines consumed: a resumed flow skips that many lines of the new
    standard input.

    """

    def __init__(self, batch_size: int = 1000):
        """Emit up to `batch_size` lines per batch."""
        self._batch_size = batch_size

    def list_parts(self) -> List[str]:
        """The single partition, `"stdin"`."""
        return ["stdin"]

    def build_part(
        self,
        now: datetime,
        for_part: str,
        resume_state: Optional[int],
    ) -> _StdInPartition:
        """Start reading `sys.stdin`, skipping `resume_state` lines."""
        return _StdInPartition(sys.stdin, self._batch_size, resume_state)
