"""Interfaces of the key and value (de)serializers the Kafka operators use.

`bytewax.connectors.kafka.operators.serialize` and friends call
`SchemaSerializer.ser` on keys or values before they are produced, and
`deserialize` and friends call `SchemaDeserializer.de` on what was
consumed. Implement them for your own formats, or get Avro ones from a
schema registry with `bytewax.connectors.kafka.registry`.

A JSON pair, for example:

>>> import json
>>> from bytewax.connectors.kafka.serde import SchemaDeserializer, SchemaSerializer
>>> class JsonSerializer(SchemaSerializer[object, bytes]):
...     def ser(self, obj):
...         return json.dumps(obj, sort_keys=True).encode()
>>> class JsonDeserializer(SchemaDeserializer[bytes, object]):
...     def de(self, data):
...         return json.loads(data)
>>> JsonSerializer().ser({"b": 1, "a": [2]})
b'{"a": [2], "b": 1}'
>>> JsonDeserializer().de(b'{"a": [2]}')
{'a': [2]}

"""

import io
import struct
from abc import ABC, abstractmethod
from decimal import Decimal
from typing import Any, Callable, Dict, Generic, List, TypeVar, Union

__all__ = [
    "AvroMessage",
    "SchemaDeserializer",
    "SchemaSerializer",
    "SerdeIn",
    "SerdeOut",
]

SerdeIn = TypeVar("SerdeIn")
SerdeOut = TypeVar("SerdeOut")

AvroMessage = Union[None, str, float, int, Decimal, bool, bytes, List[Any], Dict[Any, Any]]
"""What an Avro value decodes to in Python."""


class SchemaSerializer(ABC, Generic[SerdeIn, SerdeOut]):
    """Turns a key or value into what is written to Kafka."""

    @abstractmethod
    def ser(self, obj: SerdeIn) -> SerdeOut:
        """Serialize `obj`; raise an exception if it can't be done."""
        ...


class SchemaDeserializer(ABC, Generic[SerdeIn, SerdeOut]):
    """Turns a key or value read from Kafka into a Python object."""

    @abstractmethod
    def de(self, data: SerdeIn) -> SerdeOut:
        """Deserialize `data`; raise an exception if it is malformed.

        The `deserialize*` operators turn the exception into a
        `bytewax.connectors.kafka.KafkaError` item on their error stream.

        """
        ...


def _fastavro() -> Any:
    try:
        import fastavro
    except ModuleNotFoundError as ex:
        if ex.name != "fastavro":
            raise
        msg = (
            "Avro (de)serialization in `bytewax.connectors.kafka` needs the Python "
            "package `fastavro`, which is not installed; run `pip install fastavro` "
            "in the virtualenv you run bytewax with"
        )
        raise ModuleNotFoundError(msg, name="fastavro") from None
    return fastavro


def _parse_avro_schema(schema: Union[str, bytes, Dict[str, Any]]) -> Any:
    import json

    if isinstance(schema, (str, bytes)):
        schema = json.loads(schema)
    return _fastavro().parse_schema(schema)


# The Confluent wire format: a zero byte, the schema's id in the
# registry as a big-endian 32-bit integer, then the Avro encoding.
_CONFLUENT_MAGIC = 0
_CONFLUENT_HEADER = struct.Struct(">bI")


class _AvroSerializer(SchemaSerializer[Any, bytes]):
    """Plain Avro encoding with a fixed schema, no framing."""

    def __init__(self, schema: Any):
        self._schema = _parse_avro_schema(schema)

    def ser(self, obj: Any) -> bytes:
        buf = io.BytesIO()
        _fastavro().schemaless_writer(buf, self._schema, obj)
        return buf.getvalue()


class _AvroDeserializer(SchemaDeserializer[Union[str, bytes, None], AvroMessage]):
    """Plain Avro decoding with a fixed schema, no framing."""

    def __init__(self, schema: Any):
        self._schema = _parse_avro_schema(schema)

    def de(self, data: Union[str, bytes, None]) -> AvroMessage:
        if data is None:
            return None
        if isinstance(data, str):
            data = data.encode()
        return _fastavro().schemaless_reader(io.BytesIO(data), self._schema, None)


class _ConfluentAvroSerializer(SchemaSerializer[Any, bytes]):
    """Avro in the Confluent wire format, for one registered schema."""

    def __init__(self, schema_id: int, schema: Any):
        self._header = _CONFLUENT_HEADER.pack(_CONFLUENT_MAGIC, schema_id)
        self._inner = _AvroSerializer(schema)

    def ser(self, obj: Any) -> bytes:
        return self._header + self._inner.ser(obj)


class _ConfluentAvroDeserializer(SchemaDeserializer[Union[str, bytes, None], AvroMessage]):
    """Avro in the Confluent wire format, with schemas looked up by id."""

    def __init__(self, get_schema: Callable[[int], Any]):
        self._get_schema = get_schema
        self._by_id: Dict[int, _AvroDeserializer] = {}

    def de(self, data: Union[str, bytes, None]) -> AvroMessage:
        if data is None:
            return None
        if isinstance(data, str):
            data = data.encode()
        if len(data) < _CONFLUENT_HEADER.size:
            msg = f"{len(data)} bytes are too short for a schema registry message"
            raise ValueError(msg)
        magic, schema_id = _CONFLUENT_HEADER.unpack_from(data)
        if magic != _CONFLUENT_MAGIC:
            msg = f"not a schema registry message: it starts with byte {magic}, not 0"
            raise ValueError(msg)
        inner = self._by_id.get(schema_id)
        if inner is None:
            inner = _AvroDeserializer(self._get_schema(schema_id))
            self._by_id[schema_id] = inner
        return inner.de(data[_CONFLUENT_HEADER.size :])
