"""`KafkaSink`: produce a dataflow's items to Kafka."""

from typing import Any, Dict, Iterable, List, Optional

from confluent_kafka import Producer

from bytewax.outputs import DynamicSink, StatelessSinkPartition

from .message import KafkaSinkMessage, MaybeStrBytes
from .source import _client_config, _str_list

__all__ = ["KafkaSink"]

_SinkItem = KafkaSinkMessage[MaybeStrBytes, MaybeStrBytes]

# How long to let the producer drain its queue when it is full.
_QUEUE_FULL_WAIT_SECS = 0.1


class _KafkaSinkPartition(StatelessSinkPartition[_SinkItem]):
    def __init__(self, producer: Producer, topic: Optional[str]):
        self._producer = producer
        self._topic = topic
        self._failed: List[Any] = []

    def _on_delivery(self, err: Any, msg: Any) -> None:
        if err is not None:
            self._failed.append((err, msg.topic()))

    def _produce(self, **kwargs: Any) -> None:
        while True:
            try:
                self._producer.produce(**kwargs)
                break
            except BufferError:
                # The client's queue is full: let it send some first.
                self._producer.poll(_QUEUE_FULL_WAIT_SECS)

    def _flush(self) -> None:
        self._producer.flush()
        if self._failed:
            failed, self._failed = self._failed, []
            err, topic = failed[0]
            msg = (
                f"Kafka did not accept {len(failed)} message(s); the first one, "
                f"for topic {topic!r}, failed with: {err.str()} ({err.name()})"
            )
            raise RuntimeError(msg)

    def write_batch(self, items: List[_SinkItem]) -> None:
        for item in items:
            topic = item.topic or self._topic
            if topic is None:
                msg = (
                    f"No topic to produce to for {item!r}: set `topic` on the "
                    "`KafkaSinkMessage` or give `KafkaSink` a default topic"
                )
                raise RuntimeError(msg)
            kwargs: Dict[str, Any] = {
                "topic": topic,
                "value": item.value,
                "key": item.key,
                "headers": item.headers,
                "timestamp": item.timestamp,
                "on_delivery": self._on_delivery,
            }
            if item.partition is not None:
                kwargs["partition"] = item.partition
            self._produce(**kwargs)
            # Serve delivery reports as we go.
            self._producer.poll(0)
        self._flush()

    def close(self) -> None:
        self._flush()


class KafkaSink(DynamicSink[_SinkItem]):
    """Produce `KafkaSinkMessage`s to Kafka.

    Every worker has a producer of its own. A message goes to its own
    `topic` if it names one, else to this sink's `topic`; with neither,
    the flow fails with `RuntimeError`. A message's `partition`, if set,
    picks the partition; otherwise the producer's partitioner does (by
    key). Each batch is flushed before the next one is taken, and a
    message that Kafka refuses fails the flow with `RuntimeError`
    instead of being dropped silently.

    Keys and values must already be `bytes`, `str` or `None`: use the
    `serialize*` operators of `bytewax.connectors.kafka.operators`, or
    a `map`, to get there.

    `add_config` is added to (and overrides) the producer's
    configuration, for example `{"compression.type": "zstd"}` or
    security settings.

    >>> import bytewax.operators as op
    >>> from bytewax.connectors.kafka import KafkaSink, KafkaSinkMessage
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource
    >>> flow = Dataflow("kafka_sink_eg")
    >>> words = op.input("words", flow, TestingSource(["a", "b"]))
    >>> msgs = op.map("to_msg", words, lambda w: KafkaSinkMessage(w.encode(), w.upper()))
    >>> op.output("out", msgs, KafkaSink(["localhost:9092"], "letters"))
    >>> from bytewax.testing import run_main
    >>> run_main(flow)  # doctest: +SKIP

    """

    def __init__(
        self,
        brokers: Iterable[str],
        topic: Optional[str],
        add_config: Optional[Dict[str, str]] = None,
    ):
        """Produce to the cluster at `brokers`, by default to `topic`."""
        self._brokers = _str_list("brokers", brokers)
        self._topic = topic
        self._add_config = dict(add_config or {})

    def build(self, worker_index: int, worker_count: int) -> _KafkaSinkPartition:
        """Make this worker's producer."""
        producer = Producer(_client_config(self._brokers, self._add_config))
        return _KafkaSinkPartition(producer, self._topic)
