"""`bytewax.testing`: the testing source and sink, and their helpers."""

from datetime import datetime, timedelta, timezone

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.inputs import AbortExecution, StatefulSourcePartition
from bytewax.testing import (
    TestingSink,
    TestingSource,
    ffwd_iter,
    poll_next_batch,
    run_main,
)

NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)
EOF = TestingSource.EOF
ABORT = TestingSource.ABORT


def drive(items, batch_size=1, resume=None, limit=20):
    """Call `next_batch` until it stops; list `(batch or event, snapshot)`."""
    part = TestingSource(items, batch_size).build_part(NOW, "iterable", resume)
    log = []
    for _ in range(limit):
        try:
            batch = part.next_batch(NOW)
        except StopIteration:
            log.append(("EOF", part.snapshot()))
            break
        except AbortExecution:
            log.append(("ABORT", part.snapshot()))
            break
        log.append((batch, part.snapshot()))
    return log


def test_batches_and_snapshots():
    assert TestingSource([1]).list_parts() == ["iterable"]
    assert drive([1, 2, 3, 4, 5], 2) == [([1, 2], 2), ([3, 4], 4), ([5], 5), ("EOF", 5)]
    assert drive([], 3) == [("EOF", 0)]


def test_resume_skips_consumed_items():
    assert drive([1, 2, 3, 4, 5], 2, resume=3) == [([4, 5], 5), ("EOF", 5)]


def test_eof_sentinel_ends_batch_and_counts():
    assert drive([1, 2, EOF(), 3, 4], 3) == [([1, 2], 3), ("EOF", 3)]
    # Resuming at the snapshot continues after the EOF.
    assert drive([1, 2, EOF(), 3, 4], 3, resume=3) == [([3, 4], 5), ("EOF", 5)]
    assert drive([EOF()], 3) == [([], 1), ("EOF", 1)]


def test_abort_fires_once_and_snapshots_dont_lag():
    abort = ABORT()
    items = [1, 2, abort, 3, 4]
    first = drive(items, 3)
    assert first[0][0] == [1, 2]
    assert first[-1][0] == "ABORT"
    assert abort._triggered
    # Already fired: skipped, and never counted, so a list without the
    # ABORT resumes at the same positions.
    assert drive(items, 3) == [([1, 2, 3], 3), ([4], 4), ("EOF", 4)]
    assert drive(items, 3, resume=2) == [([3, 4], 4), ("EOF", 4)]
    assert drive(items, 1, resume=2) == [([3], 3), ([4], 4), ("EOF", 4)]
    assert drive([1, 2, 3, 4], 1, resume=2) == [([3], 3), ([4], 4), ("EOF", 4)]
    # Resuming past an earlier ABORT does not count it either.
    assert drive(items, 1, resume=3) == [([4], 4), ("EOF", 4)]


def test_resume_goes_past_the_abort_that_stopped_the_last_run():
    # A new process: the ABORT objects have not fired here.
    assert drive([1, 2, ABORT(), 3], 2, resume=2) == [([3], 3), ("EOF", 3)]
    assert drive([1, 2, ABORT(), ABORT(), 3], 1, resume=2) == [([3], 3), ("EOF", 3)]
    assert drive([ABORT(), 1], 1, resume=0) == [([1], 1), ("EOF", 1)]
    # Only the one at the resume position: a later ABORT still fires,
    # and so does one at the start of a fresh run (its batch, empty here,
    # comes first).
    assert drive([1, 2, ABORT(), 3, ABORT(), 4], 1, resume=2) == [([3], 3), ([], 3), ("ABORT", 3)]
    assert drive([ABORT(), 1], 1) == [([], 0), ("ABORT", 0)]


def test_sentinel_classes_must_be_instantiated():
    with pytest.raises(ValueError, match=r"`TestingSource.EOF` must be instantiated; use `\(\)`"):
        drive([1, EOF, 2], 3)
    with pytest.raises(ValueError, match=r"`TestingSource.ABORT` must be instantiated"):
        drive([ABORT], 1)


def test_other_classes_are_plain_items():
    assert drive([int, str], 2) == [([int, str], 2), ("EOF", 2)]


def test_one_shot_iterators():
    assert drive(iter(range(3)), 2) == [([0, 1], 2), ([2], 3), ("EOF", 3)]


def test_ffwd_iter():
    it = iter(range(10))
    ffwd_iter(it, 3)
    assert next(it) == 3
    it = iter(range(2))
    ffwd_iter(it, 5)
    assert list(it) == []
    it = iter(range(2))
    ffwd_iter(it, 0)
    assert list(it) == [0, 1]


def test_poll_next_batch():
    part = TestingSource([1, 2], 5).build_part(NOW, "iterable", None)
    assert poll_next_batch(part) == [1, 2]

    class Never(StatefulSourcePartition):
        def next_batch(self, sched):
            return []

        def snapshot(self):
            return None

    with pytest.raises(TimeoutError):
        poll_next_batch(Never(), timeout=timedelta(milliseconds=20))


def test_testing_sink_appends():
    out = ["old"]
    part = TestingSink(out).build(0, 1)
    part.write_batch([1, 2])
    part.write_batch([3])
    assert out == ["old", 1, 2, 3]


def test_flow_stops_at_eof_sentinel():
    flow = Dataflow("test_df")
    s = op.input("inp", flow, TestingSource([1, 2, EOF(), 3]))
    out = []
    op.output("out", s, TestingSink(out))
    run_main(flow)
    assert out == [1, 2]


def test_flow_abort_ends_run_without_error():
    flow = Dataflow("test_df")
    s = op.input("inp", flow, TestingSource([1, 2, ABORT(), 3]))
    out = []
    op.output("out", s, TestingSink(out))
    run_main(flow, epoch_interval=timedelta(seconds=0))
    assert out == [1, 2]
    # The ABORT object has fired; a second run goes past it.
    out.clear()
    run_main(flow, epoch_interval=timedelta(seconds=0))
    assert out == [1, 2, 3]


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError):
        TestingSource([1], 0)
