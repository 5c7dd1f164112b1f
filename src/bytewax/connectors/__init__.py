"""Ready-made sources and sinks.

- `bytewax.connectors.stdio`: print to standard output, read lines from
  standard input.
- `bytewax.connectors.files`: read and write text and CSV files and
  directories of files, with resume support.
- `bytewax.connectors.demo`: a source of random numbers for trying
  things out.
- `bytewax.connectors.kafka`: consume from and produce to Kafka topics
  (needs the `confluent-kafka` package in the active virtualenv).

To write your own, subclass the interfaces in `bytewax.inputs` and
`bytewax.outputs`.

"""
