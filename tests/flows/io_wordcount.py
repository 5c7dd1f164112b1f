"""The classic word count: read a text file, split and normalise words,
count them at EOF."""

import re
from pathlib import Path

import bytewax.operators as op
from bytewax.connectors.files import FileSource
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow

DATA = Path(__file__).parent / "data"


def tokenize(line):
    return re.findall(r"[^\s!,.?\":;-]+", line.lower())


flow = Dataflow("wordcount")
lines = op.input("inp", flow, FileSource(DATA / "words.txt", batch_size=3))
words = op.flat_map("tokenize", lines, tokenize)
counts = op.count_final("count", words, lambda word: word)
top = op.filter("at_least_two", counts, lambda kv: kv[1] >= 2)
op.output("out", top, StdOutSink())
op.output("out_all", op.map("all", counts, lambda kv: f"{kv[0]}={kv[1]}"), StdOutSink())
