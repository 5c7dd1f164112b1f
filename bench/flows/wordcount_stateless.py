"""wordcount_stateless: the stateless half of a word count.

FileSource over BENCH_TEXT (a generated 2M-line text file), flat_map
split into words, map to lower case with punctuation stripped.
Measures a file source and a 1-to-many step: one line in, ~6 words out.
Output: one item per word; checksum is the total length of the
normalized words.
"""

import os
import string
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bytewax.operators as op  # noqa: E402
from bytewax.connectors.files import FileSource  # noqa: E402
from bytewax.dataflow import Dataflow  # noqa: E402

from _benchlib import CountingSink, env_str  # noqa: E402

PATH = env_str("BENCH_TEXT")
PUNCT = string.punctuation


def split_words(line):
    return line.split()


def normalize(word):
    return word.lower().strip(PUNCT)


flow = Dataflow("bench_wordcount_stateless")
lines = op.input("inp", flow, FileSource(PATH))
words = op.flat_map("split", lines, split_words)
words = op.map("normalize", words, normalize)
op.output("out", words, CountingSink("out", checksum=len))
