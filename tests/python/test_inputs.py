"""`bytewax.inputs`: the polling source and the batching helpers."""

import asyncio
import queue
from datetime import datetime, timedelta, timezone

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.inputs import (
    AbortExecution,
    DynamicSource,
    FixedPartitionedSource,
    SimplePollingSource,
    Source,
    StatelessSourcePartition,
    batch,
    batch_async,
    batch_getter,
    batch_getter_ex,
)
from bytewax.testing import TestingSink, run_main

NOW = datetime(2024, 1, 1, 0, 0, 7, tzinfo=timezone.utc)
ALIGN = datetime(2024, 1, 1, tzinfo=timezone.utc)


class _Scripted(SimplePollingSource):
    def __init__(self, script, interval=timedelta(seconds=10), align_to=None):
        super().__init__(interval, align_to)
        self._script = iter(script)

    def next_item(self):
        step = next(self._script)
        if isinstance(step, Exception):
            raise step
        return step


def test_abort_execution_is_runtime_error():
    assert issubclass(AbortExecution, RuntimeError)


def test_abcs():
    assert issubclass(FixedPartitionedSource, Source)
    assert issubclass(DynamicSource, Source)
    with pytest.raises(TypeError):
        FixedPartitionedSource()


def test_simple_polling_schedule():
    src = _Scripted([1, SimplePollingSource.Retry(timedelta(seconds=1)), None, 4])
    assert src.list_parts() == ["singleton"]
    part = src.build_part(NOW, "singleton", None)
    assert part.next_awake() == NOW
    log = []
    for _ in range(4):
        batch_ = part.next_batch(part.next_awake())
        log.append((batch_, (part.next_awake() - NOW).total_seconds()))
    assert log == [([1], 10.0), ([], 11.0), ([], 21.0), ([4], 31.0)]
    assert part.snapshot() is None
    with pytest.raises(StopIteration):
        part.next_batch(part.next_awake())


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (NOW, ALIGN + timedelta(seconds=10)),
        (ALIGN + timedelta(seconds=10), ALIGN + timedelta(seconds=10)),
        (ALIGN + timedelta(seconds=10, microseconds=1), ALIGN + timedelta(seconds=20)),
    ],
)
def test_simple_polling_align_to(now, expected):
    part = _Scripted([], align_to=ALIGN).build_part(now, "singleton", None)
    assert part.next_awake() == expected


def test_simple_polling_align_to_far_past():
    long_ago = ALIGN - timedelta(days=3650)
    part = _Scripted([], align_to=long_ago).build_part(NOW, "singleton", None)
    assert part.next_awake() == ALIGN + timedelta(seconds=10)


def test_simple_polling_zero_interval_polls_continuously():
    for align_to in (None, ALIGN):
        part = _Scripted([1, 2], interval=timedelta(0), align_to=align_to).build_part(
            NOW, "singleton", None
        )
        assert part.next_batch(NOW) == [1]
        assert part.next_batch(NOW) == [2]
        assert part.next_awake() == NOW


def test_simple_polling_bad_arguments():
    with pytest.raises(ValueError, match="`interval` must not be negative"):
        _Scripted([], interval=timedelta(seconds=-1))
    with pytest.raises(TypeError, match="`align_to` must be a timezone-aware"):
        _Scripted([], align_to=datetime(2024, 1, 1))
    with pytest.raises(TypeError, match="`interval` must be a `datetime.timedelta`"):
        _Scripted([], interval=5)


def test_simple_polling_flow():
    class Counter(SimplePollingSource):
        def __init__(self):
            super().__init__(timedelta(milliseconds=1))
            self.n = 0

        def next_item(self):
            self.n += 1
            if self.n > 3:
                raise StopIteration()
            return self.n

    flow = Dataflow("test_df")
    out = []
    op.output("out", op.input("inp", flow, Counter()), TestingSink(out))
    run_main(flow)
    assert out == [1, 2, 3]


def test_dynamic_source_flow():
    class Part(StatelessSourcePartition):
        def __init__(self, worker_index):
            self.left = [f"w{worker_index}-{i}" for i in range(3)]
            self.closed = False

        def next_batch(self, sched):
            if not self.left:
                raise StopIteration()
            return [self.left.pop(0)]

    class Src(DynamicSource):
        def build(self, now, worker_index, worker_count):
            assert now.tzinfo is not None
            return Part(worker_index)

    flow = Dataflow("test_df")
    out = []
    op.output("out", op.input("inp", flow, Src()), TestingSink(out))
    run_main(flow)
    assert out == ["w0-0", "w0-1", "w0-2"]


def test_batch():
    assert list(batch(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batch([], 3)) == []


def test_batch_getter():
    vals = iter([1, 2, None, 3, None, None, 4, 5, 6, 7])
    batches = list(batch_getter(lambda: next(vals), 2))
    assert batches == [[1, 2], [], [3], [], [4, 5], [6, 7]]


def test_batch_getter_custom_sentinel():
    vals = iter(["a", "", "b"])
    assert list(batch_getter(lambda: next(vals), 5, yield_on="")) == [["a"], ["b"]]


def test_batch_getter_ex():
    q = queue.Queue()
    for x in [1, 2, 3]:
        q.put(x)
    it = batch_getter_ex(q.get_nowait, 2)
    assert [next(it) for _ in range(4)] == [[1, 2], [3], [], []]
    q.put(4)
    assert next(it) == [4]


def test_batch_getter_ex_ends_at_stop_iteration():
    # As `batch_getter`: a getter that raises `StopIteration` ends the
    # batches (it used to escape as "generator raised StopIteration").
    items = iter([1, 2, 3])
    assert list(batch_getter_ex(lambda: next(items), 2)) == [[1, 2], [3]]
    nothing = iter([])
    assert list(batch_getter_ex(lambda: next(nothing), 2)) == []


def test_batch_async():
    async def agen():
        for i in range(5):
            yield i
            await asyncio.sleep(0.2 if i == 2 else 0)

    it = batch_async(agen(), timedelta(seconds=0.05), 10)
    assert next(it) == [0, 1, 2]
    # Nothing arrives during the next timeout, but the pending item is
    # not lost.
    rest = list(it)
    assert [x for b in rest for x in b] == [3, 4]


def test_batch_async_batch_size():
    async def agen():
        for i in range(5):
            yield i

    assert list(batch_async(agen(), timedelta(seconds=1), 2)) == [[0, 1], [2, 3], [4]]


@pytest.mark.parametrize(
    ("parts", "says"),
    [
        ("singleton", "a `str`"),
        (None, "a `NoneType`"),
        (3, "a `int`"),
        ([1], "an item of type `int`"),
    ],
)
def test_list_parts_must_give_a_list_of_str(parts, says):
    # A `str` would otherwise be one partition per character, every item
    # read once per character.
    class Source(FixedPartitionedSource):
        def list_parts(self):
            return parts

        def build_part(self, now, for_part, resume_state):
            raise AssertionError("never built")

    flow = Dataflow("lp")
    op.output("out", op.input("inp", flow, Source()), TestingSink([]))
    with pytest.raises(TypeError) as info:
        run_main(flow)
    msg = str(info.value)
    assert "`FixedPartitionedSource.list_parts` in step 'lp.inp'" in msg, msg
    assert f"it returned {says}" in msg, msg


@pytest.mark.parametrize("kind", ["fixed", "dynamic"])
def test_an_error_in_the_first_next_awake_names_next_awake(kind):
    class Part(StatelessSourcePartition):
        def next_batch(self, sched):
            return []

        def next_awake(self):
            return "soon"

        def snapshot(self):
            return None

    class Fixed(FixedPartitionedSource):
        def list_parts(self):
            return ["a"]

        def build_part(self, now, for_part, resume_state):
            return Part()

    class Dynamic(DynamicSource):
        def build(self, now, worker_index, worker_count):
            return Part()

    flow = Dataflow("aw")
    src = Fixed() if kind == "fixed" else Dynamic()
    op.output("out", op.input("inp", flow, src), TestingSink([]))
    with pytest.raises(TypeError, match="got a `str`") as info:
        run_main(flow)
    notes = " ".join(getattr(info.value, "__notes__", []))
    assert "SourcePartition.next_awake` " in notes, notes
    assert "build" not in notes, notes
