"""A recoverable flow: a running total per account, written to a file,
that survives being killed.

Run it with recovery:

    bytewax init-db /tmp/recoverable-state 2
    OUT=/tmp/totals.txt bytewax run examples/recoverable.py -r /tmp/recoverable-state -s 1 -b 0

It writes one `account=total` line per transaction to `$OUT` (default
`totals.txt`) and prints nothing. Kill it at any moment (even with
`kill -9`) and start it again with the same command: it resumes from its
last snapshot, and the output file ends up exactly as if it had never
been stopped (the file sink truncates to its last snapshot, so nothing is
written twice). Once all input is read, running it again adds nothing.
"""

import os
import time

import bytewax.operators as op
from bytewax.connectors.files import FileSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

# Slow enough to be killed part way; set PAUSE=0 to go at full speed.
PAUSE = float(os.environ.get("PAUSE", "0.001"))
TRANSACTIONS = [(f"acct-{i % 5}", i % 7 + 1) for i in range(2000)]


def pace(tx):
    time.sleep(PAUSE)
    return tx


def add(total, amount):
    total += amount
    return total, total


flow = Dataflow("recoverable")
txs = op.input("transactions", flow, TestingSource(TRANSACTIONS, batch_size=10))
txs = op.map("pace", txs, pace)
totals = op.stateful_map("total", txs, lambda: 0, add)
lines = op.map("format", totals, lambda kv: (kv[0], f"{kv[0]}={kv[1]}"))
op.output("out", lines, FileSink(os.environ.get("OUT", "totals.txt")))
