"""DirSource: one partition per file matching the glob (non-matching and
empty files contribute nothing). Items from different files may
interleave in any order."""

from pathlib import Path

import bytewax.operators as op
from bytewax.connectors.files import DirSource
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow

DATA = Path(__file__).parent / "data"

flow = Dataflow("dir_source")
lines = op.input("inp", flow, DirSource(DATA / "dir", glob_pat="*.txt"))
op.output("out", op.map("tag", lines, lambda line: f"line {line!r}"), StdOutSink())

# Everything in the folder, counted per first letter at the end.
everything = op.input("inp_all", flow, DirSource(DATA / "dir", batch_size=1))
counts = op.count_final("count", everything, lambda line: line[:1] or "<empty>")
op.output("out_counts", op.map("tag_counts", counts, lambda kv: ("count",) + kv), StdOutSink())
