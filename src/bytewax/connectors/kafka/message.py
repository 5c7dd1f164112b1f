"""The items `KafkaSource` emits and `KafkaSink` writes.

Both are frozen dataclasses, generic in the type of their key and
value: straight from Kafka these are `bytes` (or `None`), and the
`deserialize*` operators of `bytewax.connectors.kafka.operators` turn
them into whatever a deserializer returns.

>>> from bytewax.connectors.kafka import KafkaSinkMessage, KafkaSourceMessage
>>> got = KafkaSourceMessage(
...     b"user-1", b"42", topic="clicks", headers=[("origin", b"web")],
...     offset=7, partition=0,
... )
>>> got.to_sink()
KafkaSinkMessage(key=b'user-1', value=b'42', topic=None, headers=[('origin', b'web')],
                 partition=None, timestamp=0)
>>> KafkaSinkMessage(b"user-1", b"43", topic="other")
KafkaSinkMessage(key=b'user-1', value=b'43', topic='other', headers=[], partition=None, timestamp=0)

"""

from dataclasses import dataclass, field, replace
from typing import Generic, List, Optional, Tuple, TypeVar, Union

__all__ = [
    "KafkaSinkMessage",
    "KafkaSourceMessage",
]

MaybeStrBytes = Union[str, bytes, None]
"""What keys and values are when they come from, or go to, Kafka."""

K = TypeVar("K")
V = TypeVar("V")
K2 = TypeVar("K2")
V2 = TypeVar("V2")
K_co = TypeVar("K_co", covariant=True)
V_co = TypeVar("V_co", covariant=True)


@dataclass(frozen=True)
class KafkaSourceMessage(Generic[K, V]):
    """One record consumed from Kafka, with its metadata.

    - `key` and `value`: the record's payload (`bytes` or `None` as
      read; deserialized by the `deserialize*` operators).
    - `topic`, `partition`, `offset`: where the record was read from.
    - `headers`: the record's headers, a list of `(name, bytes)` pairs;
      `KafkaSource` gives `None` for a record without headers (that is
      what confluent-kafka reports).
    - `timestamp`: `(timestamp type, milliseconds since the epoch)`, as
      confluent-kafka reports it.
    - `latency`: how long the record waited in the client, in seconds,
      if known.

    """

    key: K
    value: V
    topic: Optional[str] = None
    headers: List[Tuple[str, bytes]] = field(default_factory=list)
    latency: Optional[float] = None
    offset: Optional[int] = None
    partition: Optional[int] = None
    timestamp: Optional[Tuple[int, int]] = None

    def to_sink(self) -> "KafkaSinkMessage[K, V]":
        """A message to produce with the same key, value and headers.

        The topic, partition and timestamp are not carried over, so the
        new message goes to the sink's own topic with a fresh timestamp.

        >>> KafkaSourceMessage(b"k", b"v", topic="t", offset=3).to_sink()
        KafkaSinkMessage(key=b'k', value=b'v', topic=None, headers=[], partition=None, timestamp=0)

        """
        return KafkaSinkMessage(key=self.key, value=self.value, headers=self.headers)

    def _with_key(self, key: K2) -> "KafkaSourceMessage[K2, V]":
        return replace(self, key=key)  # type: ignore[arg-type,return-value]

    def _with_value(self, value: V2) -> "KafkaSourceMessage[K, V2]":
        return replace(self, value=value)  # type: ignore[arg-type,return-value]

    def _with_key_and_value(self, key: K2, value: V2) -> "KafkaSourceMessage[K2, V2]":
        return replace(self, key=key, value=value)  # type: ignore[arg-type,return-value]


@dataclass(frozen=True)
class KafkaSinkMessage(Generic[K_co, V_co]):
    """One record for `KafkaSink` to produce.

    - `key` and `value`: what to write (`bytes`, `str` or `None`; use the
      `serialize*` operators to get there from other types).
    - `topic`: where to write it; `None` means the sink's own topic.
    - `headers`: a list of `(name, bytes)` pairs.
    - `partition`: the partition to write to; `None` lets the producer's
      partitioner choose (by key).
    - `timestamp`: milliseconds since the epoch; `0` means "now".

    """

    key: K_co
    value: V_co
    topic: Optional[str] = None
    headers: List[Tuple[str, bytes]] = field(default_factory=list)
    partition: Optional[int] = None
    timestamp: int = 0

    def _with_key(self, key: K2) -> "KafkaSinkMessage[K2, V_co]":
        return replace(self, key=key)  # type: ignore[arg-type,return-value]

    def _with_value(self, value: V2) -> "KafkaSinkMessage[K_co, V2]":
        return replace(self, value=value)  # type: ignore[arg-type,return-value]

    def _with_key_and_value(self, key: K2, value: V2) -> "KafkaSinkMessage[K2, V2]":
        return replace(self, key=key, value=value)  # type: ignore[arg-type,return-value]
