"""Avro serializers and deserializers backed by a schema registry.

Two registries are supported:

- `ConfluentSchemaRegistry` wraps a confluent-kafka
  `SchemaRegistryClient` (install `confluent-kafka[schemaregistry]`).
  It writes and reads the Confluent wire format: a zero byte and the
  schema's 32-bit id before the Avro data. Its deserializer looks the
  writer's schema up by that id, so it reads records written with any
  registered schema.
- `RedpandaSchemaRegistry` talks to a registry's HTTP API (Redpanda's,
  or any Confluent-compatible one) with the standard library. It
  writes and reads plain Avro data without framing, so both sides must
  agree on the schema.

Both need the `fastavro` package for the Avro encoding itself.

Schemas are named by a `SchemaRef` (a subject and optionally a version,
the latest by default) or by their numeric id. Hand the results to the
`serialize*` and `deserialize*` operators of
`bytewax.connectors.kafka.operators`:

>>> from bytewax.connectors.kafka.registry import RedpandaSchemaRegistry, SchemaRef
>>> registry = RedpandaSchemaRegistry("http://localhost:8081")
>>> ref = SchemaRef("sensor-value")
>>> ref
SchemaRef(subject='sensor-value', version=None)
>>> value_ser = registry.serializer(ref)  # doctest: +SKIP
>>> value_ser.ser({"id": "a", "reading": 1.5})  # doctest: +SKIP
b'\\x02a\\x00\\x00\\x00\\x00\\x00\\x00\\xf8?'

"""

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, Union

from .message import MaybeStrBytes
from .serde import (
    AvroMessage,
    SchemaDeserializer,
    SchemaSerializer,
    _AvroDeserializer,
    _AvroSerializer,
    _ConfluentAvroDeserializer,
    _ConfluentAvroSerializer,
)

if TYPE_CHECKING:
    from confluent_kafka.schema_registry import SchemaRegistryClient

__all__ = [
    "ConfluentSchemaRegistry",
    "RedpandaSchemaRegistry",
    "SchemaRef",
]

logger = logging.getLogger(__name__)

# How long one request to a registry may take.
_HTTP_TIMEOUT_SECS = 30.0


@dataclass(frozen=True)
class SchemaRef:
    """A schema in a registry: a subject and a version of it.

    `version=None` means the subject's latest version when the
    serializer or deserializer is made.

    """

    subject: str
    version: Optional[int] = None


class ConfluentSchemaRegistry:
    """Avro (de)serializers from a Confluent schema registry.

    `client` is a `confluent_kafka.schema_registry.SchemaRegistryClient`
    (from `pip install "confluent-kafka[schemaregistry]"`), configured
    with the registry's URL and credentials.

    >>> from confluent_kafka.schema_registry import SchemaRegistryClient  # doctest: +SKIP
    >>> client = SchemaRegistryClient({"url": "http://localhost:8081"})  # doctest: +SKIP
    >>> registry = ConfluentSchemaRegistry(client)  # doctest: +SKIP
    >>> value_ser = registry.serializer(SchemaRef("sensor-value"))  # doctest: +SKIP
    >>> value_de = registry.deserializer()  # doctest: +SKIP

    """

    def __init__(self, client: "SchemaRegistryClient"):
        """Use `client` to reach the registry."""
        self._client = client

    def _lookup(self, schema_ref: Union[int, SchemaRef]) -> Tuple[int, str]:
        if isinstance(schema_ref, int):
            return schema_ref, self._client.get_schema(schema_ref).schema_str
        if schema_ref.version is None:
            registered = self._client.get_latest_version(schema_ref.subject)
        else:
            registered = self._client.get_version(schema_ref.subject, schema_ref.version)
        return registered.schema_id, registered.schema.schema_str

    def _get_schema(self, schema_ref: Union[int, SchemaRef]) -> str:
        return self._lookup(schema_ref)[1]

    def serializer(self, schema_ref: Union[int, SchemaRef]) -> SchemaSerializer[Dict, bytes]:
        """A serializer writing with the schema `schema_ref` names.

        The schema is fetched now. Its output starts with the Confluent
        framing (magic byte and schema id), so any Confluent-compatible
        consumer can decode it.

        """
        schema_id, schema = self._lookup(schema_ref)
        logger.debug("serializing with schema %s (id %s)", schema_ref, schema_id)
        return _ConfluentAvroSerializer(schema_id, schema)

    def deserializer(self) -> SchemaDeserializer[MaybeStrBytes, AvroMessage]:
        """A deserializer for data in the Confluent framing.

        Each message names the id of the schema it was written with;
        schemas are fetched from the registry the first time an id is
        seen, and cached.

        """
        return _ConfluentAvroDeserializer(lambda schema_id: self._get_schema(schema_id))


class RedpandaSchemaRegistry:
    """Plain Avro (de)serializers from a registry's HTTP API.

    `base_url` is where the registry's API is served (Redpanda's default
    is `http://localhost:8081`). Unlike `ConfluentSchemaRegistry`, data
    is plain Avro without the schema id in front, so the deserializer is
    made for one schema too.

    >>> registry = RedpandaSchemaRegistry("http://localhost:8081")
    >>> key_de = registry.deserializer(SchemaRef("sensor-key", version=2))  # doctest: +SKIP

    """

    def __init__(self, base_url: str = "http://localhost:8081"):
        """Use the registry API at `base_url`."""
        self._base_url = base_url.rstrip("/")

    def _get_json(self, path: str) -> Any:
        url = f"{self._base_url}{path}"
        req = urllib.request.Request(
            url,
            headers={"Accept": "application/vnd.schemaregistry.v1+json, application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=_HTTP_TIMEOUT_SECS) as resp:  # noqa: S310
                return json.loads(resp.read())
        except urllib.error.HTTPError as ex:
            body = ex.read().decode(errors="replace")
            msg = f"schema registry request `GET {url}` failed: HTTP {ex.code}: {body}"
            raise RuntimeError(msg) from ex
        except urllib.error.URLError as ex:
            msg = f"can't reach the schema registry at {url}: {ex.reason}"
            raise RuntimeError(msg) from ex

    def _get_schema(self, schema_ref: Union[int, SchemaRef]) -> bytes:
        if isinstance(schema_ref, int):
            resp = self._get_json(f"/schemas/ids/{schema_ref}")
        else:
            subject = urllib.parse.quote(schema_ref.subject, safe="")
            version = "latest" if schema_ref.version is None else str(schema_ref.version)
            resp = self._get_json(f"/subjects/{subject}/versions/{version}")
        return resp["schema"].encode()

    def serializer(self, schema_ref: Union[int, SchemaRef]) -> SchemaSerializer[Dict, bytes]:
        """A serializer writing plain Avro with the schema `schema_ref` names."""
        return _AvroSerializer(self._get_schema(schema_ref))

    def deserializer(
        self, schema_ref: Union[int, SchemaRef]
    ) -> SchemaDeserializer[MaybeStrBytes, AvroMessage]:
        """A deserializer reading plain Avro written with that schema."""
        return _AvroDeserializer(self._get_schema(schema_ref))
