"""A multi-process run: page views per page, read from a directory of CSV
files spread over the processes of a cluster.

Run it on two local processes (the files are shared out between them):

    bytewax run examples/cluster.py -p 2

or start the processes yourself, in two terminals:

    bytewax run examples/cluster.py -i 0 -a "127.0.0.1:2101;127.0.0.1:2102"
    bytewax run examples/cluster.py -i 1 -a "127.0.0.1:2101;127.0.0.1:2102"

Together they print one line per page, whatever the number of processes
or workers:

    ('cart', 3)
    ('checkout', 2)
    ('home', 4)
"""

from pathlib import Path

import bytewax.operators as op
from bytewax.connectors.files import DirSource
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow

LOGS = Path(__file__).parent / "data" / "logs"


flow = Dataflow("cluster")
rows = op.input("rows", flow, DirSource(LOGS, glob_pat="*.csv"))
pages = op.filter("data_rows", rows, lambda line: line != "user,page")
views = op.count_final("views", pages, lambda line: line.split(",")[1])
op.output("out", views, StdOutSink())
