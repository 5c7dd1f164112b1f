"""FileSource: one item per line without its line ending (CRLF too);
empty lines, whitespace and a last line without a newline are kept.
Also a small batch_size."""

from pathlib import Path

import bytewax.operators as op
from bytewax.connectors.files import FileSource
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow

DATA = Path(__file__).parent / "data"

flow = Dataflow("file_source")
lines = op.input("inp", flow, FileSource(DATA / "lines.txt"))
op.output("out", op.map("show", lines, lambda line: f"{len(line)}:{line!r}"), StdOutSink())

# Same file with a batch size of 2 and a str path.
small = op.input("inp_small", flow, FileSource(str(DATA / "lines.txt"), batch_size=2))
upper = op.map("upper", small, str.upper)
op.inspect("small", upper)
