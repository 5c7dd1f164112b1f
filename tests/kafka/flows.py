"""Flows for tests/kafka.rs; `KAFKA_TEST_FLOW` picks which one `flow` is.

Configured through the environment:

- `KAFKA_TEST_BROKERS`: comma-separated broker addresses.
- `KAFKA_TEST_IN`, `KAFKA_TEST_OUT`, `KAFKA_TEST_DLQ`: topics.
- `KAFKA_TEST_BATCH`: the source's `batch_size` (default 1000).

Flows:

- `copy`: reads `IN` to its end (`tail=False`), upper-cases values and
  produces them to `OUT` (keeping key and headers); prints
  `seen PARTITION OFFSET KEY VALUE` for every message read.
- `dlq`: reads `IN` with `operators.input`, parses values as JSON
  `{"n": INT}`, produces `{"n": 2 * INT}` to `OUT`; messages that aren't
  JSON go to the topic `DLQ` (named on each message) with an `error`
  header; prints `ok KEY` and `dead KEY CODE` lines.
- `reset_error` / `reset_error_raise`: reads `IN` from the consumer
  group's committed offset (`OFFSET_STORED`) with
  `auto.offset.reset=error`; the group has never committed, so the
  consumer reports an error: the first flow emits it
  (`raise_on_errors=False`) and prints `kafka-error CODE TOPIC
  PARTITION`; the second lets the source raise.
- `missing_topic`: reads a topic that doesn't exist.
"""

import json
import os

from confluent_kafka import OFFSET_STORED

import bytewax.connectors.kafka.operators as kop
import bytewax.operators as op
from bytewax.connectors.kafka import KafkaError, KafkaSink, KafkaSinkMessage, KafkaSource
from bytewax.connectors.kafka.serde import SchemaDeserializer
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow

BROKERS = os.environ["KAFKA_TEST_BROKERS"].split(",")
IN = os.environ.get("KAFKA_TEST_IN", "in")
OUT = os.environ.get("KAFKA_TEST_OUT", "out")
DLQ = os.environ.get("KAFKA_TEST_DLQ", "dlq")
BATCH = int(os.environ.get("KAFKA_TEST_BATCH", "1000"))


def _text(b):
    return "<none>" if b is None else b.decode()


def copy_flow():
    flow = Dataflow("kafka_copy")
    msgs = op.input("in", flow, KafkaSource(BROKERS, [IN], tail=False, batch_size=BATCH))
    seen = op.map(
        "seen",
        msgs,
        lambda m: f"seen {m.partition} {m.offset} {_text(m.key)} {_text(m.value)}",
    )
    op.output("print", seen, StdOutSink())
    upper = op.map(
        "upper",
        msgs,
        lambda m: KafkaSinkMessage(m.key, m.value.upper(), headers=m.headers),
    )
    op.output("out", upper, KafkaSink(BROKERS, OUT))
    return flow


class _JsonDe(SchemaDeserializer):
    def de(self, data):
        return json.loads(data)


def dlq_flow():
    flow = Dataflow("kafka_dlq")
    kin = kop.input("kin", flow, brokers=BROKERS, topics=[IN], tail=False, batch_size=BATCH)
    parsed = kop.deserialize_value("json", kin.oks, _JsonDe())
    doubled = op.map(
        "double",
        parsed.oks,
        lambda m: KafkaSinkMessage(m.key, json.dumps({"n": m.value["n"] * 2}).encode()),
    )
    kop.output("kout", doubled, brokers=BROKERS, topic=OUT)
    dead = op.map(
        "dead",
        parsed.errs,
        lambda e: KafkaSinkMessage(
            e.msg.key, e.msg.value, topic=DLQ, headers=[("error", e.err.name().encode())]
        ),
    )
    kop.output("kdlq", dead, brokers=BROKERS, topic=OUT)
    report = op.merge(
        "report",
        op.map("ok", parsed.oks, lambda m: f"ok {_text(m.key)}"),
        op.map("bad", parsed.errs, lambda e: f"dead {_text(e.msg.key)} {e.err.name()}"),
        op.map("kafka_errs", kin.errs, lambda e: f"kafka-error {e.err.name()}"),
    )
    op.output("print", report, StdOutSink())
    return flow


def _reset_error_flow(raise_on_errors):
    flow = Dataflow("kafka_reset_error")
    src = KafkaSource(
        BROKERS,
        [IN],
        tail=False,
        starting_offset=OFFSET_STORED,
        add_config={"auto.offset.reset": "error", "group.id": "kafka-test-never-commits"},
        raise_on_errors=raise_on_errors,
    )
    items = op.input("in", flow, src)

    def show(item):
        if isinstance(item, KafkaError):
            return f"kafka-error {item.err.name()} {item.msg.topic} {item.msg.partition}"
        return f"message {item.offset}"

    op.output("print", op.map("show", items, show), StdOutSink())
    return flow


def missing_topic_flow():
    flow = Dataflow("kafka_missing")
    msgs = op.input("in", flow, KafkaSource(BROKERS, [IN], tail=False))
    op.output("print", msgs, StdOutSink())
    return flow


_FLOWS = {
    "copy": copy_flow,
    "dlq": dlq_flow,
    "reset_error": lambda: _reset_error_flow(False),
    "reset_error_raise": lambda: _reset_error_flow(True),
    "missing_topic": missing_topic_flow,
}

flow = _FLOWS[os.environ.get("KAFKA_TEST_FLOW", "copy")]()
