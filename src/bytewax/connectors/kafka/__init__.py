"""Read from and write to Kafka (or any broker that speaks its protocol).

This connector is built on the `confluent-kafka` package, which is not
part of bytewax: install it into the virtualenv you run bytewax with
(`pip install confluent-kafka`). The schema registry helpers in
`bytewax.connectors.kafka.registry` also need `fastavro`, and
`requests` or confluent-kafka's `schemaregistry` extra depending on the
registry.

What is here:

- `KafkaSource` reads topics. Every partition of every topic is a
  partition of the source, named `"{partition}-{topic}"`, so the
  partitions are spread over the workers. With recovery enabled, a
  resumed flow continues each partition right after the last offset
  that was part of a completed epoch.
- `KafkaSink` produces to a topic (or to the topic each message names).
- `KafkaSourceMessage` and `KafkaSinkMessage` are the items the source
  emits and the sink expects; `KafkaError` is emitted instead of a
  message when consuming fails and the source was told not to raise.
- `bytewax.connectors.kafka.operators` wraps all of this in operators
  (`input`, `output`, and the `serialize*`/`deserialize*` helpers) that
  route errors to their own stream.
- `bytewax.connectors.kafka.serde` holds the interfaces of key and
  value (de)serializers, and `bytewax.connectors.kafka.registry` gets
  Avro ones from a Confluent or Redpanda schema registry.

A flow that copies one topic to another, upper-casing the values
(skipped here, as it needs a running broker):

>>> import bytewax.operators as op
>>> from bytewax.connectors.kafka import KafkaSink, KafkaSinkMessage, KafkaSource
>>> from bytewax.dataflow import Dataflow
>>> flow = Dataflow("kafka_copy")
>>> msgs = op.input("in", flow, KafkaSource(["localhost:9092"], ["in-topic"]))
>>> upper = op.map("upper", msgs, lambda m: KafkaSinkMessage(m.key, m.value.upper()))
>>> op.output("out", upper, KafkaSink(["localhost:9092"], "out-topic"))
>>> from bytewax.testing import run_main
>>> run_main(flow)  # doctest: +SKIP

The message types can be used without a broker:

>>> from bytewax.connectors.kafka import KafkaSourceMessage
>>> m = KafkaSourceMessage(b"k", b"v", topic="in-topic", offset=41)
>>> m.to_sink()
KafkaSinkMessage(key=b'k', value=b'v', topic=None, headers=[], partition=None, timestamp=0)

"""

import os
import sys


def _missing_dependency_message() -> str:
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        where = (
            f"Install it into the active virtualenv with "
            f"`{venv}/bin/pip install confluent-kafka` (or `pip install confluent-kafka` "
            "with that virtualenv activated)"
        )
    elif sys.prefix != sys.base_prefix:
        where = (
            f"Install it into the active virtualenv with "
            f"`{sys.prefix}/bin/pip install confluent-kafka`"
        )
    else:
        where = (
            "Create a virtualenv, `pip install confluent-kafka` into it, and run "
            "bytewax with that virtualenv activated (VIRTUAL_ENV set)"
        )
    return (
        "the Kafka connector `bytewax.connectors.kafka` needs the Python package "
        f"`confluent-kafka`, which is not installed. {where}."
    )


try:
    import confluent_kafka  # noqa: F401
except ModuleNotFoundError as _ex:
    if _ex.name != "confluent_kafka":
        raise
    raise ModuleNotFoundError(_missing_dependency_message(), name="confluent_kafka") from None

from . import operators, registry, serde  # noqa: E402
from .error import KafkaError  # noqa: E402
from .message import KafkaSinkMessage, KafkaSourceMessage  # noqa: E402
from .sink import KafkaSink  # noqa: E402
from .source import KafkaSource  # noqa: E402

__all__ = [
    "KafkaError",
    "KafkaSink",
    "KafkaSinkMessage",
    "KafkaSource",
    "KafkaSourceMessage",
    "operators",
    "registry",
    "serde",
]
