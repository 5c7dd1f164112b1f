"""cluster: DirSource over a directory of 4 generated files, map, keyed count.

BENCH_DIR holds 4 files of `user,action,value` lines (~2M lines in
all). Each file is one partition of DirSource, so with 2 processes
each reads 2 files: the bench measures how well the work spreads
across processes (`-p 2 -w 1` against `-p 1 -w 1`), including the
exchange of keys between processes for the final count.
Output: one (user, count) per distinct user; checksum is the sum of
the counts (= total lines).
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bytewax.operators as op  # noqa: E402
from bytewax.connectors.files import DirSource  # noqa: E402
from bytewax.dataflow import Dataflow  # noqa: E402

from _benchlib import CountingSink, env_str  # noqa: E402

DIR = Path(env_str("BENCH_DIR"))


def user_of(line):
    return line.split(",", 1)[0]


def identity(x):
    return x


def second(kv):
    return kv[1]


flow = Dataflow("bench_cluster")
lines = op.input("inp", flow, DirSource(DIR, glob_pat="*.csv"))
users = op.map("user", lines, user_of)
counts = op.count_final("count", users, identity)
op.output("out", counts, CountingSink("out", checksum=second))
