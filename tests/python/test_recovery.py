"""Resuming flows from a recovery store."""

from datetime import timedelta

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.recovery import (
    InconsistentPartitionsError,
    MissingPartitionsError,
    NoPartitionsError,
    RecoveryConfig,
    init_db_dir,
)
from bytewax.testing import TestingSink, TestingSource, run_main

ZERO_TD = timedelta(seconds=0)


def test_exception_types():
    assert issubclass(InconsistentPartitionsError, ValueError)
    assert issubclass(MissingPartitionsError, FileNotFoundError)
    assert issubclass(NoPartitionsError, FileNotFoundError)


@pytest.fixture
def recovery_config(tmp_path):
    init_db_dir(tmp_path, 3)
    return RecoveryConfig(str(tmp_path))


def _running_sum_flow(inp, out):
    def add(total, x):
        total += x
        return total, total

    flow = Dataflow("test_df")
    s = op.input("inp", flow, TestingSource(inp))
    s = op.stateful_map("sum", s, lambda: 0, add)
    op.output("out", s, TestingSink(out))
    return flow


def test_continue_after_eof(recovery_config):
    inp = [("a", 1), ("b", 2), ("c", 3), TestingSource.EOF(), ("a", 5)]
    out = []
    flow = _running_sum_flow(inp, out)
    run_main(flow, epoch_interval=ZERO_TD, recovery_config=recovery_config)
    assert out == [("a", 1), ("b", 2), ("c", 3)]
    out.clear()
    run_main(flow, epoch_interval=ZERO_TD, recovery_config=recovery_config)
    assert out == [("a", 6)]
    out.clear()
    run_main(flow, epoch_interval=ZERO_TD, recovery_config=recovery_config)
    assert out == []


def test_resume_after_abort(recovery_config):
    inp = [("a", 1), ("a", 2), TestingSource.ABORT(), ("a", 3), ("a", 4)]
    out = []
    flow = _running_sum_flow(inp, out)
    run_main(flow, epoch_interval=ZERO_TD, recovery_config=recovery_config)
    assert out == [("a", 1), ("a", 3)]
    out.clear()
    run_main(flow, epoch_interval=ZERO_TD, recovery_config=recovery_config)
    # Items after the last completed epoch may be replayed; the state
    # they are applied to is the state of that epoch.
    assert out[-2:] == [("a", 6), ("a", 10)]


def test_fold_final_state_survives_eof(recovery_config):
    inp = [("a", 1), TestingSource.EOF(), ("a", 2)]
    out = []
    flow = Dataflow("test_df")
    s = op.input("inp", flow, TestingSource(inp))
    s = op.collect("coll", s, timeout=timedelta(hours=1), max_size=2)
    op.output("out", s, TestingSink(out))
    run_main(flow, epoch_interval=ZERO_TD, recovery_config=recovery_config)
    assert out == [("a", [1])]
    out.clear()
    run_main(flow, epoch_interval=ZERO_TD, recovery_config=recovery_config)
    assert out == [("a", [2])]


def test_join_state_survives_eof(recovery_config):
    left = [("k", "l"), TestingSource.EOF()]
    right = [TestingSource.EOF(), ("k", "r")]
    out = []
    flow = Dataflow("test_df")
    a = op.input("left", flow, TestingSource(left))
    b = op.input("right", flow, TestingSource(right))
    op.output("out", op.join("j", a, b), TestingSink(out))
    run_main(flow, epoch_interval=ZERO_TD, recovery_config=recovery_config)
    assert out == []
    run_main(flow, epoch_interval=ZERO_TD, recovery_config=recovery_config)
    assert out == [("k", ("l", "r"))]
