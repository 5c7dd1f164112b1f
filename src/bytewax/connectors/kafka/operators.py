"""Operators for Kafka: input and output, and (de)serializing messages.

- `input` reads topics and splits what it reads into a stream of
  `KafkaSourceMessage`s (`oks`) and a stream of `KafkaError`s (`errs`),
  so a consuming error doesn't stop the flow.
- `deserialize_key`, `deserialize_value` and `deserialize` turn the raw
  bytes of messages into objects with `SchemaDeserializer`s, and route
  the messages that fail to an error stream as well.
- `serialize_key`, `serialize_value` and `serialize` do the opposite on
  the way out, producing `KafkaSinkMessage`s.
- `output` produces messages to a topic.

The (de)serializing operators work without a broker; with a JSON
deserializer, for example:

>>> import json
>>> import bytewax.operators as op
>>> import bytewax.connectors.kafka.operators as kop
>>> from bytewax.connectors.kafka import KafkaSourceMessage
>>> from bytewax.connectors.kafka.serde import SchemaDeserializer
>>> from bytewax.dataflow import Dataflow
>>> from bytewax.testing import TestingSource, run_main
>>> class Json(SchemaDeserializer):
...     def de(self, data):
...         return json.loads(data)
>>> flow = Dataflow("kafka_ops_eg")
>>> raw = op.input("inp", flow, TestingSource([
...     KafkaSourceMessage(b"a", b'{"n": 1}', offset=0),
...     KafkaSourceMessage(b"b", b"{oops", offset=1),
... ]))
>>> out = kop.deserialize_value("de", raw, Json())
>>> _ = op.inspect("ok", op.map("values", out.oks, lambda m: m.value))
>>> _ = op.inspect("bad", op.map("why", out.errs, lambda e: (e.msg.offset, e.err.name())))
>>> run_main(flow)
kafka_ops_eg.ok: {'n': 1}
kafka_ops_eg.bad: (1, '_VALUE_DESERIALIZATION')

A whole pipeline from one topic to another (needs a broker, so it is
not run here):

>>> flow = Dataflow("kafka_pipeline_eg")
>>> kin = kop.input("kin", flow, brokers=["localhost:9092"], topics=["in"])
>>> parsed = kop.deserialize_value("parse", kin.oks, Json())
>>> from bytewax.connectors.kafka import KafkaSinkMessage
>>> doubled = op.map("double", parsed.oks, lambda m: KafkaSinkMessage(
...     m.key, json.dumps({"n": m.value["n"] * 2}).encode()))
>>> kop.output("kout", doubled, brokers=["localhost:9092"], topic="out")
>>> run_main(flow)  # doctest: +SKIP

"""

from dataclasses import dataclass
from typing import Dict, Generic, List, Optional, TypeVar, Union

from confluent_kafka import OFFSET_BEGINNING
from confluent_kafka import KafkaError as ConfluentKafkaError

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream, operator

from .error import KafkaError
from .message import KafkaSinkMessage, KafkaSourceMessage, MaybeStrBytes
from .serde import SchemaDeserializer, SchemaSerializer
from .sink import KafkaSink
from .source import KafkaSource

__all__ = [
    "KafkaSourceOut",
    "deserialize",
    "deserialize_key",
    "deserialize_value",
    "input",
    "output",
    "serialize",
    "serialize_key",
    "serialize_value",
]

K = TypeVar("K")
V = TypeVar("V")
K2 = TypeVar("K2")
V2 = TypeVar("V2")


@dataclass(frozen=True)
class KafkaSourceOut(Generic[K, V, K2, V2]):
    """The two streams that `input` and the `deserialize*` operators return.

    - `oks`: the messages that were read (or deserialized) fine.
    - `errs`: a `KafkaError` for each one that wasn't.

    """

    oks: Stream[KafkaSourceMessage[K, V]]
    errs: Stream[KafkaError[K2, V2]]


def _is_message(item: object) -> bool:
    return isinstance(item, KafkaSourceMessage)


@operator
def _kafka_error_split(
    step_id: str,
    up: Stream[Union[KafkaSourceMessage[K2, V2], KafkaError[K, V]]],
) -> KafkaSourceOut[K2, V2, K, V]:
    branch = op.branch("branch", up, _is_message)
    return KafkaSourceOut(branch.trues, branch.falses)  # type: ignore[arg-type]


def _as_sink(
    msg: Union[KafkaSourceMessage[K, V], KafkaSinkMessage[K, V]],
) -> KafkaSinkMessage[K, V]:
    if isinstance(msg, KafkaSourceMessage):
        return msg.to_sink()
    return msg


@operator
def _to_sink(
    step_id: str,
    up: Stream[Union[KafkaSourceMessage[K, V], KafkaSinkMessage[K, V]]],
) -> Stream[KafkaSinkMessage[K, V]]:
    return op.map("map", up, _as_sink)


@operator
def input(  # noqa: A001
    step_id: str,
    flow: Dataflow,
    *,
    brokers: List[str],
    topics: List[str],
    tail: bool = True,
    starting_offset: int = OFFSET_BEGINNING,
    add_config: Optional[Dict[str, str]] = None,
    batch_size: int = 1000,
) -> KafkaSourceOut[MaybeStrBytes, MaybeStrBytes, MaybeStrBytes, MaybeStrBytes]:
    """Read topics, with errors on a stream of their own.

    The arguments are those of `bytewax.connectors.kafka.KafkaSource`
    (which this uses with `raise_on_errors=False`): consuming errors
    become `KafkaError` items on `errs` instead of stopping the flow.

    >>> import bytewax.connectors.kafka.operators as kop
    >>> from bytewax.dataflow import Dataflow
    >>> flow = Dataflow("kafka_input_eg")
    >>> kin = kop.input("kin", flow, brokers=["localhost:9092"], topics=["events"])
    >>> sorted(vars(kin))
    ['errs', 'oks']

    """
    source = KafkaSource(
        brokers,
        topics,
        tail=tail,
        starting_offset=starting_offset,
        add_config=add_config,
        batch_size=batch_size,
        raise_on_errors=False,
    )
    return _kafka_error_split("split_err", op.input("kafka_input", flow, source))


@operator
def output(
    step_id: str,
    up: Stream[
        Union[
            KafkaSourceMessage[MaybeStrBytes, MaybeStrBytes],
            KafkaSinkMessage[MaybeStrBytes, MaybeStrBytes],
        ]
    ],
    *,
    brokers: List[str],
    topic: str,
    add_config: Optional[Dict[str, str]] = None,
) -> None:
    """Produce messages to `topic` (or to the topic a message names).

    `KafkaSourceMessage`s are accepted too, and written with their key,
    value and headers (see `KafkaSourceMessage.to_sink`). Keys and
    values must be `bytes`, `str` or `None`. The other arguments are
    those of `bytewax.connectors.kafka.KafkaSink`.

    >>> import bytewax.operators as op
    >>> import bytewax.connectors.kafka.operators as kop
    >>> from bytewax.dataflow import Dataflow
    >>> flow = Dataflow("kafka_output_eg")
    >>> kin = kop.input("kin", flow, brokers=["localhost:9092"], topics=["in"])
    >>> kop.output("kout", kin.oks, brokers=["localhost:9092"], topic="copy-of-in")

    """
    sink_msgs = _to_sink("to_sink", up)
    op.output("kafka_output", sink_msgs, KafkaSink(brokers, topic, add_config))


def _de_error(code: int, ex: Exception) -> ConfluentKafkaError:
    return ConfluentKafkaError(code, str(ex))


@operator
def deserialize_key(
    step_id: str,
    up: Stream[KafkaSourceMessage[K, V]],
    deserializer: SchemaDeserializer[K, K2],
) -> KafkaSourceOut[K2, V, K, V]:
    """Deserialize the key of each message.

    A message whose key can't be deserialized goes to `errs` as a
    `KafkaError` with code `_KEY_DESERIALIZATION`, the exception's text,
    and the message as it was.

    >>> import bytewax.operators as op
    >>> import bytewax.connectors.kafka.operators as kop
    >>> from bytewax.connectors.kafka import KafkaSourceMessage
    >>> from bytewax.connectors.kafka.serde import SchemaDeserializer
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> class Utf8(SchemaDeserializer):
    ...     def de(self, data):
    ...         return data.decode("utf-8")
    >>> flow = Dataflow("de_key_eg")
    >>> raw = op.input("inp", flow, TestingSource([
    ...     KafkaSourceMessage(b"caf\\xc3\\xa9", b"1"),
    ...     KafkaSourceMessage(b"\\xff", b"2"),
    ... ]))
    >>> out = kop.deserialize_key("de", raw, Utf8())
    >>> _ = op.inspect("ok", op.map("k", out.oks, lambda m: m.key))
    >>> _ = op.inspect("bad", op.map("e", out.errs, lambda e: e.err.str()))
    >>> run_main(flow)
    de_key_eg.ok: 'café'
    de_key_eg.bad: "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"

    """

    def shim(msg: KafkaSourceMessage[K, V]) -> Union[KafkaSourceMessage[K2, V], KafkaError[K, V]]:
        try:
            key = deserializer.de(msg.key)
        except Exception as ex:
            return KafkaError(_de_error(ConfluentKafkaError._KEY_DESERIALIZATION, ex), msg)
        return msg._with_key(key)

    return _kafka_error_split("split_err", op.map("map", up, shim))


@operator
def deserialize_value(
    step_id: str,
    up: Stream[KafkaSourceMessage[K, V]],
    deserializer: SchemaDeserializer[V, V2],
) -> KafkaSourceOut[K, V2, K, V]:
    """Deserialize the value of each message.

    A message whose value can't be deserialized goes to `errs` as a
    `KafkaError` with code `_VALUE_DESERIALIZATION`, the exception's
    text, and the message as it was. See the module's example.

    """

    def shim(msg: KafkaSourceMessage[K, V]) -> Union[KafkaSourceMessage[K, V2], KafkaError[K, V]]:
        try:
            value = deserializer.de(msg.value)
        except Exception as ex:
            return KafkaError(_de_error(ConfluentKafkaError._VALUE_DESERIALIZATION, ex), msg)
        return msg._with_value(value)

    return _kafka_error_split("split_err", op.map("map", up, shim))


@operator
def deserialize(
    step_id: str,
    up: Stream[KafkaSourceMessage[K, V]],
    *,
    key_deserializer: SchemaDeserializer[K, K2],
    val_deserializer: SchemaDeserializer[V, V2],
) -> KafkaSourceOut[K2, V2, K, V]:
    """Deserialize the key and the value of each message.

    The key is tried first: a message whose key fails goes to `errs`
    with code `_KEY_DESERIALIZATION`, one whose value fails with
    `_VALUE_DESERIALIZATION`; either way with the message as it was.

    >>> import bytewax.operators as op
    >>> import bytewax.connectors.kafka.operators as kop
    >>> from bytewax.connectors.kafka import KafkaSourceMessage
    >>> from bytewax.connectors.kafka.serde import SchemaDeserializer
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> class Int(SchemaDeserializer):
    ...     def de(self, data):
    ...         return int(data)
    >>> flow = Dataflow("de_eg")
    >>> raw = op.input("inp", flow, TestingSource([
    ...     KafkaSourceMessage(b"1", b"10"),
    ...     KafkaSourceMessage(b"x", b"20"),
    ...     KafkaSourceMessage(b"3", b"y"),
    ... ]))
    >>> out = kop.deserialize("de", raw, key_deserializer=Int(), val_deserializer=Int())
    >>> _ = op.inspect("ok", op.map("kv", out.oks, lambda m: (m.key, m.value)))
    >>> _ = op.inspect("bad", op.map("e", out.errs, lambda e: e.err.name()))
    >>> run_main(flow)
    de_eg.ok: (1, 10)
    de_eg.bad: '_KEY_DESERIALIZATION'
    de_eg.bad: '_VALUE_DESERIALIZATION'

    """

    def shim(msg: KafkaSourceMessage[K, V]) -> Union[KafkaSourceMessage[K2, V2], KafkaError[K, V]]:
        try:
            key = key_deserializer.de(msg.key)
        except Exception as ex:
            return KafkaError(_de_error(ConfluentKafkaError._KEY_DESERIALIZATION, ex), msg)
        try:
            value = val_deserializer.de(msg.value)
        except Exception as ex:
            return KafkaError(_de_error(ConfluentKafkaError._VALUE_DESERIALIZATION, ex), msg)
        return msg._with_key_and_value(key, value)

    return _kafka_error_split("split_err", op.map("map", up, shim))


@operator
def serialize_key(
    step_id: str,
    up: Stream[Union[KafkaSourceMessage[K, V], KafkaSinkMessage[K, V]]],
    serializer: SchemaSerializer[K, K2],
) -> Stream[KafkaSinkMessage[K2, V]]:
    """Serialize the key of each message, giving `KafkaSinkMessage`s.

    `KafkaSourceMessage`s are first turned into sink messages (see
    `KafkaSourceMessage.to_sink`). An exception from the serializer
    stops the flow.

    >>> import bytewax.operators as op
    >>> import bytewax.connectors.kafka.operators as kop
    >>> from bytewax.connectors.kafka import KafkaSinkMessage
    >>> from bytewax.connectors.kafka.serde import SchemaSerializer
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> class Utf8(SchemaSerializer):
    ...     def ser(self, obj):
    ...         return obj.encode("utf-8")
    >>> flow = Dataflow("ser_key_eg")
    >>> msgs = op.input("inp", flow, TestingSource([KafkaSinkMessage("café", b"1")]))
    >>> _ = op.inspect("show", kop.serialize_key("ser", msgs, Utf8()))
    >>> run_main(flow)
    ser_key_eg.show: KafkaSinkMessage(key=b'caf\\xc3\\xa9', value=b'1', topic=None, headers=[],
                                      partition=None, timestamp=0)

    """

    def shim(msg: KafkaSinkMessage[K, V]) -> KafkaSinkMessage[K2, V]:
        return msg._with_key(serializer.ser(msg.key))

    return op.map("map", _to_sink("to_sink", up), shim)


@operator
def serialize_value(
    step_id: str,
    up: Stream[Union[KafkaSourceMessage[K, V], KafkaSinkMessage[K, V]]],
    serializer: SchemaSerializer[V, V2],
) -> Stream[KafkaSinkMessage[K, V2]]:
    """Serialize the value of each message, giving `KafkaSinkMessage`s.

    As `serialize_key`, for values.

    """

    def shim(msg: KafkaSinkMessage[K, V]) -> KafkaSinkMessage[K, V2]:
        return msg._with_value(serializer.ser(msg.value))

    return op.map("map", _to_sink("to_sink", up), shim)


@operator
def serialize(
    step_id: str,
    up: Stream[Union[KafkaSourceMessage[K, V], KafkaSinkMessage[K, V]]],
    *,
    key_serializer: SchemaSerializer[K, K2],
    val_serializer: SchemaSerializer[V, V2],
) -> Stream[KafkaSinkMessage[K2, V2]]:
    """Serialize the key and the value of each message.

    As `serialize_key`, for both.

    >>> import json
    >>> import bytewax.operators as op
    >>> import bytewax.connectors.kafka.operators as kop
    >>> from bytewax.connectors.kafka import KafkaSourceMessage
    >>> from bytewax.connectors.kafka.serde import SchemaSerializer
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> class Json(SchemaSerializer):
    ...     def ser(self, obj):
    ...         return json.dumps(obj).encode()
    >>> flow = Dataflow("ser_eg")
    >>> msgs = op.input("inp", flow, TestingSource([
    ...     KafkaSourceMessage("k", {"n": 1}, topic="in", offset=9),
    ... ]))
    >>> out = kop.serialize("ser", msgs, key_serializer=Json(), val_serializer=Json())
    >>> _ = op.inspect("show", out)
    >>> run_main(flow)
    ser_eg.show: KafkaSinkMessage(key=b'"k"', value=b'{"n": 1}', topic=None, headers=[],
                                  partition=None, timestamp=0)

    """

    def shim(msg: KafkaSinkMessage[K, V]) -> KafkaSinkMessage[K2, V2]:
        return msg._with_key_and_value(key_serializer.ser(msg.key), val_serializer.ser(msg.value))

    return op.map("map", _to_sink("to_sink", up), shim)
