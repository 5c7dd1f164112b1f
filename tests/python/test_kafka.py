"""Tests of `bytewax.connectors.kafka`.

Skipped where `confluent-kafka` isn't installed. The tests that need a
broker run only when `KAFKA_TEST_BROKERS` names one (tests/kafka.rs
starts one and runs this file); the rest use no network.
"""

import doctest
import importlib
import json
import os
import sys
import threading
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

confluent_kafka = pytest.importorskip("confluent_kafka")

from confluent_kafka import OFFSET_BEGINNING, OFFSET_STORED, Consumer, TopicPartition  # noqa: E402
from confluent_kafka import KafkaError as ConfluentKafkaError  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

import bytewax.connectors.kafka.operators as kop  # noqa: E402
import bytewax.operators as op  # noqa: E402
from bytewax.connectors.kafka import (  # noqa: E402
    KafkaError,
    KafkaSink,
    KafkaSinkMessage,
    KafkaSource,
    KafkaSourceMessage,
)
from bytewax.connectors.kafka.registry import (  # noqa: E402
    ConfluentSchemaRegistry,
    RedpandaSchemaRegistry,
    SchemaRef,
)
from bytewax.connectors.kafka.serde import SchemaDeserializer, SchemaSerializer  # noqa: E402
from bytewax.dataflow import Dataflow  # noqa: E402
from bytewax.testing import TestingSink, TestingSource, run_main  # noqa: E402

BROKERS = os.environ.get("KAFKA_TEST_BROKERS")
needs_broker = pytest.mark.skipif(not BROKERS, reason="KAFKA_TEST_BROKERS is not set")

NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)


# ---------------------------------------------------------------------
# Without a broker.


def test_str_brokers_or_topics_are_rejected():
    with pytest.raises(TypeError, match="brokers"):
        KafkaSource("localhost:9092", ["t"])
    with pytest.raises(TypeError, match="topics"):
        KafkaSource(["localhost:9092"], "t")
    with pytest.raises(TypeError, match="brokers"):
        KafkaSink("localhost:9092", "t")


def test_defaults_match_reference_signatures():
    import inspect

    sig = inspect.signature(KafkaSource)
    assert sig.parameters["tail"].default is True
    assert sig.parameters["starting_offset"].default == OFFSET_BEGINNING
    assert sig.parameters["batch_size"].default == 1000
    assert sig.parameters["raise_on_errors"].default is True
    assert inspect.signature(KafkaSink).parameters["add_config"].default is None


def test_messages():
    m = KafkaSourceMessage(b"k", b"v", topic="t", headers=[("h", b"1")], offset=3, partition=1)
    sink = m.to_sink()
    assert sink == KafkaSinkMessage(b"k", b"v", headers=[("h", b"1")])
    assert sink.topic is None and sink.timestamp == 0
    with pytest.raises(AttributeError):
        m.key = b"x"  # frozen
    assert KafkaSourceMessage(1, 2).headers == []
    assert m._with_key("K").key == "K" and m._with_key("K").offset == 3
    assert KafkaSourceMessage(b"k", b"v", headers=None).to_sink().headers is None
    assert sink._with_value("V").value == "V"


def test_sink_without_topic_raises():
    part = KafkaSink(["127.0.0.1:9"], None).build(0, 1)
    try:
        with pytest.raises(RuntimeError, match="No topic to produce to"):
            part.write_batch([KafkaSinkMessage(b"k", b"v")])
    finally:
        part.close()


def test_build_part_rejects_foreign_partition():
    src = KafkaSource(["127.0.0.1:9"], ["a"])
    with pytest.raises(ValueError, match="can't build partition"):
        src.build_part(NOW, "0-b", None)


class _Json(SchemaDeserializer):
    def de(self, data):
        return json.loads(data)


class _Upper(SchemaSerializer):
    def ser(self, obj):
        return obj.upper()


def test_deserialize_routes_errors():
    msgs = [
        KafkaSourceMessage(b"1", b"2", offset=0),
        KafkaSourceMessage(b"{", b"3", offset=1),
        KafkaSourceMessage(b"4", b"[", offset=2),
    ]
    flow = Dataflow("de")
    s = op.input("inp", flow, TestingSource(msgs))
    out = kop.deserialize("de", s, key_deserializer=_Json(), val_deserializer=_Json())
    oks, errs = [], []
    op.output("oks", out.oks, TestingSink(oks))
    op.output("errs", out.errs, TestingSink(errs))
    run_main(flow)
    assert [(m.key, m.value, m.offset) for m in oks] == [(1, 2, 0)]
    assert [(e.err.code(), e.msg) for e in errs] == [
        (ConfluentKafkaError._KEY_DESERIALIZATION, msgs[1]),
        (ConfluentKafkaError._VALUE_DESERIALIZATION, msgs[2]),
    ]
    assert all(isinstance(e, KafkaError) for e in errs)


def test_deserialize_key_and_value_separately():
    msgs = [KafkaSourceMessage(b"1", b"x"), KafkaSourceMessage(b"y", b"2")]
    flow = Dataflow("de2")
    s = op.input("inp", flow, TestingSource(msgs))
    keys = kop.deserialize_key("k", s, _Json())
    vals = kop.deserialize_value("v", s, _Json())
    got = []
    op.output("k_ok", op.map("a", keys.oks, lambda m: ("k_ok", m.key)), TestingSink(got))
    op.output("k_err", op.map("b", keys.errs, lambda e: ("k_err", e.err.name())), TestingSink(got))
    op.output("v_ok", op.map("c", vals.oks, lambda m: ("v_ok", m.value)), TestingSink(got))
    op.output("v_err", op.map("d", vals.errs, lambda e: ("v_err", e.err.name())), TestingSink(got))
    run_main(flow)
    assert sorted(got) == [
        ("k_err", "_KEY_DESERIALIZATION"),
        ("k_ok", 1),
        ("v_err", "_VALUE_DESERIALIZATION"),
        ("v_ok", 2),
    ]


def test_serialize_makes_sink_messages():
    flow = Dataflow("ser")
    s = op.input(
        "inp",
        flow,
        TestingSource(
            [
                KafkaSourceMessage("k", "v", topic="src", offset=1),
                KafkaSinkMessage("a", "b", topic="dst"),
            ]
        ),
    )
    got = []
    op.output(
        "out",
        kop.serialize("ser", s, key_serializer=_Upper(), val_serializer=_Upper()),
        TestingSink(got),
    )
    only_key = kop.serialize_key("sk", s, _Upper())
    only_val = kop.serialize_value("sv", s, _Upper())
    got_k, got_v = [], []
    op.output("out_k", only_key, TestingSink(got_k))
    op.output("out_v", only_val, TestingSink(got_v))
    run_main(flow)
    assert got == [KafkaSinkMessage("K", "V"), KafkaSinkMessage("A", "B", topic="dst")]
    assert got_k == [KafkaSinkMessage("K", "v"), KafkaSinkMessage("A", "b", topic="dst")]
    assert got_v == [KafkaSinkMessage("k", "V"), KafkaSinkMessage("a", "B", topic="dst")]


def test_operator_step_ids():
    flow = Dataflow("ids")
    kin = kop.input("kin", flow, brokers=["127.0.0.1:9"], topics=["t"])
    kop.output("kout", kin.oks, brokers=["127.0.0.1:9"], topic="u")

    def ids(step):
        yield step.step_id
        for sub in getattr(step, "substeps", []):
            yield from ids(sub)

    all_ids = [i for s in flow.substeps for i in ids(s)]
    assert "ids.kin.kafka_input" in all_ids
    assert "ids.kin.split_err" in all_ids
    assert "ids.kout.kafka_output" in all_ids


def test_missing_dependency_message(monkeypatch):
    for name in list(sys.modules):
        if name == "confluent_kafka" or name.startswith(
            ("confluent_kafka.", "bytewax.connectors.kafka")
        ):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "confluent_kafka", None)
    monkeypatch.setenv("VIRTUAL_ENV", "/some/venv")
    with pytest.raises(ImportError) as info:
        import bytewax.connectors.kafka  # noqa: F401
    text = str(info.value)
    assert "pip install confluent-kafka" in text
    assert "/some/venv" in text
    assert info.value.name == "confluent_kafka"


AVRO_SCHEMA = {
    "type": "record",
    "name": "Reading",
    "fields": [{"name": "id", "type": "string"}, {"name": "value", "type": "double"}],
}


class _FakeRegistry(BaseHTTPRequestHandler):
    """Just enough of a schema registry's REST API for these tests."""

    def do_GET(self):  # noqa: N802
        path = self.path.split("?")[0]
        body = {"subject": "readings", "version": 1, "id": 7, "schema": json.dumps(AVRO_SCHEMA)}
        subjects = ("readings", "readings-value")
        versions = ("latest", "1")
        if path in {f"/subjects/{s}/versions/{v}" for s in subjects for v in versions}:
            payload = body
        elif path == "/schemas/ids/7":
            payload = {"schema": body["schema"]}
        else:
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"error_code": 40401, "message": "not found"}).encode())
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.end_headers()
        self.wfile.write(json.dumps(payload).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def registry_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_redpanda_registry_round_trip(registry_url):
    pytest.importorskip("fastavro")
    reg = RedpandaSchemaRegistry(registry_url)
    ser = reg.serializer(SchemaRef("readings"))
    data = ser.ser({"id": "a", "value": 1.5})
    assert data == b"\x02a" + b"\x00\x00\x00\x00\x00\x00\xf8?"
    assert reg.deserializer(SchemaRef("readings", 1)).de(data) == {"id": "a", "value": 1.5}
    assert reg.deserializer(7).de(data) == {"id": "a", "value": 1.5}
    with pytest.raises(RuntimeError, match="HTTP 404"):
        reg.serializer(SchemaRef("nope"))


def test_confluent_registry_round_trip(registry_url):
    pytest.importorskip("fastavro")
    sr = pytest.importorskip("confluent_kafka.schema_registry")
    reg = ConfluentSchemaRegistry(sr.SchemaRegistryClient({"url": registry_url}))
    data = reg.serializer(SchemaRef("readings")).ser({"id": "b", "value": 2.0})
    # Confluent framing: magic byte 0, then schema id 7.
    assert data[:5] == b"\x00\x00\x00\x00\x07"
    assert reg.deserializer().de(data) == {"id": "b", "value": 2.0}
    with pytest.raises(ValueError, match="not a schema registry message"):
        reg.deserializer().de(b"\x01\x00\x00\x00\x07")


def test_confluent_deserializer_reads_confluent_serializer_output(registry_url):
    pytest.importorskip("fastavro")
    sr = pytest.importorskip("confluent_kafka.schema_registry")
    avro = pytest.importorskip("confluent_kafka.schema_registry.avro")
    from confluent_kafka.serialization import MessageField, SerializationContext

    client = sr.SchemaRegistryClient({"url": registry_url})
    theirs = avro.AvroSerializer(
        client,
        json.dumps(AVRO_SCHEMA),
        conf={"auto.register.schemas": False, "use.latest.version": True},
    )
    data = theirs({"id": "c", "value": 3.0}, SerializationContext("readings", MessageField.VALUE))
    assert ConfluentSchemaRegistry(client).deserializer().de(data) == {"id": "c", "value": 3.0}


KAFKA_MODULES = [
    "bytewax.connectors.kafka",
    "bytewax.connectors.kafka.error",
    "bytewax.connectors.kafka.message",
    "bytewax.connectors.kafka.operators",
    "bytewax.connectors.kafka.registry",
    "bytewax.connectors.kafka.serde",
    "bytewax.connectors.kafka.sink",
    "bytewax.connectors.kafka.source",
]


@pytest.mark.parametrize("name", KAFKA_MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder(exclude_empty=True).find(module, name)
    assert any(t.examples for t in tests), f"{name} has no examples"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    failures = []
    for test in tests:
        runner.run(test, out=failures.append)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, "".join(failures)


# ---------------------------------------------------------------------
# With a broker.


def _admin():
    return AdminClient({"bootstrap.servers": BROKERS})


def _new_topic(partitions=1):
    name = f"pytest-{uuid.uuid4().hex[:12]}"
    admin = _admin()  # keep the client alive until the result is in
    for fut in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        fut.result(timeout=30)
    return name


def _produce(topic, pairs, partition=None):
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": BROKERS})
    for k, v in pairs:
        kwargs = {} if partition is None else {"partition": partition}
        p.produce(topic, key=k, value=v, **kwargs)
    assert p.flush(30) == 0


def _drain(part, limit=200):
    """All items of a non-tailing partition, batch by batch, until it ends."""
    batches = []
    for _ in range(limit * 100):
        try:
            batch = part.next_batch(None)
        except StopIteration:
            return batches
        if batch:
            batches.append(batch)
    pytest.fail("the partition never ended")


@needs_broker
def test_list_parts_names_partitions():
    topic = _new_topic(3)
    src = KafkaSource(BROKERS.split(","), [topic])
    assert src.list_parts() == [f"0-{topic}", f"1-{topic}", f"2-{topic}"]


@needs_broker
def test_read_snapshot_and_resume():
    topic = _new_topic(1)
    # Three produce calls, so record batches start at offsets 0, 6 and 8:
    # the test broker (tansu 0.6) returns nothing for a fetch that starts
    # inside a batch, where Kafka returns the batch and the client skips.
    for lo, hi in ((0, 6), (6, 8), (8, 10)):
        _produce(topic, [(f"k{i}".encode(), f"v{i}".encode()) for i in range(lo, hi)], partition=0)
    src = KafkaSource(BROKERS.split(","), [topic], tail=False, batch_size=4)
    part = src.build_part(NOW, f"0-{topic}", None)
    assert part.snapshot() == OFFSET_BEGINNING
    batches = _drain(part)
    items = [m for b in batches for m in b]
    assert all(len(b) <= 4 for b in batches)
    assert [(m.key, m.value, m.offset, m.partition, m.topic) for m in items] == [
        (f"k{i}".encode(), f"v{i}".encode(), i, 0, topic) for i in range(10)
    ]
    # No headers read as `None`, as in Bytewax 0.18.
    assert all(m.headers is None and m.timestamp[1] > 0 for m in items)
    assert part.snapshot() == 10
    part.close()

    # Resuming from a snapshot starts right after it.
    part = src.build_part(NOW, f"0-{topic}", 6)
    assert [m.offset for b in _drain(part) for m in b] == [6, 7, 8, 9]
    assert part.snapshot() == 10
    part.close()

    # An absolute starting offset.
    part = KafkaSource(BROKERS.split(","), [topic], tail=False, starting_offset=8).build_part(
        NOW, f"0-{topic}", None
    )
    assert [m.offset for b in _drain(part) for m in b] == [8, 9]
    part.close()


@needs_broker
def test_tail_keeps_waiting():
    topic = _new_topic(1)
    _produce(topic, [(b"a", b"1")])
    part = KafkaSource(BROKERS.split(","), [topic]).build_part(NOW, f"0-{topic}", None)
    got = []
    for _ in range(5000):
        got.extend(part.next_batch(None))  # never raises StopIteration
        if got:
            break
    assert [m.value for m in got] == [b"1"]
    for _ in range(200):
        assert part.next_batch(None) == []
    _produce(topic, [(b"b", b"2")])
    for _ in range(5000):
        got.extend(part.next_batch(None))
        if len(got) == 2:
            break
    assert [m.value for m in got] == [b"1", b"2"]
    part.close()


@needs_broker
def test_sink_writes_headers_partition_and_topic_override():
    default_topic = _new_topic(2)
    other_topic = _new_topic(1)
    part = KafkaSink(BROKERS.split(","), default_topic).build(0, 1)
    part.write_batch(
        [
            KafkaSinkMessage(b"k1", b"v1", headers=[("h", b"x")], partition=1),
            KafkaSinkMessage(b"k2", "v2", topic=other_topic),
            KafkaSinkMessage(None, None, partition=0),
        ]
    )
    part.close()
    got = {}
    for topic, parts in ((default_topic, 2), (other_topic, 1)):
        for p in range(parts):
            src = KafkaSource(BROKERS.split(","), [topic], tail=False)
            reader = src.build_part(NOW, f"{p}-{topic}", None)
            got[(topic, p)] = [(m.key, m.value, m.headers) for b in _drain(reader) for m in b]
            reader.close()
    assert got == {
        (default_topic, 0): [(None, None, None)],
        (default_topic, 1): [(b"k1", b"v1", [("h", b"x")])],
        (other_topic, 0): [(b"k2", b"v2", None)],
    }


@needs_broker
def test_sink_reports_undeliverable_messages():
    topic = _new_topic(1)
    missing = f"pytest-missing-{uuid.uuid4().hex[:12]}"
    part = KafkaSink(BROKERS.split(","), topic, add_config={"message.timeout.ms": "2000"}).build(
        0, 1
    )
    with pytest.raises(RuntimeError, match=f"did not accept 1 message.*{missing}"):
        part.write_batch(
            [KafkaSinkMessage(b"k", b"v"), KafkaSinkMessage(b"k", b"v", topic=missing)]
        )
    part.close()


@needs_broker
def test_consumer_errors_raise_or_become_items():
    # Starting at the group's committed offset, when there is none and
    # the reset policy is "error", makes the consumer report an error.
    topic = _new_topic(1)
    _produce(topic, [(b"a", b"1")])
    config = {"auto.offset.reset": "error", "group.id": f"pytest-{uuid.uuid4().hex}"}

    src = KafkaSource(BROKERS.split(","), [topic], starting_offset=OFFSET_STORED, add_config=config)
    part = src.build_part(NOW, f"0-{topic}", None)
    with pytest.raises(RuntimeError, match=topic):
        for _ in range(10000):
            part.next_batch(None)
    part.close()

    src = KafkaSource(
        BROKERS.split(","),
        [topic],
        starting_offset=OFFSET_STORED,
        add_config=config,
        raise_on_errors=False,
    )
    part = src.build_part(NOW, f"0-{topic}", None)
    errs = []
    for _ in range(10000):
        errs.extend(part.next_batch(None))
        if errs:
            break
    part.close()
    assert isinstance(errs[0], KafkaError)
    assert errs[0].err.code() == ConfluentKafkaError._AUTO_OFFSET_RESET
    assert errs[0].msg.topic == topic
    assert errs[0].msg.partition == 0
    assert part.snapshot() == OFFSET_STORED


@needs_broker
def test_missing_topic_is_reported():
    topic = f"pytest-missing-{uuid.uuid4().hex[:12]}"
    with pytest.raises(RuntimeError, match=topic):
        KafkaSource(BROKERS.split(","), [topic]).list_parts()


@needs_broker
def test_run_main_copies_between_topics():
    src_topic = _new_topic(3)
    dst_topic = _new_topic(1)
    for p in range(3):
        _produce(
            src_topic, [(f"p{p}-{i}".encode(), f"x{i}".encode()) for i in range(5)], partition=p
        )
    flow = Dataflow("copy")
    kin = kop.input("kin", flow, brokers=BROKERS.split(","), topics=[src_topic], tail=False)
    up = op.map("up", kin.oks, lambda m: KafkaSinkMessage(m.key, m.value.upper()))
    kop.output("kout", up, brokers=BROKERS.split(","), topic=dst_topic)
    errs = []
    op.output("errs", kin.errs, TestingSink(errs))
    run_main(flow)
    assert errs == []
    c = Consumer({"bootstrap.servers": BROKERS, "group.id": "t", "enable.partition.eof": True})
    c.assign([TopicPartition(dst_topic, 0, OFFSET_BEGINNING)])
    got = []
    for _ in range(300):
        msgs = c.consume(100, 0.1)
        got.extend((m.key(), m.value()) for m in msgs if m.error() is None)
        if any(m.error() is not None for m in msgs):
            break
    c.close()
    assert sorted(got) == sorted(
        (f"p{p}-{i}".encode(), f"X{i}".encode()) for p in range(3) for i in range(5)
    )
