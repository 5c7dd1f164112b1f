"""`KafkaError`: a failure to consume or deserialize a message, as an item.

`KafkaSource(..., raise_on_errors=False)`, `operators.input` and the
`deserialize*` operators emit these instead of stopping the flow, so
that a flow can log them, count them or send them to a dead-letter
topic.

>>> from confluent_kafka import KafkaError as ConfluentKafkaError
>>> from bytewax.connectors.kafka import KafkaError, KafkaSourceMessage
>>> bad = KafkaSourceMessage(b"k", b"not json", topic="t", offset=5)
>>> err = KafkaError(
...     ConfluentKafkaError(ConfluentKafkaError._VALUE_DESERIALIZATION, "bad json"),
...     bad,
... )
>>> err.err.code() == ConfluentKafkaError._VALUE_DESERIALIZATION
True
>>> err.err.str()
'bad json'
>>> err.msg.offset
5

"""

from dataclasses import dataclass
from typing import Generic, TypeVar

from confluent_kafka import KafkaError as ConfluentKafkaError

from .message import KafkaSourceMessage

__all__ = ["KafkaError"]

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class KafkaError(Generic[K, V]):
    """An error, together with the message it is about.

    - `err`: confluent-kafka's own `KafkaError`; `err.code()` tells what
      went wrong and `err.str()` describes it.
    - `msg`: the message the error is about. For errors reported by the
      consumer it carries whatever the client knew (usually just the
      topic and partition); for deserialization errors it is the
      message that could not be deserialized, as it was.

    """

    err: ConfluentKafkaError
    msg: KafkaSourceMessage[K, V]
