"""CSVSource: each row becomes a dict of strings keyed by the header;
quoted fields with commas, doubled quotes and an embedded newline; empty
fields; and a `;`-delimited file using csv format parameters."""

from pathlib import Path

import bytewax.operators as op
from bytewax.connectors.files import CSVSource
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow

DATA = Path(__file__).parent / "data"

flow = Dataflow("csv_source")
people = op.input("people", flow, CSVSource(DATA / "people.csv"))
op.output("out_people", people, StdOutSink())

ages = op.filter_map("age", people, lambda row: int(row["age"]) if row["age"] else None)
op.output("out_ages", op.map("tag_age", ages, lambda a: ("age", a)), StdOutSink())

semi = op.input("semi", flow, CSVSource(DATA / "semicolon.csv", delimiter=";", quotechar="'"))
op.output("out_semi", op.map("tag_semi", semi, lambda row: ("semi", sorted(row.items()))), StdOutSink())
