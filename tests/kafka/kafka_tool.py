"""Small Kafka client for tests/kafka.rs, run with `bytewax python`.

    kafka_tool.py create BROKERS TOPIC:PARTITIONS [TOPIC:PARTITIONS ...]
    kafka_tool.py produce BROKERS TOPIC < lines
    kafka_tool.py dump BROKERS TOPIC

`produce` reads one message per stdin line, `KEY<TAB>VALUE` or
`KEY<TAB>VALUE<TAB>PARTITION`, and writes them in order. `dump` reads
the whole topic from the beginning and prints one line per message,
`PARTITION<TAB>OFFSET<TAB>KEY<TAB>VALUE`, ordered by partition and
offset. Exits non-zero with a message on any failure.
"""

import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

TIMEOUT_SECS = 30.0


def create(brokers, specs):
    admin = AdminClient({"bootstrap.servers": brokers})
    topics = []
    for spec in specs:
        name, _, parts = spec.partition(":")
        topics.append(NewTopic(name, num_partitions=int(parts or "1"), replication_factor=1))
    for name, fut in admin.create_topics(topics, request_timeout=TIMEOUT_SECS).items():
        fut.result(timeout=TIMEOUT_SECS)
        print(f"created {name}")
    # Wait until the metadata shows every partition.
    deadline = time.monotonic() + TIMEOUT_SECS
    for t in topics:
        while True:
            md = admin.list_topics(t.topic, timeout=TIMEOUT_SECS).topics[t.topic]
            if md.error is None and len(md.partitions) == t.num_partitions:
                break
            if time.monotonic() > deadline:
                sys.exit(f"topic {t.topic} not ready: {md.error} {len(md.partitions)} partitions")
            time.sleep(0.05)


def produce(brokers, topic):
    producer = Producer({"bootstrap.servers": brokers})
    failed = []

    def on_delivery(err, _msg):
        if err is not None:
            failed.append(err)

    n = 0
    for line in sys.stdin.read().splitlines():
        if not line:
            continue
        fields = line.split("\t")
        kwargs = {
            "key": fields[0].encode(),
            "value": fields[1].encode(),
            "on_delivery": on_delivery,
        }
        if len(fields) > 2:
            kwargs["partition"] = int(fields[2])
        producer.produce(topic, **kwargs)
        producer.poll(0)
        n += 1
    left = producer.flush(TIMEOUT_SECS)
    if left or failed:
        sys.exit(f"produce to {topic} failed: {left} not delivered, errors {failed}")
    print(f"produced {n} to {topic}")


def dump(brokers, topic):
    admin = AdminClient({"bootstrap.servers": brokers})
    md = admin.list_topics(topic, timeout=TIMEOUT_SECS).topics[topic]
    if md.error is not None:
        sys.exit(f"can't describe {topic}: {md.error}")
    consumer = Consumer(
        {
            "bootstrap.servers": brokers,
            "group.id": "kafka-tool",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    parts = sorted(md.partitions)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    pending = set(parts)
    rows = []
    deadline = time.monotonic() + TIMEOUT_SECS
    while pending:
        if time.monotonic() > deadline:
            sys.exit(f"timed out reading {topic}; partitions {sorted(pending)} never ended")
        for msg in consumer.consume(1000, 0.1):
            err = msg.error()
            if err is None:
                key = msg.key().decode() if msg.key() is not None else "<none>"
                value = msg.value().decode() if msg.value() is not None else "<none>"
                rows.append((msg.partition(), msg.offset(), key, value))
            elif err.code() == KafkaError._PARTITION_EOF:
                pending.discard(msg.partition())
            else:
                sys.exit(f"error reading {topic}: {err}")
    consumer.close()
    for row in sorted(rows):
        print("\t".join(str(x) for x in row))


def main():
    cmd, brokers, *rest = sys.argv[1:]
    if cmd == "create":
        create(brokers, rest)
    elif cmd == "produce":
        produce(brokers, rest[0])
    elif cmd == "dump":
        dump(brokers, rest[0])
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
