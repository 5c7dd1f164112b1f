"""stateless: map -> filter -> map over BENCH_N ints (default 5M).

No state, no exchange: measures the per-item cost of calling Python
functions from the runtime and moving batches between steps.
Output: the even numbers of 1..N, times 3 (N // 2 items).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bytewax.operators as op  # noqa: E402
from bytewax.dataflow import Dataflow  # noqa: E402
from bytewax.testing import TestingSource  # noqa: E402

from _benchlib import CountingSink, env_int  # noqa: E402

N = env_int("BENCH_N", 5_000_000)
BATCH = env_int("BENCH_BATCH", 1000)

flow = Dataflow("bench_stateless")
s = op.input("inp", flow, TestingSource(range(N), batch_size=BATCH))
s = op.map("add_one", s, lambda x: x + 1)
s = op.filter("keep_even", s, lambda x: x % 2 == 0)
s = op.map("triple", s, lambda x: x * 3)
op.output("out", s, CountingSink("out", checksum=int))
