"""keyed_sum: a keyed running sum with `stateful_map`.

BENCH_N ints (default 2M) from TestingSource (batch 1000), keyed by
`x % BENCH_KEYS`, each emitting the running sum of its key. Measures
key routing (the exchange between workers) and per-key state lookup;
run with 1,000 and 100,000 keys to see how state size affects it.
Output: one (key, running_sum) per input; checksum is the total of
all running sums.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bytewax.operators as op  # noqa: E402
from bytewax.dataflow import Dataflow  # noqa: E402
from bytewax.testing import TestingSource  # noqa: E402

from _benchlib import CountingSink, env_int  # noqa: E402

N = env_int("BENCH_N", 2_000_000)
KEYS = env_int("BENCH_KEYS", 1000)
BATCH = env_int("BENCH_BATCH", 1000)


def key_of(x):
    return str(x % KEYS)


def running_sum(total, x):
    total += x
    return total, total


def second(kv):
    return kv[1]


flow = Dataflow("bench_keyed_sum")
s = op.input("inp", flow, TestingSource(range(N), batch_size=BATCH))
keyed = op.key_on("key", s, key_of)
sums = op.stateful_map("running_sum", keyed, lambda: 0, running_sum)
op.output("out", sums, CountingSink("out", checksum=second))
