"""Helpers shared by the benchmark flows (Bytewax 0.18 API only).

The flows in this folder are run unchanged by both systems: our
`bytewax` binary and the reference `bytewax==0.18.2` from PyPI. Each
flow reads its parameters from `BENCH_*` environment variables set by
`bench/run.py` and writes to a `CountingSink`, which keeps output
volume out of the measurement: it counts the items it receives (and
adds up a cheap checksum) and prints one line per worker partition
when the dataflow reaches EOF:

    BENCH_COUNT sink=<name> worker=<i>/<n> count=<items> sum=<checksum>

The harness adds the lines up and fails the run if they do not match
the expected figures.
"""

import os
import sys

from bytewax.outputs import DynamicSink, StatelessSinkPartition


def env_int(name, default):
    return int(os.environ.get(name, default))


def env_str(name, default=None):
    value = os.environ.get(name, default)
    if value is None:
        msg = f"environment variable {name} must be set (run through bench/run.py)"
        raise RuntimeError(msg)
    return value


class _CountingPartition(StatelessSinkPartition):
    def __init__(self, name, worker_index, worker_count, checksum):
        self._name = name
        self._worker = f"{worker_index}/{worker_count}"
        self._checksum = checksum
        self._count = 0
        self._sum = 0

    def write_batch(self, items):
        self._count += len(items)
        if self._checksum is not None:
            self._sum += sum(map(self._checksum, items))

    def close(self):
        sys.stdout.write(
            f"BENCH_COUNT sink={self._name} worker={self._worker} "
            f"count={self._count} sum={self._sum}\n"
        )
        sys.stdout.flush()


class CountingSink(DynamicSink):
    """Count items per worker; print the totals at EOF.

    `checksum`, if given, maps each item to an int; the printed `sum`
    is the total over all items this worker saw.
    """

    def __init__(self, name, checksum=None):
        self._name = name
        self._checksum = checksum

    def build(self, worker_index, worker_count):
        return _CountingPartition(self._name, worker_index, worker_count, self._checksum)
