"""Word count: how often each word appears in a text file.

Run it:

    bytewax run examples/wordcount.py

It prints one `(word, count)` line per distinct word of
`examples/data/wordcount.txt`, for example `('flow', 3)` and
`('rivers', 3)`. With `-w 4` the lines are the same, in another order.
"""

import re
from pathlib import Path

import bytewax.operators as op
from bytewax.connectors.files import FileSource
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow

TEXT = Path(__file__).parent / "data" / "wordcount.txt"


def words(line):
    return re.findall(r"[a-z']+", line.lower())


flow = Dataflow("wordcount")
lines = op.input("lines", flow, FileSource(TEXT))
all_words = op.flat_map("words", lines, words)
counts = op.count_final("count", all_words, lambda word: word)
op.output("out", counts, StdOutSink())
