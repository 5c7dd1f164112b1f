"""wordcount: a full word count.

FileSource over BENCH_TEXT (the generated 2M-line text file), flat_map
split into words, `count_final` keyed by the word itself. Measures
the classic streaming example end to end: file input, 1-to-many,
keyed exchange and a final aggregation over ~150k distinct words.
Output: one (word, count) per distinct word; checksum is the sum of
the counts (= total words).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bytewax.operators as op  # noqa: E402
from bytewax.connectors.files import FileSource  # noqa: E402
from bytewax.dataflow import Dataflow  # noqa: E402

from _benchlib import CountingSink, env_str  # noqa: E402

PATH = env_str("BENCH_TEXT")


def split_words(line):
    return line.split()


def identity(word):
    return word


def second(kv):
    return kv[1]


flow = Dataflow("bench_wordcount")
lines = op.input("inp", flow, FileSource(PATH))
words = op.flat_map("split", lines, split_words)
counts = op.count_final("count", words, identity)
op.output("out", counts, CountingSink("out", checksum=second))
