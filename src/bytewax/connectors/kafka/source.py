"""`KafkaSource`: read Kafka topics into a dataflow."""

from datetime import datetime
from typing import Any, Dict, Iterable, List, Optional, Union

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from confluent_kafka import KafkaError as ConfluentKafkaError
from confluent_kafka.admin import AdminClient

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from .error import KafkaError
from .message import KafkaSourceMessage, MaybeStrBytes

__all__ = ["KafkaSource"]

_KafkaMessage = KafkaSourceMessage[MaybeStrBytes, MaybeStrBytes]
_KafkaError = KafkaError[MaybeStrBytes, MaybeStrBytes]
_KafkaItem = Union[_KafkaMessage, _KafkaError]

# How long `list_parts` waits for the brokers to describe a topic.
_METADATA_TIMEOUT_SECS = 30.0
# How long one `next_batch` may wait in the client for records: a
# millisecond, so an idle partition doesn't hold up the worker.
_CONSUME_TIMEOUT_SECS = 0.001


def _str_list(arg_name: str, value: Iterable[str]) -> List[str]:
    if isinstance(value, (str, bytes)):
        msg = f"`{arg_name}` must be a list of strings, not a single string; write `[{value!r}]`"
        raise TypeError(msg)
    return list(value)


def _client_config(brokers: List[str], add_config: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    config: Dict[str, Any] = {"bootstrap.servers": ",".join(brokers)}
    config.update(add_config or {})
    return config


def _list_parts(client: AdminClient, topics: Iterable[str], brokers: List[str]) -> List[str]:
    parts = []
    for topic in topics:
        try:
            cluster = client.list_topics(topic, timeout=_METADATA_TIMEOUT_SECS)
        except KafkaException as ex:
            msg = (
                f"can't get the partitions of Kafka topic {topic!r} from brokers "
                f"{','.join(brokers)}: {ex.args[0] if ex.args else ex}"
            )
            raise RuntimeError(msg) from ex
        meta = cluster.topics[topic]
        if meta.error is not None:
            msg = (
                f"can't get the partitions of Kafka topic {topic!r} from brokers "
                f"{','.join(brokers)}: {meta.error.str()}"
            )
            raise RuntimeError(msg)
        parts.extend(f"{idx}-{topic}" for idx in sorted(meta.partitions))
    return parts


def _source_message(msg: Any) -> _KafkaMessage:
    """Copy a confluent-kafka `Message` into a `KafkaSourceMessage`."""
    return KafkaSourceMessage(
        key=msg.key(),
        value=msg.value(),
        topic=msg.topic(),
        # `None` when the record has no headers, as confluent-kafka says
        # (and as Bytewax 0.18 emits).
        headers=msg.headers(),  # type: ignore[arg-type]
        latency=msg.latency(),
        offset=msg.offset(),
        partition=msg.partition(),
        timestamp=msg.timestamp(),
    )


class _KafkaSourcePartition(StatefulSourcePartition[_KafkaItem, Optional[int]]):
    """One topic partition, read through a consumer of its own."""

    def __init__(
        self,
        consumer: Consumer,
        topic: str,
        part_idx: int,
        starting_offset: int,
        resume_state: Optional[int],
        batch_size: int,
        raise_on_errors: bool,
    ):
        # The offset of the next record to emit; a logical offset like
        # `OFFSET_BEGINNING` until the first record arrives.
        self._offset = starting_offset if resume_state is None else resume_state
        # `assign` (not `subscribe`): no consumer group rebalancing, the
        # partition is read from exactly this offset.
        consumer.assign([TopicPartition(topic, part_idx, self._offset)])
        self._consumer = consumer
        self._topic = topic
        self._part_idx = part_idx
        self._batch_size = batch_size
        self._raise_on_errors = raise_on_errors
        self._eof = False

    def next_batch(self, sched: Optional[datetime]) -> List[_KafkaItem]:
        if self._eof:
            raise StopIteration()
        batch: List[_KafkaItem] = []
        last_offset = None
        for msg in self._consumer.consume(self._batch_size, _CONSUME_TIMEOUT_SECS):
            err = msg.error()
            if err is None:
                batch.append(_source_message(msg))
                last_offset = msg.offset()
            elif err.code() == ConfluentKafkaError._PARTITION_EOF:
                # Only asked for when not tailing. The consumer reads this
                # one partition, so its end is the end of this partition;
                # finish this batch and stop on the next call.
                self._eof = True
                break
            elif self._raise_on_errors:
                text = (
                    f"error consuming from Kafka topic {self._topic!r} "
                    f"partition {self._part_idx}: {err.str()} ({err.name()})"
                )
                raise RuntimeError(text)
            else:
                batch.append(KafkaError(err, _source_message(msg)))
        if last_offset is not None:
            self._offset = last_offset + 1
        return batch

    def snapshot(self) -> Optional[int]:
        return self._offset

    def close(self) -> None:
        self._consumer.close()


class KafkaSource(FixedPartitionedSource[_KafkaItem, Optional[int]]):
    """Read the records of Kafka topics as `KafkaSourceMessage`s.

    Each partition of each topic is one partition of this source, named
    `"{partition}-{topic}"`, and is read by one worker through a
    consumer of its own. Consumers are assigned their partition directly
    (no consumer group, and no offsets committed to Kafka): where to
    start is this source's business.

    - Without recovery, or on a first run, each partition starts at
      `starting_offset`: `confluent_kafka.OFFSET_BEGINNING` (the
      default), `OFFSET_END`, `OFFSET_STORED` or an absolute offset.
    - With recovery, the snapshot of a partition is the offset after
      the last record it emitted, and a resumed flow starts there, so
      records that were part of a finished epoch are not read again.

    With `tail=True` (the default) the source never ends: it waits for
    new records. With `tail=False` each partition ends when it reaches
    the end of the partition as it was when read (the flow stops once
    every partition has).

    When consuming fails, the source raises `RuntimeError` and the flow
    stops, unless `raise_on_errors=False`: then a `KafkaError` item
    carrying the error is emitted instead and reading goes on (see
    `bytewax.connectors.kafka.operators.input`, which splits those off).

    `add_config` is added to (and overrides) the configuration of the
    admin client used to list partitions and of each consumer; use it
    for security settings and other librdkafka properties. `batch_size`
    is the most records a partition hands over at once.

    >>> from bytewax.connectors.kafka import KafkaSource
    >>> source = KafkaSource(
    ...     ["localhost:9092"],
    ...     ["events"],
    ...     tail=False,
    ...     add_config={"security.protocol": "plaintext"},
    ... )
    >>> source.list_parts()  # doctest: +SKIP
    ['0-events', '1-events', '2-events']
    >>> KafkaSource("localhost:9092", ["events"])
    Traceback (most recent call last):
    ...
    TypeError: `brokers` must be a list of strings, not a single string; write `['localhost:9092']`

    """

    def __init__(
        self,
        brokers: Iterable[str],
        topics: Iterable[str],
        tail: bool = True,
        starting_offset: int = OFFSET_BEGINNING,
        add_config: Optional[Dict[str, str]] = None,
        batch_size: int = 1000,
        raise_on_errors: bool = True,
    ):
        """Read `topics` from the cluster reachable at `brokers`."""
        self._brokers = _str_list("brokers", brokers)
        self._topics = _str_list("topics", topics)
        self._tail = tail
        self._starting_offset = starting_offset
        self._add_config = dict(add_config or {})
        self._batch_size = batch_size
        self._raise_on_errors = raise_on_errors

    def list_parts(self) -> List[str]:
        """Every partition of every topic, as `"{partition}-{topic}"`.

        Raises `RuntimeError` if a topic can't be described (for example
        it doesn't exist and the brokers don't create topics on demand,
        or no broker answers).

        """
        client = AdminClient(_client_config(self._brokers, self._add_config))
        return _list_parts(client, self._topics, self._brokers)

    def build_part(
        self,
        now: datetime,
        for_part: str,
        resume_state: Optional[int],
    ) -> _KafkaSourcePartition:
        """Open a consumer on one partition.

        It starts at `resume_state` if there is one, else at
        `starting_offset`.

        """
        idx, sep, topic = for_part.partition("-")
        if not sep or not idx.isdigit() or topic not in self._topics:
            msg = (
                f"can't build partition {for_part!r}: this `KafkaSource` reads "
                f"topics {self._topics!r} and names partitions `{{partition}}-{{topic}}`"
            )
            raise ValueError(msg)
        config = {
            # Required by the client, but unused: partitions are assigned
            # explicitly and no offsets are committed.
            "group.id": "BYTEWAX_IGNORED",
            "enable.auto.commit": False,
            "enable.partition.eof": not self._tail,
        }
        config.update(_client_config(self._brokers, self._add_config))
        consumer = Consumer(config)
        return _KafkaSourcePartition(
            consumer,
            topic,
            int(idx),
            self._starting_offset,
            resume_state,
            self._batch_size,
            self._raise_on_errors,
        )
